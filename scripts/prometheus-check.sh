#!/usr/bin/env bash
# prometheus-check.sh — the service under a real Prometheus (Debian's `prometheus` package), as `make test` runs it:
#   1. a throwaway database on the test server (BOXOFFICE_TEST_DATABASE_URL), `boxoffice migrate` (no demo data: the
#      checks are about the metrics, and seeding would double the run time);
#   2. `boxoffice serve` and `boxoffice worker`, each with /metrics on its own port (BOXOFFICE_METRICS_ADDR);
#   3. Prometheus scraping both every second, with k8s/monitoring/boxoffice.rules.yml loaded (evaluated every second);
#   4. a short load (registrations, logins, reads, 401s and 404s) with curl;
#   5. PromQL through Prometheus's HTTP API: the key series exist, carry the right values, move under load, and the
#      recording rules produce results; `promtool check metrics` lints both expositions.
# Every server listens on 127.0.0.1, on ports below 32768; everything started here is stopped here.
#
# Without a prometheus binary and no way to install it: a loud SKIP, or a failure when CI is set.
set -euo pipefail

OPS_NAME=prometheus-check
# shellcheck source=scripts/ops-tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/ops-tools.sh"
ROOT="$OPS_ROOT"
started=$SECONDS

if ! (ensure_prometheus); then
  if [[ -n ${CI:-} ]]; then
    ops_die "prometheus is not installed and could not be installed (CI=$CI)"
  fi
  printf '\n%s\n%s\n%s\n\n' "########################################################################" \
    "prometheus-check: SKIPPED — no prometheus binary and apt-get could not install it" \
    "########################################################################" >&2
  exit 0
fi
: "${BOXOFFICE_TEST_DATABASE_URL:?set BOXOFFICE_TEST_DATABASE_URL (make test does)}"
: "${BOXOFFICE_TEST_REDIS_URL:?set BOXOFFICE_TEST_REDIS_URL (make test does)}"
command -v psql >/dev/null || ops_apt_install postgresql-client
command -v curl >/dev/null || ops_apt_install curl
command -v jq >/dev/null || ops_apt_install jq

target="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --quiet --bin boxoffice)
bin="$target/debug/boxoffice"

work="$(mktemp -d "${TMPDIR:-/tmp}/boxoffice-prometheus.XXXXXX")"
db="promcheck_$$_$RANDOM"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql -q "$BOXOFFICE_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if ((rc != 0)); then
    for log in "$work"/*.log; do
      printf '\n--- %s (last 30 lines)\n' "$(basename "$log")" >&2
      tail -n 30 "$log" >&2
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# A free loopback port in 20000–32767 (below the kernel's ephemeral range).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12768))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}
wait_http() {
  local url="$1" what="$2"
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  ops_die "$what did not answer at $url"
}

api_port="$(free_port)"
api_metrics_port="$(free_port)"
worker_metrics_port="$(free_port)"
prom_port="$(free_port)"

# --- 1. database ----------------------------------------------------------------------------------------------------
psql -q "$BOXOFFICE_TEST_DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
export BOXOFFICE_DATABASE_URL="${BOXOFFICE_TEST_DATABASE_URL%/*}/$db"
export BOXOFFICE_REDIS_URL="$BOXOFFICE_TEST_REDIS_URL"
export BOXOFFICE_REDIS_KEY_PREFIX="promcheck:$db:"
export BOXOFFICE_JWT_SECRET="prometheus-check-secret-prometheus-check-secret"
export BOXOFFICE_DB_POOL_SIZE=7 BOXOFFICE_READ_POOL_SIZE=3
export BOXOFFICE_LOG=warn BOXOFFICE_LOG_FORMAT=json
# The check drives load from one address: per-pod rate limits would answer 429 (they have their own tests).
export BOXOFFICE_RATE_LIMITS=off
"$bin" migrate >"$work/migrate.log" 2>&1
ops_log "database $db migrated ($((SECONDS - started))s)"

# --- 2. the service and the worker -------------------------------------------------------------------------------
BOXOFFICE_LISTEN_ADDR="127.0.0.1:$api_port" BOXOFFICE_METRICS_ADDR="127.0.0.1:$api_metrics_port" \
  "$bin" serve --routes all >"$work/serve.log" 2>&1 &
pids+=($!)
BOXOFFICE_METRICS_ADDR="127.0.0.1:$worker_metrics_port" "$bin" worker >"$work/worker.log" 2>&1 &
pids+=($!)
api="http://127.0.0.1:$api_port"
wait_http "$api/readyz" "boxoffice serve"
wait_http "http://127.0.0.1:$worker_metrics_port/healthz" "boxoffice worker"

# --- 3. Prometheus ---------------------------------------------------------------------------------------------------
sed 's/^\(\s*interval:\) 30s$/\1 1s/' "$ROOT/k8s/monitoring/boxoffice.rules.yml" >"$work/boxoffice.rules.yml"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $work/boxoffice.rules.yml
scrape_configs:
  - job_name: boxoffice-api
    static_configs:
      - targets: ["127.0.0.1:$api_metrics_port"]
  - job_name: boxoffice-worker
    static_configs:
      - targets: ["127.0.0.1:$worker_metrics_port"]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=($!)
prom="http://127.0.0.1:$prom_port"
wait_http "$prom/-/ready" "prometheus"

# --- 4. load -------------------------------------------------------------------------------------------------------
# Two accounts (argon2id hashing is slow in a debug build), then cheap requests from four parallel clients.
for user in 1 2; do
  email="load$user.$db@example.com"
  curl -fsS -o /dev/null -H 'content-type: application/json' \
    -d "{\"name\":\"Load $user\",\"email\":\"$email\",\"phoneNumber\":\"+1 212 555 0100\",\"password\":\"correct horse battery\"}" \
    "$api/users"
  token="$(curl -fsS -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"correct horse battery\"}" "$api/auth/token" | jq -r .accessToken)"
done
client_load() {
  local until=$((SECONDS + 8)) n=0
  while ((SECONDS < until)); do
    curl -fsS -o /dev/null -H "authorization: Bearer $token" "$api/users/me" \
      -o /dev/null "$api/healthz" -o /dev/null "$api/openapi.json"
    curl -s -o /dev/null "$api/users/me" -o /dev/null "$api/no/such/route" # 401, 404
    n=$((n + 5))
  done
  echo "$n"
}
loaders=()
for i in 1 2 3 4; do
  client_load >"$work/load.$i.count" &
  loaders+=($!)
done
wait "${loaders[@]}"
ops_log "load: $(awk '{ n += $1 } END { print n }' "$work"/load.*.count) requests from 4 clients in 8 s"
sleep 3 # three more scrapes and rule evaluations

# --- 5. PromQL -----------------------------------------------------------------------------------------------------
failures=0
# check <PromQL> <what it proves>: passes when the query returns at least one sample.
check() {
  local query="$1" what="$2" body count
  body="$(curl -fsS --get --data-urlencode "query=$query" "$prom/api/v1/query")"
  count="$(jq '.data.result | length' <<<"$body")"
  if [[ $(jq -r .status <<<"$body") == success && $count -gt 0 ]]; then
    printf '  ok    %s\n' "$what" >&2
  else
    printf '  FAIL  %s\n        %s\n        -> %s\n' "$what" "$query" "$(jq -c .data.result <<<"$body")" >&2
    failures=$((failures + 1))
  fi
}
ops_log "PromQL against $prom"
check 'sum(rate(http_server_request_duration_seconds_count{job="boxoffice-api"}[10s])) > 20' \
  "HTTP requests are counted, more than 20/s under the load"
check 'sum by (route) (increase(http_server_request_duration_seconds_count{route="/users/me",status="401"}[20s])) > 0' \
  "requests are labelled by route template and status"
check 'sum(increase(http_server_request_duration_seconds_count{route="unmatched",status="404"}[20s])) > 0' \
  "unknown paths share one label value (bounded cardinality)"
check 'histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket{job="boxoffice-api"}[10s]))) > 0' \
  "latency percentiles come out of the histogram buckets"
check 'sum(boxoffice_users_registered_total) >= 2 and sum(boxoffice_logins_total{outcome="ok"}) >= 2' \
  "business counters count what happened (registrations, logins)"
check 'boxoffice_build_info{job="boxoffice-api",version!="",git_sha!=""} == 1' "build info of the service"
check 'boxoffice_build_info{job="boxoffice-worker"} == 1' "build info of the worker"
check 'boxoffice_db_pool_connections{job="boxoffice-api",pool="write",state="max"} == 7 and on () boxoffice_db_pool_connections{job="boxoffice-api",pool="read",state="max"} == 3' \
  "database pool gauges report the configured sizes"
check 'count(boxoffice_db_pool_connections{job="boxoffice-api"}) == 8' "both pools, four states each"
check 'boxoffice_db_pool_connections{job="boxoffice-api",pool="write",state="size"} >= 1' "the write pool opened connections"
check 'count(boxoffice_redis_pool_connections{job="boxoffice-api"}) == 2' "Redis pool gauges"
check 'count(boxoffice_audit_double_bookings{job="boxoffice-worker"} == 0) == 2' "the worker's audit reports 0 double bookings"
check 'boxoffice_worker_runs_total{job="boxoffice-worker",task="audit_double_bookings",outcome="ok"} >= 1' \
  "worker runs keep their task label (no clash with Prometheus's job)"
check 'boxoffice:http_requests:rate5m > 0' "recording rules evaluate on the real series"
check 'count(boxoffice:db_pool:utilization{job="boxoffice-api"}) == 2' "pool utilization rule matches both pools"
check 'absent(ALERTS{alertname="BoxofficeDoubleBooking"})' "no double-booking alert"

for endpoint in "api:$api_metrics_port" "worker:$worker_metrics_port"; do
  name="${endpoint%%:*}"
  curl -fsS "http://127.0.0.1:${endpoint#*:}/metrics" >"$work/$name.prom"
  if lint="$(promtool check metrics <"$work/$name.prom" 2>&1)"; then
    printf '  ok    promtool check metrics: %s exposition\n' "$name" >&2
  else
    printf '  FAIL  promtool check metrics: %s exposition\n%s\n' "$name" "$lint" >&2
    failures=$((failures + 1))
  fi
done
if curl -fsS -o /dev/null "$api/metrics" 2>/dev/null; then
  printf '  FAIL  /metrics is still served on the public port\n' >&2
  failures=$((failures + 1))
else
  printf '  ok    /metrics is not on the public port\n' >&2
fi

((failures == 0)) || ops_die "$failures check(s) failed"
ops_log "all checks passed in $((SECONDS - started))s"
