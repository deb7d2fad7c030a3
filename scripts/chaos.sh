#!/usr/bin/env bash
# chaos.sh — `make chaos` (all drills, the cost of HA) and the chaos step of `make test` (`--drills 1,5`).
# Process wiring only: installs the Debian packages, builds the binary (release with CHAOS_RELEASE=1), brings up
# stack.sh's `chaos` profile (Redis, the SMTP sink, the single node), runs chaos/run.py (topology, load, checker,
# report: chaos/README.md), and takes the profile down again whatever happened.
# Results: chaos/results/<run>/report.md, report.json, timeline.png.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"
PY=/usr/bin/python3 # Debian's interpreter: the apt packages below install their modules there
PKGS=(patroni etcd-server haproxy python3-psycopg2 python3-matplotlib python3-pytest wrk nftables iproute2)

missing=()
for pkg in "${PKGS[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if ((${#missing[@]})); then
  echo "chaos: apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -q update >&2
  DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >&2
fi

"$PY" -m pytest -q -p no:cacheprovider chaos/tests
# make test has just built target/debug/boxoffice (cargo test builds the binary for the integration tests, with the
# dev-dependencies' features): CHAOS_SKIP_BUILD=1 there, since `cargo build` would rebuild the crates those features
# touch.
# make chaos (CHAOS_RELEASE=1) measures the cost of HA: a release build, as production runs.
binary=target/debug/boxoffice
if [[ ${CHAOS_RELEASE:-0} == 1 ]]; then
  binary=target/release/boxoffice
  cargo build --release --bin boxoffice
elif [[ ${CHAOS_SKIP_BUILD:-0} != 1 ]]; then
  cargo build --bin boxoffice
fi
run="chaos/results/$(date -u +%Y%m%dT%H%M%SZ)"
trap 'scripts/stack.sh down chaos' EXIT
rm -rf var/chaos/mail
scripts/stack.sh up chaos
"$PY" chaos/run.py --out "$run" --binary "$binary" "$@"
