#!/usr/bin/env bash
# k8s-check.sh — the static operations checks of `make test`:
#   1. render every overlay of k8s/overlays/ with `kubectl kustomize` (into var/k8s/<region>.yaml);
#   2. validate the renders against the Kubernetes schemas (kubernetes-validate, strict) and check their internal
#      references and the house rules for pods (scripts/k8s_check.py says which);
#   3. `promtool check rules` and `promtool test rules` on k8s/monitoring/boxoffice.rules.yml, check that
#      prometheus-rule.yaml carries the same rules, and that every query of the Grafana dashboard parses and names
#      only metrics of the catalogue in src/metrics.rs.
# Installs what it needs (ops-tools.sh). No network at validation time: the schemas come with the PyPI package.
#
# Usage: scripts/k8s-check.sh                        run the checks
#        scripts/k8s-check.sh --write-rule-resource  regenerate k8s/monitoring/prometheus-rule.yaml from the rules
set -euo pipefail

OPS_NAME=k8s-check
# shellcheck source=scripts/ops-tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/ops-tools.sh"
ROOT="$OPS_ROOT"
MON="$ROOT/k8s/monitoring"

started=$SECONDS
python="$(ensure_validator)"

if [[ ${1:-} == --write-rule-resource ]]; then
  exec "$python" "$ROOT/scripts/k8s_check.py" --write-rule-resource \
    --rules "$MON/boxoffice.rules.yml" --rule-resource "$MON/prometheus-rule.yaml"
fi

ensure_kubectl
ensure_prometheus

out="$ROOT/var/k8s"
mkdir -p "$out"
renders=()
overlays=0
for dir in "$ROOT"/k8s/overlays/*/; do
  region="$(basename "$dir")"
  # Newer kustomize warns about the v2-era fields kept for kubectl 1.20 (Debian 12); the warnings are expected.
  if ! kubectl kustomize "$dir" >"$out/$region.yaml" 2>"$out/$region.err"; then
    cat "$out/$region.err" >&2
    ops_die "kubectl kustomize k8s/overlays/$region failed"
  fi
  grep -v "^# Warning: '\(bases\|patchesJson6902\|patchesStrategicMerge\)' is deprecated" "$out/$region.err" >&2 || true
  renders+=(--render "$region=$out/$region.yaml")
  overlays=$((overlays + 1))
done
((overlays)) || ops_die "no overlay under k8s/overlays/"
# The PostgreSQL-HA variant (a CloudNativePG Cluster, whose CRD the validator below does not know): it must render.
kubectl kustomize "$ROOT/k8s/postgres-ha" >"$out/postgres-ha.yaml" 2>"$out/postgres-ha.err" ||
  { cat "$out/postgres-ha.err" >&2; ops_die "kubectl kustomize k8s/postgres-ha failed"; }
ops_log "rendered $overlays overlays with $(kubectl version --client 2>/dev/null | sed -n 1p)"

"$python" "$ROOT/scripts/k8s_check.py" "${renders[@]}" \
  --example "$ROOT/k8s/base/secret.example.yaml" \
  --rules "$MON/boxoffice.rules.yml" --rule-resource "$MON/prometheus-rule.yaml" \
  --dashboard "$MON/dashboards/boxoffice.json" --catalogue "$ROOT/src/metrics.rs" \
  --promtool "$(command -v promtool)"

promtool check rules "$MON/boxoffice.rules.yml"
(cd "$MON" && promtool test rules boxoffice.rules.test.yml)

ops_log "all checks passed in $((SECONDS - started))s"
