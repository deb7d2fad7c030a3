#!/usr/bin/env bash
# loadtest/checkins.sh — door check-ins per second on one release `boxoffice serve` (issue #21), with the harness's
# conventions (loadtest/README.md): the `load` stack of scripts/stack.sh, a fresh database, wrk with a Lua script
# (loadtest/checkins.lua), p50/p99, and a baseline measured interleaved in the same run (`GET /loadtest/static`
# with a body of a check-in answer's size, through the same middleware).
#
# Tickets: SHOWTIMES upcoming showtimes get 70 paid two-seat bookings each (rows A-J, numbers 1-14), inserted like
# loadtest/baseline.sql does, and their tickets with the statement migration 0006 uses for bookings paid before it
# (the same rows the payment's transaction writes); the tokens are then read through the API like an offline
# scanner does (`GET /showtimes/{id}/tickets`, staff). Each round takes a slice of tickets nobody has scanned:
#   admit-<r>   scanner door1 checks each ticket of the slice in once: 200 admitted (a new admission each)
#   again-<r>   scanner door2 scans the tickets admit-<r> admitted: 409 ticket-already-admitted (the first
#               admission read back), over and over
#   static-<r>  the baseline, between them
# The statuses of every run are printed: a first pass that wrapped around its slice shows 200s of replays.
#
# Knobs: SCALE 4, SHOWTIMES 400, ROUNDS 2, SECONDS 5, POOL 16, CONNECTIONS 32, PORT 18080. The service binary is
# target/release/boxoffice (`cargo build --release --bin boxoffice`) unless BIN says otherwise. Takes
# /tmp/boxoffice-measure.lock for the whole run (MEASURE_LOCK_HELD=1: the caller holds it) and stops the load stack at the end (KEEP_STACK=1 keeps it).
set -euo pipefail

LT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$LT_ROOT"
# shellcheck source=loadtest/lib.sh
source loadtest/lib.sh

LT_SCALE="${SCALE:-4}"
SHOWTIMES="${SHOWTIMES:-400}"
ROUNDS="${ROUNDS:-2}"
SECS="${SECONDS_EACH:-5}"
LT_POOL="${POOL:-16}"
LT_CONNECTIONS="${CONNECTIONS:-32}"
LT_PORT="${PORT:-18080}"
LT_URL="http://127.0.0.1:$LT_PORT"
LT_BIN="${BIN:-$LT_ROOT/target/release/boxoffice}"
LT_RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)"
LT_OUT="$LT_ROOT/loadtest/results/checkins-$LT_RUN_ID"
mkdir -p "$LT_OUT"
[[ -x $LT_BIN ]] || lt_die "no release binary at $LT_BIN (cargo build --release --bin boxoffice)"

exec 8>&-
if [[ ${MEASURE_LOCK_HELD:-0} != 1 ]]; then # 1: the caller holds it (flock /tmp/boxoffice-measure.lock ...)
  exec 8>/tmp/boxoffice-measure.lock
  lt_log "waiting for /tmp/boxoffice-measure.lock"
  flock 8
fi

SERVER=""
cleanup() {
  [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  [[ ${KEEP_STACK:-0} == 1 ]] || "$LT_ROOT/scripts/stack.sh" down load 8>&- || true
}
trap cleanup EXIT

lt_stack 8>&-
lt_fresh_db

password="door-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
for door in door1 door2; do
  printf '%s\n' "$password" | "$LT_BIN" user create --staff --email "$door@example.com" --name "$door" >/dev/null
done

lt_log "paid bookings and tickets on $SHOWTIMES showtimes"
lt_psql -v showtimes="$SHOWTIMES" <<'SQL'
CREATE TEMP TABLE picked AS
  SELECT s.region, s.id AS showtime_id, row_number() OVER (ORDER BY s.start_time, s.id) AS n
  FROM showtimes s
  WHERE s.start_time > now() + INTERVAL '1 hour' AND s.status = 'scheduled'
    AND (SELECT count(*) FROM seats WHERE seats.region = s.region AND seats.theater_id = s.theater_id
           AND seats.screen_number = s.screen_number) >= 200
  ORDER BY s.start_time, s.id LIMIT :showtimes;
INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                      hold_expires_at, payment_ref)
SELECT p.region, md5('checkin-' || p.n || '-' || k)::uuid, (SELECT id FROM users WHERE email = 'door1@example.com'),
       p.showtime_id, 'paid',
       jsonb_build_array(
           jsonb_build_object('label', chr(65 + k / 7) || (2 * (k % 7) + 1), 'kind', 'standard', 'price', 1250),
           jsonb_build_object('label', chr(65 + k / 7) || (2 * (k % 7) + 2), 'kind', 'standard', 'price', 1250)),
       2, 2500, 'USD', NULL, 'ch_checkins'
FROM picked p CROSS JOIN generate_series(0, 69) k;
INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
SELECT p.region, p.showtime_id, chr(65 + k / 7) || (2 * (k % 7) + j), md5('checkin-' || p.n || '-' || k)::uuid, NULL
FROM picked p CROSS JOIN generate_series(0, 69) k CROSS JOIN generate_series(1, 2) j;
-- Migration 0006's statement for bookings paid before it.
INSERT INTO tickets (region, booking_id, seat_label, showtime_id)
SELECT b.region, b.id, seat.value ->> 'label', b.showtime_id
FROM bookings AS b, jsonb_array_elements(b.seats) AS seat
WHERE b.status = 'paid'
ON CONFLICT (region, booking_id, seat_label) DO NOTHING;
\copy (SELECT showtime_id FROM picked ORDER BY n) TO 'showtimes.tmp'
VACUUM ANALYZE;
SQL
mv showtimes.tmp "$LT_OUT/showtimes.txt"

lt_log "starting the service on :$LT_PORT (write pool $LT_POOL)"
"$LT_BIN" serve --routes all >>"$LT_OUT/service.log" 2>&1 8>&- &
SERVER=$!
for _ in $(seq 100); do
  curl -fsS "$LT_URL/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$LT_URL/readyz" >/dev/null || lt_die "the service is not ready: $(tail -n 5 "$LT_OUT/service.log")"

for door in door1 door2; do
  curl -fsS -H 'Content-Type: application/json' \
    -d "{\"email\":\"$door@example.com\",\"password\":\"$password\"}" "$LT_URL/auth/token" |
    jq -r .accessToken >"$LT_OUT/$door.token"
done

lt_log "reading the tickets (GET /showtimes/{id}/tickets)"
: >"$LT_OUT/tickets.txt"
while read -r showtime; do
  curl -fsS -H "Authorization: Bearer $(cat "$LT_OUT/door1.token")" "$LT_URL/showtimes/$showtime/tickets" |
    jq -r '.tickets[].token' >>"$LT_OUT/tickets.txt"
done <"$LT_OUT/showtimes.txt"
total="$(wc -l <"$LT_OUT/tickets.txt")"
per=$((total / (ROUNDS + 1)))
lt_log "$total tickets: $per a round (one slice for the warm-up)"
split -d -l "$per" "$LT_OUT/tickets.txt" "$LT_OUT/slice-"

SIZE="$(curl -fsS -H "Authorization: Bearer $(cat "$LT_OUT/door1.token")" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$(head -n 1 "$LT_OUT/slice-00")\"}" "$LT_URL/checkins" | wc -c)"
lt_log "a check-in answer is $SIZE bytes; the baseline: GET /loadtest/static?bytes=$SIZE"

run() { # <name> <threads> <script> [args...]
  local name="$1" threads="$2" script="$3"
  shift 3
  wrk -t"$threads" -c"$LT_CONNECTIONS" -d"${SECS}s" --latency -s "$script" "$LT_URL${PATH_Q:-}" -- "$@" \
    >"$LT_OUT/$name.wrk.txt"
  printf '%s load=%s %s\n' "$name" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(sed -n 's/^WRK_JSON //p' "$LT_OUT/$name.wrk.txt")" | tee -a "$LT_OUT/results.txt"
}

lt_log "warm-up"
SECS=2 run warmup-admit 2 loadtest/checkins.lua "$LT_OUT/door1.token" "$LT_OUT/slice-00" 2 >/dev/null
SECS=2 PATH_Q="/loadtest/static?bytes=$SIZE" run warmup-static 1 loadtest/report.lua >/dev/null

for r in $(seq 1 "$ROUNDS"); do
  slice="$LT_OUT/slice-$(printf '%02d' "$r")"
  PATH_Q="/loadtest/static?bytes=$SIZE" run "static-$r" 1 loadtest/report.lua
  run "admit-$r" 2 loadtest/checkins.lua "$LT_OUT/door1.token" "$slice" 2
  PATH_Q="/loadtest/static?bytes=$SIZE" run "static-$r-b" 1 loadtest/report.lua
  # Only the tickets the first pass admitted (the threads take them in turn: the first <200s> lines, less a margin
  # for the thread that was behind), so that every answer of the second scanner is a 409, however many times round.
  admitted="$(sed -n 's/^WRK_JSON //p' "$LT_OUT/admit-$r.wrk.txt" | jq '.statuses["200"] // 0')"
  head -n "$((admitted - 64))" "$slice" >"$slice.admitted"
  run "again-$r" 2 loadtest/checkins.lua "$LT_OUT/door2.token" "$slice.admitted" 2
done
curl -fsS "$LT_URL/metrics" | grep '^boxoffice_checkins_total' >"$LT_OUT/metrics.txt" || true
lt_log "done: $LT_OUT/results.txt"
