#!/usr/bin/env bash
# schemathesis.sh — property-based API tests: schemathesis (from PyPI) generates requests from the service's own
# /openapi.json and checks every response against it (no 5xx, documented statuses, content types, headers and
# schemas). Called by scripts/test.sh after `cargo test`; runs against the test stack.
#
# What it does: builds the debug binary; creates a throwaway database on the test PostgreSQL; migrates and seeds it
# with the demo data; starts `boxoffice serve` on a fixed loopback port (rate limits relaxed, so the generated
# traffic measures conformance rather than the limiters); registers a customer and logs in it and the configured
# admin; binds real identifiers (showtimes, seat labels, holds it makes first, sandbox tokens: real_identifiers) so
# that holds, payments and cancellations succeed; runs schemathesis twice (customer token over every operation,
# admin token over the admin-only ones); counts the holds, payments and cancellations the run made (none of one
# kind fails it); then stops the server and drops the database. Exits non-zero on any failure.
#
# Needs BOXOFFICE_TEST_DATABASE_URL and BOXOFFICE_TEST_REDIS_URL (eval "$(scripts/stack.sh env test)").
# Tunables: SCHEMATHESIS_PORT (the loopback port the service listens on, default 18090: fixed and below the kernel's
# ephemeral range, where a server can find its port taken by some client's outgoing connection; set another when
# two runs share a machine), SCHEMATHESIS_MAX_EXAMPLES (default 30 per operation and phase), SCHEMATHESIS_SEED
# (default fixed, so a CI failure reproduces), SCHEMATHESIS_TIMEOUT (seconds per run, default 600).
# The virtualenv is cached in ./var/schemathesis-<version>; reports go to ./var/schemathesis-report.
# scripts/schemathesis.toml holds what the OpenAPI document cannot say (cross-field rules), per operation.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT_DIR"

VERSION=4.32.5
PORT="${SCHEMATHESIS_PORT:-18090}"
VENV="$ROOT_DIR/var/schemathesis-$VERSION"
REPORT_DIR="$ROOT_DIR/var/schemathesis-report"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-30}"
SEED="${SCHEMATHESIS_SEED:-20261124}"
RUN_TIMEOUT="${SCHEMATHESIS_TIMEOUT:-600}"
ADMIN_EMAIL="schemathesis-admin@example.com"
ADMIN_PASSWORD="schemathesis admin password"

log() { printf 'schemathesis.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

: "${BOXOFFICE_TEST_DATABASE_URL:?run through make test, or eval \"\$(scripts/stack.sh env test)\" first}"
: "${BOXOFFICE_TEST_REDIS_URL:?run through make test, or eval \"\$(scripts/stack.sh env test)\" first}"

# Refuses a port that is malformed, in the kernel's ephemeral range, or already taken, before anything is built.
check_port() {
  [[ $PORT =~ ^[0-9]+$ ]] && ((PORT >= 1 && PORT <= 65535)) || die "SCHEMATHESIS_PORT=$PORT is not a port number"
  local low high
  if read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && ((PORT >= low && PORT <= high)); then
    die "SCHEMATHESIS_PORT=$PORT is in the kernel's ephemeral port range ($low-$high), where outgoing connections" \
      "can take it; choose a port below $low"
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT on 127.0.0.1 is taken (another schemathesis run?); set SCHEMATHESIS_PORT to a free port below 32768"
  fi
}

ensure_venv() {
  if [[ -x $VENV/bin/st ]] && [[ $("$VENV/bin/st" --version 2>/dev/null) == *"$VERSION"* ]]; then
    return
  fi
  log "installing schemathesis $VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
}

psql_bin() {
  if command -v psql >/dev/null; then
    command -v psql
    return
  fi
  compgen -G '/usr/lib/postgresql/*/bin/psql' | sort -V | tail -n 1
}

json_field() { "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

sql() { "$(psql_bin)" -X -q -At -v ON_ERROR_STOP=1 "$DB_URL" -c "$1"; }

# The first value of each line of `sql $1`, as a TOML array of strings.
toml_values() { sql "$1" | "$VENV/bin/python" -c 'import json, sys; print(json.dumps([l for l in sys.stdin.read().split()]))'; }

HOLDS_BEFORE=30

# Writes the run's configuration to $3: scripts/schemathesis.toml plus the dictionaries of real identifiers it binds
# (see there): 40 scheduled showtimes at least a day ahead, the seat labels all their screens have, and
# $HOLDS_BEFORE holds the customer (token $2) makes now on the service at $1, one seat each on distinct showtimes.
# Prints the number of bookings it made.
real_identifiers() {
  local base=$1 token=$2 out=$3
  local picked="SELECT theater_id, screen_number, id FROM showtimes WHERE status = 'scheduled'
    AND start_time > now() + interval '1 day' ORDER BY id LIMIT 40"
  local showtimes seats
  showtimes="$(toml_values "SELECT id FROM ($picked) s ORDER BY id")"
  seats="$(toml_values "WITH s AS ($picked) SELECT seat_label FROM seats JOIN s USING (theater_id, screen_number)
    GROUP BY seat_label HAVING count(*) = (SELECT count(*) FROM s) ORDER BY seat_label")"
  [[ $showtimes != "[]" && $seats != "[]" ]] || die "the demo data has no showtimes or common seats to bind"
  local ids=() i st label id
  mapfile -t st < <(sql "SELECT id FROM ($picked) s ORDER BY id")
  label="$(sql "WITH s AS ($picked) SELECT seat_label FROM seats JOIN s USING (theater_id, screen_number)
    GROUP BY seat_label HAVING count(*) = (SELECT count(*) FROM s) ORDER BY seat_label DESC LIMIT 1")"
  for ((i = 0; i < HOLDS_BEFORE; i++)); do
    id="$(curl -fsS -X POST "$base/bookings" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
      -d "{\"showtimeId\":\"${st[i % ${#st[@]}]}\",\"seatIds\":[\"$label\"]}" | json_field id)" ||
      die "could not make hold $i before the run"
    ids+=("\"$id\"")
  done
  {
    cat "$ROOT_DIR/scripts/schemathesis.toml"
    printf '\n# Appended by scripts/schemathesis.sh for this run.\n'
    printf '[dictionaries.showtimes]\nvalues = %s\n\n' "$showtimes"
    printf '[dictionaries.seats]\nvalues = %s\n\n' "$seats"
    printf '[dictionaries.bookings]\nvalues = [%s]\n\n' "$(IFS=,; echo "${ids[*]}")"
    printf '[dictionaries.tokens]\nvalues = ["tok_visa", "tok_chargeDeclined"]\n'
  } >"$out"
  echo "${#ids[@]}"
}

# Counts what the run booked (the database after it): holds made during the run (beyond the $1 made before it),
# successful payments, and cancellations. Fails when any is zero: the run did not reach real bookings.
booking_counts() {
  local before=$1 holds paid canceled
  holds=$(($(sql "SELECT count(*) FROM bookings") - before))
  paid="$(sql "SELECT count(*) FROM payments WHERE status IN ('succeeded', 'refunded')")"
  canceled="$(sql "SELECT count(*) FROM bookings WHERE status = 'canceled'")"
  log "bookings reached: $holds holds made during the run, $paid payments, $canceled cancellations" \
    "($before holds made before it; by status: $(sql "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status)
      FROM (SELECT status, count(*) AS n FROM bookings GROUP BY status) c"))"
  if ((holds == 0 || paid == 0 || canceled == 0)); then
    log "error: the run made no successful hold, payment or cancellation (see scripts/schemathesis.toml)"
    return 1
  fi
}

DB_NAME="st_$(date +%s)_$$"
DB_URL="${BOXOFFICE_TEST_DATABASE_URL%/*}/$DB_NAME"
SERVER_PID=""
LOG_FILE=""
DB_CREATED=""

cleanup() {
  local rc=$?
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n $DB_CREATED ]]; then
    "$(psql_bin)" -X -q "$BOXOFFICE_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 ||
      log "warning: could not drop database $DB_NAME"
  fi
  [[ -z $LOG_FILE ]] || rm -f "$LOG_FILE"
  rm -f "$ROOT_DIR/var/schemathesis-boxoffice"
  exit "$rc"
}
trap cleanup EXIT

main() {
  check_port
  ensure_venv
  log "building the debug binary"
  cargo build --quiet --bin boxoffice
  local built="${CARGO_TARGET_DIR:-$ROOT_DIR/target}/debug/boxoffice"
  [[ -x $built ]] || die "no binary at $built"
  # A private copy: with a target directory shared between checkouts, another build may replace the original.
  mkdir -p "$ROOT_DIR/var"
  local bin="$ROOT_DIR/var/schemathesis-boxoffice"
  cp "$built" "$bin"

  "$(psql_bin)" -X -q -v ON_ERROR_STOP=1 "$BOXOFFICE_TEST_DATABASE_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null
  DB_CREATED=1
  export BOXOFFICE_DATABASE_URL="$DB_URL" BOXOFFICE_DB_DIALECT=postgres BOXOFFICE_REDIS_URL="$BOXOFFICE_TEST_REDIS_URL"
  export BOXOFFICE_REDIS_KEY_PREFIX="schemathesis:$DB_NAME:" BOXOFFICE_LOG=warn BOXOFFICE_LOG_FORMAT=json
  export BOXOFFICE_LISTEN_ADDR=127.0.0.1:$PORT BOXOFFICE_RATE_LIMITS=relaxed
  export BOXOFFICE_JWT_SECRET="schemathesis-secret-$(date +%s%N)-0123456789"
  export BOXOFFICE_TICKET_KEYS="fuzz:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  export BOXOFFICE_ADMIN_EMAIL="$ADMIN_EMAIL" BOXOFFICE_ADMIN_PASSWORD="$ADMIN_PASSWORD"
  "$bin" migrate >/dev/null
  "$bin" seed --demo >/dev/null

  LOG_FILE="$(mktemp)"
  BOXOFFICE_LOG=info "$bin" serve --routes all >"$LOG_FILE" 2>&1 &
  SERVER_PID=$!
  local addr="" _
  for _ in $(seq 1 100); do
    addr="$(grep -m1 '"message":"serving"' "$LOG_FILE" | json_field addr 2>/dev/null || true)"
    [[ -z $addr ]] || break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      grep -qi 'address already in use' "$LOG_FILE" &&
        die "port $PORT on 127.0.0.1 was taken before the server bound it; set SCHEMATHESIS_PORT to a free port below 32768"
      die "the server exited: $(cat "$LOG_FILE")"
    fi
    sleep 0.1
  done
  [[ -n $addr ]] || die "the server did not start: $(cat "$LOG_FILE")"
  local base="http://$addr"
  log "serving on $base (database $DB_NAME)"

  local email="schemathesis-$$@example.com" password="schemathesis password"
  curl -fsS -o /dev/null -X POST "$base/users" -H 'content-type: application/json' \
    -d "{\"name\":\"Schemathesis\",\"email\":\"$email\",\"phoneNumber\":\"+12125550100\",\"password\":\"$password\"}"
  local customer admin
  customer="$(curl -fsS -X POST "$base/auth/token" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json_field accessToken)"
  admin="$(curl -fsS -X POST "$base/auth/token" -H 'content-type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | json_field accessToken)"

  rm -rf "$REPORT_DIR"
  mkdir -p "$REPORT_DIR"
  local config="$REPORT_DIR/schemathesis.toml" made
  made="$(real_identifiers "$base" "$customer" "$config")"

  local common=(
    "$base/openapi.json"
    --checks all
    --max-examples "$MAX_EXAMPLES"
    --seed "$SEED"
    --workers 2
    --request-timeout 15
    --suppress-health-check too_slow,filter_too_much
    --report junit
  )
  local failed=0 started=$SECONDS
  # schemathesis keeps a crash cache in its working directory: keep it under ./var, out of the tree.
  cd "$REPORT_DIR"
  log "run 1/2: a customer's token, every operation"
  timeout "$RUN_TIMEOUT" "$VENV/bin/st" --config-file "$config" run "${common[@]}" \
    -H "Authorization: Bearer $customer" \
    --report-junit-path "$REPORT_DIR/customer.xml" | tee "$REPORT_DIR/customer.txt" || failed=1
  log "run 2/2: an admin's token, the admin-only operations"
  timeout "$RUN_TIMEOUT" "$VENV/bin/st" --config-file "$config" run "${common[@]}" \
    -H "Authorization: Bearer $admin" \
    --include-tag 'catalog admin' --include-path '/users/{userId}' \
    --report-junit-path "$REPORT_DIR/admin.xml" | tee "$REPORT_DIR/admin.txt" || failed=1
  local run
  for run in customer admin; do
    log "summary ($run): $(grep -m1 -E '^  Selected:' "$REPORT_DIR/$run.txt" | xargs) operations;" \
      "$(grep -A1 -m1 '^Test cases:' "$REPORT_DIR/$run.txt" | tail -n 1 | xargs)"
  done
  log "both runs took $((SECONDS - started)) s"
  booking_counts "$made" || failed=1
  # Every error the server logs fails the run, but for the sandbox provider's timeout (`tok_timeout` never answers:
  # a 504 payment-timeout is logged as the provider's failure, and is the documented answer).
  local errors
  errors="$(grep '"level":"ERROR"' "$LOG_FILE" | grep -v '"status":504,.*payment provider did not answer' || true)"
  if [[ -n $errors ]]; then
    log "the server logged errors:"
    head -n 20 <<<"$errors" >&2
    failed=1
  fi
  ((failed == 0)) || die "schemathesis found failures (reports in $REPORT_DIR)"
  log "no failures"
}

main "$@"
