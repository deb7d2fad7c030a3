#!/usr/bin/env bash
# browser-test.sh — the web client (web/app) end to end in real Chromium: Playwright (npm, web/package.json) drives
# Debian's `chromium` against the real service on the test stack. Called by scripts/test.sh after `cargo test`.
#
# What it does: installs Debian's chromium if missing (apt-get; never Playwright's own browser download, whose host is
# not reachable) and the npm packages of web/ (npm ci); builds the debug binary; creates a throwaway database on the
# test PostgreSQL, migrates it and loads the demo data; starts two `boxoffice serve --routes all` on loopback (the
# main one, and one whose holds last BROWSER_SHORT_HOLD_SECS for the expiry test), both with the sandbox payment
# provider and a short payment timeout (so `tok_timeout` is a pending payment within a second); runs the suite
# (web/e2e); stops the servers and drops the database. Exits non-zero on any failure.
#
# Needs BOXOFFICE_TEST_DATABASE_URL and BOXOFFICE_TEST_REDIS_URL (eval "$(scripts/stack.sh env test)").
# Tunables: BROWSER_PORT (the main server's loopback port, default 18100; the short-hold server takes the next
# one), BROWSER_SHORT_HOLD_SECS (default 6). Screenshots (375 px and 1280 px of every step), the figures
# (metrics.json) and Playwright's report go to ./var/web-e2e. Arguments are passed to `playwright test`
# (e.g. `scripts/browser-test.sh journey` runs web/e2e/journey.spec.mjs only).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

PORT="${BROWSER_PORT:-18100}"
SHORT_PORT=$((PORT + 1))
SHORT_HOLD="${BROWSER_SHORT_HOLD_SECS:-6}"
OUT_DIR="$ROOT_DIR/var/web-e2e"

log() { printf 'browser-test.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

: "${BOXOFFICE_TEST_DATABASE_URL:?run through make test, or eval \"\$(scripts/stack.sh env test)\" first}"
: "${BOXOFFICE_TEST_REDIS_URL:?run through make test, or eval \"\$(scripts/stack.sh env test)\" first}"

ensure_chromium() {
  command -v chromium >/dev/null && return 0
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  log "apt-get install chromium"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y \
    --no-install-recommends chromium fonts-dejavu-core >&2
  command -v chromium >/dev/null || die "chromium is still not on PATH"
}

ensure_node_modules() {
  command -v npm >/dev/null || die "npm not found (Debian: apt-get install nodejs npm)"
  if [[ ! -d web/node_modules/@playwright/test ]] || [[ web/package-lock.json -nt web/node_modules/.package-lock.json ]]; then
    log "npm ci (web/)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error) >&2
  fi
}

psql_bin() {
  if command -v psql >/dev/null; then
    command -v psql
    return
  fi
  compgen -G '/usr/lib/postgresql/*/bin/psql' | sort -V | tail -n 1
}

DB_NAME="web_$(date +%s)_$$"
DB_URL="${BOXOFFICE_TEST_DATABASE_URL%/*}/$DB_NAME"
PIDS=()
DB_CREATED=""

cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $DB_CREATED ]]; then
    "$(psql_bin)" -X -q "$BOXOFFICE_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 ||
      log "warning: could not drop database $DB_NAME"
  fi
  rm -f "$ROOT_DIR/var/web-e2e-boxoffice"
  exit "$rc"
}
trap cleanup EXIT

# Starts `serve` on 127.0.0.1:$1 with the extra environment "${@:2}"; waits until /healthz answers.
start_server() {
  local port="$1" log_file="$OUT_DIR/server-$1.log"
  shift
  env "$@" BOXOFFICE_LISTEN_ADDR="127.0.0.1:$port" "$BIN" serve --routes all >"$log_file" 2>&1 &
  PIDS+=($!)
  local pid=$! _
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || die "the server on port $port exited: $(tail -n 20 "$log_file")"
    sleep 0.1
  done
  die "the server on port $port did not answer /healthz: $(tail -n 20 "$log_file")"
}

main() {
  ensure_chromium
  ensure_node_modules
  log "building the debug binary"
  cargo build --quiet --bin boxoffice
  mkdir -p "$OUT_DIR"
  # A private copy: with a target directory shared between checkouts, another build may replace the original.
  BIN="$ROOT_DIR/var/web-e2e-boxoffice"
  cp "${CARGO_TARGET_DIR:-$ROOT_DIR/target}/debug/boxoffice" "$BIN"

  "$(psql_bin)" -X -q -v ON_ERROR_STOP=1 "$BOXOFFICE_TEST_DATABASE_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null
  DB_CREATED=1
  export BOXOFFICE_DATABASE_URL="$DB_URL" BOXOFFICE_DB_DIALECT=postgres BOXOFFICE_REDIS_URL="$BOXOFFICE_TEST_REDIS_URL"
  export BOXOFFICE_REDIS_KEY_PREFIX="web-e2e:$DB_NAME:" BOXOFFICE_LOG=warn BOXOFFICE_LOG_FORMAT=json
  export BOXOFFICE_RATE_LIMITS=relaxed BOXOFFICE_PAYMENT_PROVIDER=sandbox BOXOFFICE_PAYMENT_TIMEOUT_MS=1000
  export BOXOFFICE_JWT_SECRET="web-e2e-secret-$(date +%s%N)-0123456789abcdef"
  export BOXOFFICE_TICKET_KEYS="e2e:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  "$BIN" migrate >/dev/null
  "$BIN" seed --demo >/dev/null

  start_server "$PORT" BOXOFFICE_HOLD_TTL_SECS=600
  start_server "$SHORT_PORT" BOXOFFICE_HOLD_TTL_SECS="$SHORT_HOLD"
  log "serving on 127.0.0.1:$PORT and (holds of ${SHORT_HOLD}s) 127.0.0.1:$SHORT_PORT, database $DB_NAME"

  local started=$SECONDS rc=0
  # Arguments go to `playwright test` (a file name or `-g <title>` runs part of the suite).
  (cd web && BOXOFFICE_WEB_URL="http://127.0.0.1:$PORT" BOXOFFICE_WEB_SHORT_HOLD_URL="http://127.0.0.1:$SHORT_PORT" \
    BOXOFFICE_WEB_SHORT_HOLD_SECS="$SHORT_HOLD" BOXOFFICE_WEB_OUT="$OUT_DIR" npx playwright test "$@") || rc=$?
  log "the browser suite took $((SECONDS - started)) s; screenshots and figures in $OUT_DIR"
  [[ -f $OUT_DIR/metrics.json ]] && log "figures: $(cat "$OUT_DIR/metrics.json")"
  # An error in a server's log fails the run, but for the payment timeout the pending-payment test provokes.
  local errors
  errors="$(grep -h '"level":"ERROR"' "$OUT_DIR"/server-*.log | grep -v '"status":504,.*payment provider did not answer' || true)"
  if [[ -n $errors ]]; then
    log "a server logged errors:"
    head -n 20 <<<"$errors" >&2
    rc=1
  fi
  return "$rc"
}

main "$@"
