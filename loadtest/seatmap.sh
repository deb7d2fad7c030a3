#!/usr/bin/env bash
# loadtest/seatmap.sh — a reproducible wrk run of the read path, on one server, in one run:
#
#   1. GET /loadtest/static?bytes=N          the baseline: a JSON body of N bytes from memory, same middleware
#   2. GET /showtimes/{id}/seats              a warm 200-seat showtime (N = the size of its seat map)
#   3. GET /theaters?city=new%20york          city search
#   4. GET /theaters?near=<random>&radiusKm=25  proximity search at a new position per request (no cache hit:
#                                             the database path, for information)
#
# Goals: (2) >= 50% of (1)'s requests/s with p99 <= 10 ms; (3) >= 30% of (1).
#
# What it does: builds the release binary, starts make's dev stack (scripts/stack.sh up dev; a pre-set
# BOXOFFICE_DATABASE_URL / BOXOFFICE_REDIS_URL is used instead), recreates the database `boxoffice_loadtest` on that
# server, migrates it, loads the demo data, starts the server on 127.0.0.1:$PORT with the load-test route switched
# on, creates a theater with a 10 x 20 screen and a showtime through the admin API, warms up, runs wrk against each
# target, and writes loadtest/results/seatmap-<time>.md and .json (requests/s, p50/p90/p99, ratios). wrk is
# installed with apt-get when missing (k6 saturates this 2-core machine near 20k requests/s on its own).
#
# Settings (environment): ROUNDS (default 3) of DURATION (10s) per target, interleaved; WARMUP (5s); THREADS (wrk
# threads, 1); CONNECTIONS (32); PORT (18089); PROFILE=1 to record a `perf` profile of the server during an extra
# seat-map run (perf must exist).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-5s}"
THREADS="${THREADS:-1}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18089}"
PROFILE="${PROFILE:-0}"
DB_NAME=boxoffice_loadtest
ADMIN_EMAIL=loadtest-admin@example.com
ADMIN_PASSWORD=loadtest-admin-password
BASE="http://127.0.0.1:$PORT"

log() { printf 'loadtest: %s\n' "$*" >&2; }
die() {
  printf 'loadtest: error: %s\n' "$*" >&2
  exit 1
}

for tool in curl jq psql; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

WORK="$(mktemp -d /tmp/boxoffice-loadtest.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- stack and database ------------------------------------------------------------------------------------------
if [[ -z ${BOXOFFICE_DATABASE_URL:-} || -z ${BOXOFFICE_REDIS_URL:-} ]]; then
  scripts/stack.sh up dev
  eval "$(scripts/stack.sh env dev)"
fi
SERVER_URL="${BOXOFFICE_DATABASE_URL%/*}"
ADMIN_DB_URL="$SERVER_URL/postgres"
DB_URL="$SERVER_URL/$DB_NAME"
log "database $DB_URL, redis $BOXOFFICE_REDIS_URL"
psql "$ADMIN_DB_URL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME"

# --- build -------------------------------------------------------------------------------------------------------
log "building the release binary"
cargo build --release --bin boxoffice
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# A private copy: a shared target directory may be rebuilt by someone else while the run lasts.
cp "$TARGET_DIR/release/boxoffice" "$WORK/boxoffice"

export BOXOFFICE_DATABASE_URL="$DB_URL"
export BOXOFFICE_READ_DATABASE_URL="$DB_URL"
export BOXOFFICE_REDIS_KEY_PREFIX="loadtest:$(date +%s):"
export BOXOFFICE_LISTEN_ADDR="127.0.0.1:$PORT"
export BOXOFFICE_LOADTEST_ROUTES=true
export BOXOFFICE_LOG=warn
export BOXOFFICE_ADMIN_EMAIL="$ADMIN_EMAIL" BOXOFFICE_ADMIN_PASSWORD="$ADMIN_PASSWORD"
export BOXOFFICE_JWT_SECRET="loadtest-secret-loadtest-secret-0001"

"$WORK/boxoffice" migrate
"$WORK/boxoffice" seed --demo

# --- server ------------------------------------------------------------------------------------------------------
"$WORK/boxoffice" serve --routes all >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server exited"; }
  sleep 0.1
done
curl -fsS "$BASE/readyz" >/dev/null || die "the server did not become ready"

# --- a 200-seat showtime, through the admin API ------------------------------------------------------------------
TOKEN="$(curl -fsS -X POST "$BASE/auth/token" -H 'content-type: application/json' \
  -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | jq -r .accessToken)"
CITY_ID="$(curl -fsS "$BASE/theaters?city=new%20york&limit=1" | jq -r '.items[0].cityId')"
THEATER_BODY="$(jq -n --arg city "$CITY_ID" '{
  cityId: $city, name: "Load Test Cinema", address: "1 Broadway", zip: "10004", lat: 40.7056, lon: -74.0134,
  screens: [{ number: 1, name: "Two Hundred", seats: [
    range(0; 10) as $r | range(1; 21) as $n
    | ([$r + 65] | implode) as $row
    | { label: "\($row)\($n)", row: $row, number: $n, x: (if $n > 10 then $n else $n - 1 end), y: $r,
        kind: (if $r >= 8 then "premium" elif $r == 1 and ($n == 1 or $n == 20) then "accessible"
               elif $r == 1 and ($n == 2 or $n == 19) then "companion" else "standard" end) } ] }] }')"
THEATER_ID="$(curl -fsS -X POST "$BASE/theaters" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "$THEATER_BODY" | jq -r .id)"
MOVIE_ID="$(curl -fsS "$BASE/movies?q=matrix" | jq -r '.items[0].id')"
START="$(date -u -d 'tomorrow 18:00' +%Y-%m-%dT%H:%M:%SZ)"
SHOWTIME_ID="$(curl -fsS -X POST "$BASE/showtimes" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"theaterId\":\"$THEATER_ID\",\"screenNumber\":1,\"movieId\":\"$MOVIE_ID\",\"startTime\":\"$START\",
       \"prices\":{\"standard\":1700,\"premium\":2300,\"accessible\":1700,\"companion\":1700}}" | jq -r .id)"
SEATS="$(curl -fsS "$BASE/showtimes/$SHOWTIME_ID/seats" | jq '.totals.seats')"
[[ $SEATS == 200 ]] || die "expected a 200-seat map, got $SEATS"
SIZE="$(curl -fsS "$BASE/showtimes/$SHOWTIME_ID/seats" | wc -c)"
log "showtime $SHOWTIME_ID: 200 seats, $SIZE bytes"
STATIC_SIZE="$(curl -fsS "$BASE/loadtest/static?bytes=$SIZE" | wc -c)"
[[ $STATIC_SIZE == "$SIZE" ]] || die "static body is $STATIC_SIZE bytes, not $SIZE"

# --- runs --------------------------------------------------------------------------------------------------------
declare -A URL=(
  [static]="$BASE/loadtest/static?bytes=$SIZE"
  [seatmap]="$BASE/showtimes/$SHOWTIME_ID/seats"
  [city]="$BASE/theaters?city=new%20york"
  [near]="$BASE/theaters"
)
declare -A SCRIPT=([static]=loadtest/report.lua [seatmap]=loadtest/report.lua [city]=loadtest/report.lua [near]=loadtest/near.lua)
ORDER=(static seatmap city near)

run() { # name duration -> the WRK_JSON object
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$2" --latency -s "${SCRIPT[$1]}" "${URL[$1]}" >"$WORK/$1.out"
  grep '^WRK_JSON ' "$WORK/$1.out" | sed 's/^WRK_JSON //'
}

for name in "${ORDER[@]}"; do
  log "warm-up $name ($WARMUP)"
  run "$name" "$WARMUP" >/dev/null
done
# Rounds interleave the targets, so that a change in the machine's load (it is shared) affects them alike; each
# round's ratios compare runs made seconds apart, and the summary takes the median round.
: >"$WORK/rounds.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${ORDER[@]}"; do
    log "round $round/$ROUNDS: $name ($DURATION, $THREADS thread(s), $CONNECTIONS connections)"
    result="$(run "$name" "$DURATION")"
    [[ $(jq '.errors.status + .errors.connect + .errors.read + .errors.timeout' <<<"$result") == 0 ]] \
      || log "warning: $name had errors: $(jq -c .errors <<<"$result")"
    jq -c --arg name "$name" --argjson round "$round" '. + {target: $name, round: $round}' <<<"$result" \
      >>"$WORK/rounds.jsonl"
  done
done

PROFILE_TOP=""
if [[ $PROFILE == 1 ]]; then
  command -v perf >/dev/null || die "PROFILE=1 needs perf"
  log "profiling the seat map"
  perf record -e cpu-clock -g -o "$WORK/perf.data" -p "$SERVER_PID" -- sleep 10 >/dev/null 2>&1 &
  PERF_PID=$!
  run seatmap 12s >/dev/null
  wait "$PERF_PID" || true
  PROFILE_TOP="$(perf report -i "$WORK/perf.data" --stdio --no-children --sort dso,symbol -g none --percent-limit 1 \
    2>/dev/null | grep -E '^ +[0-9.]+%' | sed -E 's/ +- +- *$//' | awk '{$1=$1; print substr($0, 1, 150)}' | head -30)"
fi

# --- summary -----------------------------------------------------------------------------------------------------
STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="loadtest/results/seatmap-$STAMP"
jq -s \
  --arg when "$STAMP" --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg cpus "$(nproc)" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
  --arg duration "$DURATION" --argjson rounds "$ROUNDS" --argjson threads "$THREADS" \
  --argjson connections "$CONNECTIONS" --argjson size "$SIZE" --arg showtime "$SHOWTIME_ID" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r1: . * 10 | round / 10;
  def r3: . * 1000 | round / 1000;
  . as $runs
  | ($runs | map(select(.target == "static")) | map({key: (.round | tostring), value: .rps}) | from_entries) as $base
  | def summary($t): ($runs | map(select(.target == $t))) as $r
      | {rps: ($r | map(.rps) | median | r1), p50_ms: ($r | map(.p50_ms) | median | r3),
         p99_ms: ($r | map(.p99_ms) | median | r3),
         percent_of_static: ($r | map(.rps / $base[.round | tostring] * 100) | median | r1)};
  {when: $when, commit: $commit, machine: {cpus: ($cpus | tonumber), cpu: $cpu},
   wrk: {duration_per_round: $duration, rounds: $rounds, threads: $threads, connections: $connections},
   body_bytes: $size, showtime: $showtime,
   median: {static: summary("static"), seatmap: summary("seatmap"), city: summary("city"),
            near_uncached: summary("near")},
   runs: $runs}
  | . + {goals: {seatmap_ge_50_percent: (.median.seatmap.percent_of_static >= 50),
                 seatmap_p99_le_10_ms: (.median.seatmap.p99_ms <= 10),
                 city_ge_30_percent: (.median.city.percent_of_static >= 30)}}' \
  "$WORK/rounds.jsonl" >"$OUT.json"

row() { # label target
  jq -r --arg what "$1" --arg t "$2" \
    '.median[$t] | "| \($what) | \(.rps | floor) | \(.p50_ms) | \(.p99_ms) | \(.percent_of_static)% |"' "$OUT.json"
}
{
  echo "# Seat-map load run $STAMP"
  echo
  echo "Commit $(jq -r .commit "$OUT.json"), $(nproc) CPUs ($(jq -r .machine.cpu "$OUT.json")), shared with other work."
  echo "wrk: $THREADS thread(s), $CONNECTIONS connections; $ROUNDS rounds of $DURATION per target, interleaved, after"
  echo "a $WARMUP warm-up; server, Redis and wrk on the same machine. Medians over the rounds; the ratio is the median"
  echo "of each round's requests/s over that round's static requests/s."
  echo "Seat map: a warm 200-seat showtime, $SIZE bytes; the static route returns a JSON body of the same size."
  echo
  echo "| target | requests/s | p50 ms | p99 ms | of static |"
  echo "|---|---|---|---|---|"
  row "GET /loadtest/static?bytes=$SIZE" static
  row "GET /showtimes/{id}/seats (200 seats, warm)" seatmap
  row "GET /theaters?city=new%20york" city
  row "GET /theaters?near=<random>&radiusKm=25 (uncached)" near_uncached
  echo
  echo "Goals: seat map >= 50% of static: $(jq .goals.seatmap_ge_50_percent "$OUT.json"); seat map p99 <= 10 ms:" \
    "$(jq .goals.seatmap_p99_le_10_ms "$OUT.json"); city search >= 30% of static: $(jq .goals.city_ge_30_percent "$OUT.json")."
  if [[ -n $PROFILE_TOP ]]; then
    echo
    echo "Profile of the server during a seat-map run (perf, cpu-clock, self time by object and symbol, above 1%):"
    echo
    echo '```text'
    echo "$PROFILE_TOP"
    echo '```'
  fi
} >"$OUT.md"
cat "$OUT.md"
log "wrote $OUT.md and $OUT.json"
