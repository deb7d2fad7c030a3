#!/usr/bin/env bash
# holds.sh — the booking load run (loadtest/README.md, "Holds"). On one durable PostgreSQL (the `load` profile of
# scripts/stack.sh: fsync and synchronous_commit on), freshly migrated and seeded with the scale data:
#
#   (a) uncontended two-seat holds through the API (release build), driven by wrk + holds.lua
#   (b) pgbench: a minimal seat hold (insert the booking, claim two seats) — pgbench/minimal_hold.sql
#   (c) pgbench: the service's own hold SQL (generated from sql/queries/booking/) — pgbench/service_hold.py
#   (d) the on-sale stampede: 1,000 concurrent buyers for a 200-seat showtime (examples/loadgen.rs), three times
#
# The database gets a baseline of ~96,000 paid bookings (192,000 claims) on showtimes the runs do not touch, as a
# deployment that has been selling for a while has: on near-empty tables PostgreSQL's SERIALIZABLE predicate locks
# (page-granular) put every concurrent hold on the same one or two index pages and the figures would measure that
# instead. Each run's rows are deleted (then VACUUM ANALYZE, CHECKPOINT) before the next, so each starts from the
# same state. Results (raw outputs and
# summary.md/summary.json) go to loadtest/results/holds-<UTC time>/. The load stack is left running (stop it with
# `scripts/stack.sh down load`); the service this script starts is stopped on exit.
#
# Database sessions are the same on both sides: pgbench runs as many clients as the service's write pool has
# connections (HOLDS_POOL); wrk keeps twice as many HTTP requests in flight so that the pool is never idle.
#
# Knobs (environment): HOLDS_DURATION (s per run, 20), HOLDS_ROUNDS (rotations of a, b, c, 3), HOLDS_POOL (service
# write pool and pgbench clients, 16), HOLDS_CONNECTIONS (wrk connections, 32), HOLDS_SCALE (synthetic theaters, 25),
# HOLDS_PORT (service port, 18080), HOLDS_BUYERS (stampede buyers, 1000; three stampedes on three showtimes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${HOLDS_DURATION:-20}"
POOL="${HOLDS_POOL:-16}"
CONNECTIONS="${HOLDS_CONNECTIONS:-32}"
SCALE="${HOLDS_SCALE:-25}"
PORT="${HOLDS_PORT:-18080}"
BUYERS="${HOLDS_BUYERS:-1000}"
ROUNDS="${HOLDS_ROUNDS:-3}"
THREADS=2
OUT="$ROOT/loadtest/results/holds-$(date -u +%Y%m%dT%H%M%SZ)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
mkdir -p "$OUT"

log() { printf 'holds: %s\n' "$*" >&2; }
die() {
  printf 'holds: error: %s\n' "$*" >&2
  exit 1
}
for tool in wrk pgbench psql python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is required (apt-get install -y wrk postgresql-client python3 curl)"
done

scripts/stack.sh up load
eval "$(scripts/stack.sh env load)"
DB="$BOXOFFICE_LOAD_DATABASE_URL"
ADMIN_DB="${DB%/*}/postgres"
DBNAME="${DB##*/}"

export BOXOFFICE_DATABASE_URL="$DB" BOXOFFICE_REDIS_URL="$BOXOFFICE_LOAD_REDIS_URL" BOXOFFICE_REDIS_KEY_PREFIX="load:"
export BOXOFFICE_DB_DIALECT=postgres BOXOFFICE_DB_POOL_SIZE="$POOL" BOXOFFICE_LOG=warn BOXOFFICE_LOG_FORMAT=json
export BOXOFFICE_LISTEN_ADDR="127.0.0.1:$PORT" BOXOFFICE_TOKEN_TTL_SECS=86400
export BOXOFFICE_JWT_SECRET="load-run-secret-load-run-secret-0123456789"

log "building (release)"
cargo build --release --bin boxoffice --example loadgen
BIN="$TARGET/release/boxoffice"
LOADGEN="$TARGET/release/examples/loadgen"

log "fresh database $DBNAME: migrate, seed --scale $SCALE"
psql -q "$ADMIN_DB" -c "DROP DATABASE IF EXISTS \"$DBNAME\" WITH (FORCE)" -c "CREATE DATABASE \"$DBNAME\""
"$BIN" migrate
"$BIN" seed --scale "$SCALE"
psql -q "$DB" -c "VACUUM ANALYZE"
"$LOADGEN" prepare --users 4000 --out "$OUT" >"$OUT/prepare.json"
cat "$OUT/prepare.json" >&2

log "baseline: paid bookings on blocks 9000-9999"
psql -q "$DB" <<'SQL'
INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                      hold_expires_at, payment_ref, created_at, updated_at)
SELECT b.region, md5('baseline-' || b.n || '-' || p)::uuid, u.id, b.showtime_id, 'paid',
       jsonb_build_array(jsonb_build_object('label', b.seats[2 * p + 1], 'kind', 'standard', 'price', 1250),
                         jsonb_build_object('label', b.seats[2 * p + 2], 'kind', 'standard', 'price', 1250)),
       2, 2500, 'USD', NULL, 'ch_baseline', now() - INTERVAL '1 day', now() - INTERVAL '1 day'
FROM load_blocks b CROSS JOIN generate_series(0, 95) p JOIN load_users u ON u.n = (b.n * 96 + p) % 4000
WHERE b.n >= 9000 AND b.n < 10000;
INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
SELECT b.region, b.showtime_id, b.seats[2 * p + k], md5('baseline-' || b.n || '-' || p)::uuid, NULL
FROM load_blocks b CROSS JOIN generate_series(0, 95) p CROSS JOIN generate_series(1, 2) k
WHERE b.n >= 9000 AND b.n < 10000;
VACUUM ANALYZE;
SQL

reset_tables() {
  psql -q "$DB" -c "DELETE FROM booking_seats WHERE booking_id IN
                      (SELECT id FROM bookings WHERE created_at > now() - INTERVAL '12 hours')" \
    -c "DELETE FROM payments" -c "DELETE FROM bookings WHERE created_at > now() - INTERVAL '12 hours'" \
    -c "DELETE FROM idempotency_keys" -c "DELETE FROM outbox" -c "VACUUM ANALYZE bookings" \
    -c "VACUUM ANALYZE booking_seats" -c "CHECKPOINT"
}

SERVICE_PID=""
stop_service() {
  if [[ -n $SERVICE_PID ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
    kill "$SERVICE_PID"
    wait "$SERVICE_PID" 2>/dev/null || true
  fi
  SERVICE_PID=""
}
trap stop_service EXIT

log "starting the service on :$PORT (write pool $POOL)"
"$BIN" serve --routes booking >"$OUT/service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVICE_PID" 2>/dev/null || die "the service exited: $(tail -n 5 "$OUT/service.log")"
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || die "the service is not ready"

wrk_run() { # <name> <seconds> <first block>
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${2}s" --latency -s loadtest/holds.lua "http://127.0.0.1:$PORT" \
    -- "$OUT" "$3" "$THREADS" >"$OUT/$1.txt"
  grep '^RESULT ' "$OUT/$1.txt" | sed 's/^RESULT //'
}

# pgbench sessions get the service's write-pool session setting (src/db/mod.rs, NO_SEQUENTIAL_SCANS), so that the
# same statements are planned the same way.
pgbench_run() { # <name> <script> <first block>
  PGOPTIONS="-c enable_seqscan=off" pgbench -n -M prepared -c "$POOL" -j "$THREADS" -T "$DURATION" --max-tries=10 \
    -D clients="$POOL" -D first="$3" -D run="$1-$RANDOM$RANDOM" -D i=0 -f "$2" "$DB" >"$OUT/$1.txt" 2>&1 ||
    die "pgbench $1 failed: $(tail -n 5 "$OUT/$1.txt")"
  sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$OUT/$1.txt"
}

log "warm-up (5 s on blocks 8000+, then its rows are deleted)"
wrk_run warmup 5 8000 >/dev/null
reset_tables

# The three runs rotate, ROUNDS times, so that background load on a shared machine falls on all of them alike; the
# summary reports the median of each and every sample, with the load average around it.
for round in $(seq "$ROUNDS"); do
  first=$(((round - 1) * 700))
  log "round $round/$ROUNDS: (a) API holds (wrk, $CONNECTIONS connections, ${DURATION}s)"
  echo "$(uptime)" >"$OUT/load-a-$round.txt"
  wrk_run "a-api-$round" "$DURATION" "$first" >"$OUT/a-api-$round.json"
  psql -Atq "$DB" -c "SELECT count(*) FROM bookings WHERE created_at > now() - INTERVAL '12 hours'" >"$OUT/a-db-$round.txt"
  reset_tables
  log "round $round/$ROUNDS: (b) pgbench minimal hold"
  echo "$(uptime)" >"$OUT/load-b-$round.txt"
  pgbench_run "b-minimal-$round" loadtest/pgbench/minimal_hold.sql "$((3000 + first))" >"$OUT/b-minimal-$round.tps"
  reset_tables
  log "round $round/$ROUNDS: (c) pgbench of the service's hold SQL"
  python3 loadtest/pgbench/service_hold.py "$ROOT" "$OUT/service_hold.sql"
  echo "$(uptime)" >"$OUT/load-c-$round.txt"
  pgbench_run "c-service-$round" "$OUT/service_hold.sql" "$((6000 + first))" >"$OUT/c-service-$round.tps"
  reset_tables
done

curl -fsS "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics-before-stampedes.txt"
for n in 1 2 3; do
  log "(d) stampede $n/3: $BUYERS buyers, one 200-seat showtime"
  echo "$(uptime)" >"$OUT/load-d-$n.txt"
  "$LOADGEN" stampede --url "http://127.0.0.1:$PORT" --dir "$OUT" --buyers "$BUYERS" --showtime "$n" >"$OUT/stampede-$n.json"
  showtime="$(head -n 1 "$OUT/stampede-$n.txt")"
  psql -Atq "$DB" -F ' ' -c "SELECT count(*), count(DISTINCT seat_label), count(DISTINCT booking_id)
    FROM booking_seats WHERE showtime_id = '$showtime'" >"$OUT/stampede-$n-db.txt"
done
curl -fsS "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics-after-stampedes.txt"
stop_service

python3 loadtest/summary.py "$OUT" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$POOL" "$BUYERS"
log "results in $OUT"
