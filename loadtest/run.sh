#!/usr/bin/env bash
# loadtest/run.sh — the load harness (issue #7; loadtest/README.md says what each phase measures and how to read the
# report). `make loadtest` runs it in full, `make loadtest-quick` with `--quick`. One run, one server binary (release,
# this checkout's commit embedded and checked), one durable PostgreSQL and Redis (the `load` profile of
# scripts/stack.sh), a fresh database seeded with the demo data and `--scale N` synthetic theaters:
#
#   baselines    wrk on GET /loadtest/static (a JSON body of the seat map's size: the HTTP ceiling); pgbench of a
#                minimal seat hold and of the service's own hold SQL (the database ceiling)
#   wrk          warm 200-seat seat map, /theaters?city=, an uncached near= search, uncontended API holds; the reads
#                and holds rotate with the baselines for ROUNDS rounds, so background load falls on all alike
#   k6           browse, booking (hold + finalize), onsale (stampede with re-reads), mixed (30 reads a write), soak
#                (the mixed load at half the capacity mixed measured): journeys, thresholds, contention
#   stampede     the Rust on-sale stampede (examples/loadgen.rs): 1,000 buyers, 200 seats, STAMPEDES times, each after
#                its floor (the same buyers asking for a static body: the p99 no stampede can beat here)
#   invariants   loadtest/invariants.sql against every acknowledged booking: the run fails on a violation
#   drain        (issue 23) a sold-out night's backlog (loadtest/backlog.sql: DRAIN_HOLDS lapsed holds, DRAIN_MAILS
#                unsent confirmations), the SMTP sink's own ceiling (smtp-source against Postfix's smtp-sink), then
#                `boxoffice worker` drains it while wrk makes API holds: time to drain each, holds expired/s,
#                mails/s, and hold throughput during the drain against a holds run just before it
#   scaling      (full run) >= 10 M claims bulk-inserted (loadtest/bulk.sql), then holds and seat map again
#
# During every phase the server's RSS and CPU time are sampled from /proc. Results: loadtest/results/<UTC run id>/
# (report.md, report.json, every raw output; git-ignored), and loadtest/results/latest. The load stack is left
# running (`scripts/stack.sh down load`); the database is dropped at the end (KEEP_DB=1 keeps it).
#
# Knobs (environment; quick defaults in brackets): SCALE 100 [25] synthetic theaters; ROUNDS 3 [1]; READ_SECONDS 10
# [5] per wrk read run; HOLDS_SECONDS 15 [5] per holds/pgbench run; K6_DURATION 60s [15s]; SOAK_DURATION 300s [20s];
# K6_VUS 32; ONSALE_VUS 600 [300]; BUYERS 1000; STAMPEDES 3 [1]; BULK_ROWS 10000000 [0: no scaling phase]; POOL 16
# (service write pool = pgbench clients); CONNECTIONS 32 (wrk); PORT 18080 (the worker's /metrics on PORT + 1);
# SMTP_PORT 18025; DRAIN_HOLDS 340000 [50000]; DRAIN_MAILS 45000 [10000] (0 and 0: no drain phase); PROFILE=1 records
# a perf profile of the server during an extra seat-map and holds run; MIN_ACKS 20000 [2000]: fewer acknowledged
# bookings fail the run. `loadtest/run.sh --drain` runs the drain phase
# alone (after the database, users and work blocks it needs), with the quick run's sizes unless set.
set -euo pipefail

LT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$LT_ROOT"
# shellcheck source=loadtest/lib.sh
source loadtest/lib.sh

LT_QUICK=0
LT_DRAIN_ONLY=0
case "${1:-}" in
  --quick) LT_QUICK=1 ;;
  --drain) LT_QUICK=1 LT_DRAIN_ONLY=1 ;;
  "") ;;
  *) lt_die "usage: loadtest/run.sh [--quick | --drain]" ;;
esac
q() { if ((LT_QUICK)); then echo "$2"; else echo "$1"; fi; }
LT_SCALE="${SCALE:-$(q 100 25)}"
LT_ROUNDS="${ROUNDS:-$(q 3 1)}"
LT_READ_SECONDS="${READ_SECONDS:-$(q 10 5)}"
LT_HOLDS_SECONDS="${HOLDS_SECONDS:-$(q 15 5)}"
LT_K6_DURATION="${K6_DURATION:-$(q 60s 15s)}"
LT_SOAK_DURATION="${SOAK_DURATION:-$(q 300s 20s)}"
LT_K6_VUS="${K6_VUS:-32}"
LT_ONSALE_VUS="${ONSALE_VUS:-$(q 600 300)}"
LT_BUYERS="${BUYERS:-1000}"
LT_STAMPEDES="${STAMPEDES:-$(q 3 1)}"
LT_BULK_ROWS="${BULK_ROWS:-$(q 10000000 0)}"
LT_POOL="${POOL:-16}"
LT_CONNECTIONS="${CONNECTIONS:-32}"
LT_PORT="${PORT:-18080}"
LT_PROFILE="${PROFILE:-0}"
# Fewer acknowledged bookings than this and the invariant checks prove nothing: the run fails.
LT_MIN_ACKS="${MIN_ACKS:-$(q 20000 2000)}"
LT_SMTP_PORT="${SMTP_PORT:-18025}"
LT_DRAIN_HOLDS="${DRAIN_HOLDS:-$(q 340000 50000)}"
LT_DRAIN_MAILS="${DRAIN_MAILS:-$(q 45000 10000)}"
LT_URL="http://127.0.0.1:$LT_PORT"
# The bare axum server (examples/ceiling.rs) the reads are compared with (issue #18); PORT + 1 is the worker's.
LT_CEILING_URL="http://127.0.0.1:$((LT_PORT + 2))"
LT_CEILING_PID=""
LT_USERS=4000
LT_RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)"
LT_OUT="$LT_ROOT/loadtest/results/$LT_RUN_ID"
LT_STARTED=$SECONDS
mkdir -p "$LT_OUT/phases" "$LT_OUT/acks"
ln -sfn "$LT_RUN_ID" "$LT_ROOT/loadtest/results/latest"
# Prepared 200-seat showtimes (loadgen prepare --stampedes): 1-3 the Rust stampedes, 4 the k6 on-sale, 5 the warm
# seat map.
ONSALE_SHOWTIME=4
SEATMAP_SHOWTIME=5

# Bash reads a script as it runs it: the whole run is one function, read before it starts, so that editing this
# file during a run cannot break it.
main() {
  cleanup() {
    [[ -z $LT_CEILING_PID ]] || kill "$LT_CEILING_PID" 2>/dev/null || true
    lt_worker_stop
    lt_sink_stop
    lt_server_stop
    rm -rf "${LT_OUT:?}/bin"
    [[ ${KEEP_DB:-0} == 1 || -z ${LT_ADMIN_DB:-} ]] || lt_drop_db
  }
  trap cleanup EXIT

  lt_tools
  lt_stack
  lt_build
  lt_fresh_db

  # --- users, tokens, work blocks -----------------------------------------------------------------------------------
  "$LT_LOADGEN" prepare --users "$LT_USERS" --out "$LT_OUT" --stampedes 5 >"$LT_OUT/prepare.json"
  NBLOCKS="$(jq .blocks "$LT_OUT/prepare.json")"
  lt_log "$NBLOCKS work blocks of 70 two-seat holds"
  ((NBLOCKS >= 10000)) || lt_die "too few work blocks ($NBLOCKS): raise SCALE"
  # Block ranges: the measured holds (reset after each run) from 0; each k6 writer its own range, kept until the
  # invariant checks; the baseline's paid bookings on the last 1,000.
  K6_BOOKING_FIRST=$((NBLOCKS * 3 / 10))
  K6_MIXED_FIRST=$((NBLOCKS * 45 / 100))
  K6_SOAK_FIRST=$((NBLOCKS * 6 / 10))
  BASELINE_FIRST=$((NBLOCKS - 1000))
  lt_psql -c "CREATE TABLE load_reserved (showtime_id UUID PRIMARY KEY)"
  for f in "$LT_OUT"/stampede-*.txt; do
    lt_psql -c "INSERT INTO load_reserved VALUES ('$(head -n 1 "$f")')"
  done

  # A deployment that has been selling for a while: 70,000 paid bookings (two seats each, 70 a showtime) on the last
  # 1,000 blocks. On near-empty tables PostgreSQL's SERIALIZABLE predicate locks (page-granular) would put every
  # concurrent hold on the same one or two index pages, and the figures would measure that instead.
  lt_log "baseline: paid bookings on blocks $BASELINE_FIRST-$NBLOCKS"
  lt_psql -v first="$BASELINE_FIRST" -v users="$LT_USERS" -f loadtest/baseline.sql
  python3 loadtest/pgbench/service_hold.py "$LT_ROOT" "$LT_OUT/service_hold.sql"

  # --- the server and the seat-map target ---------------------------------------------------------------------------
  lt_server_start
  SEATMAP_ID="$(head -n 1 "$LT_OUT/stampede-$SEATMAP_SHOWTIME.txt")"
  SEATS="$(curl -fsS "$LT_URL/showtimes/$SEATMAP_ID/seats" | jq '.totals.seats')"
  [[ $SEATS == 200 ]] || lt_die "expected a 200-seat map, got $SEATS"
  SIZE="$(curl -fsS "$LT_URL/showtimes/$SEATMAP_ID/seats" | wc -c)"
  STATIC_SIZE="$(curl -fsS "$LT_URL/loadtest/static?bytes=$SIZE" | wc -c)"
  [[ $STATIC_SIZE == "$SIZE" ]] || lt_die "static body is $STATIC_SIZE bytes, not $SIZE"
  lt_log "seat map of showtime $SEATMAP_ID: 200 seats, $SIZE bytes"
  "$LT_OUT/bin/ceiling" "${LT_CEILING_URL#http://}" 2>>"$LT_OUT/ceiling.log" &
  LT_CEILING_PID=$!
  for _ in $(seq 50); do curl -fsS -o /dev/null "$LT_CEILING_URL/loadtest/static" 2>/dev/null && break; sleep 0.1; done
  CEILING_SIZE="$(curl -fsS "$LT_CEILING_URL/loadtest/static?bytes=$SIZE" | wc -c)"
  [[ $CEILING_SIZE == "$SIZE" ]] || lt_die "the bare axum body is $CEILING_SIZE bytes, not $SIZE"

  declare -A URL=(
    [ceiling]="$LT_CEILING_URL/loadtest/static?bytes=$SIZE"
    [static]="$LT_URL/loadtest/static?bytes=$SIZE"
    [seatmap]="$LT_URL/showtimes/$SEATMAP_ID/seats"
    [city]="$LT_URL/theaters?city=new%20york"
    [near]="$LT_URL/theaters"
  )
  declare -A SCRIPT=([ceiling]=loadtest/report.lua [static]=loadtest/report.lua [seatmap]=loadtest/report.lua [city]=loadtest/report.lua
    [near]=loadtest/near.lua)

  read_run() { # <target> <phase name> <seconds>
    LT_THREADS=1 lt_wrk "$2" "${3}s" "${SCRIPT[$1]}" "${URL[$1]}"
  }
  holds_run() { # <phase name> <seconds> <first block>
    LT_THREADS=2 lt_wrk "$1" "${2}s" loadtest/holds.lua "$LT_URL" "$LT_OUT" "$3" 2
    lt_psql -Atc "SELECT count(*) FROM bookings WHERE created_at > now() - INTERVAL '12 hours'" \
      >"$LT_OUT/phases/$1.db.txt"
    lt_reset_tables
  }

  lt_log "warm-up (5 s a target; the holds' rows are deleted)"
  for target in ceiling static seatmap city near; do read_run "$target" "warmup-$target" 5; done
  holds_run warmup-holds 5 0
  ((LT_DRAIN_ONLY)) || measure
  if ((LT_DRAIN_HOLDS + LT_DRAIN_MAILS > 0)); then drain; fi

  lt_server_stop
  LT_ELAPSED=$((SECONDS - LT_STARTED))
  python3 loadtest/report.py "$LT_OUT" --sha "$LT_SHA" --quick "$LT_QUICK" --elapsed "$LT_ELAPSED" --body-bytes "$SIZE" \
    --rounds "$LT_ROUNDS" --pool "$LT_POOL" --connections "$LT_CONNECTIONS" --buyers "$LT_BUYERS" \
    --bulk-rows "$(cat "$LT_OUT/bulk-rows.txt" 2>/dev/null || echo 0)"
  lt_log "report: $LT_OUT/report.md ($((LT_ELAPSED / 60)) min $((LT_ELAPSED % 60)) s)"
  if [[ -f $LT_OUT/invariants.txt ]] && awk -F'|' '$2 != 0 {bad = 1} END {exit !bad}' "$LT_OUT/invariants.txt"; then
    lt_die "invariant violated: $(awk -F'|' '$2 != 0' "$LT_OUT/invariants.txt")"
  fi
  if [[ -f $LT_OUT/acks.count ]] && (($(cat "$LT_OUT/acks.count") < LT_MIN_ACKS)); then
    lt_die "only $(cat "$LT_OUT/acks.count") acknowledged bookings (MIN_ACKS $LT_MIN_ACKS): the invariants prove little"
  fi
  [[ ! -s $LT_OUT/k6-failed.txt ]] || lt_die "k6 thresholds failed: $(tr '\n' ' ' <"$LT_OUT/k6-failed.txt")"
}

# The measured phases before the drain: baselines, wrk, k6, stampedes, invariants, scaling (main's variables).
measure() {
  # --- baselines and wrk measurements, interleaved ------------------------------------------------------------------
  for round in $(seq "$LT_ROUNDS"); do
    lt_log "round $round/$LT_ROUNDS: bare axum, static, seat map, city, near ($LT_READ_SECONDS s each)"
    for target in ceiling static seatmap city near; do read_run "$target" "$target-$round" "$LT_READ_SECONDS"; done
    lt_log "round $round/$LT_ROUNDS: (a) API holds, (b) pgbench minimal hold, (c) pgbench service SQL ($LT_HOLDS_SECONDS s each)"
    holds_run "holds-$round" "$LT_HOLDS_SECONDS" 0
    lt_pgbench "pgbench-minimal-$round" loadtest/pgbench/minimal_hold.sql 0
    lt_reset_tables
    lt_pgbench "pgbench-service-$round" "$LT_OUT/service_hold.sql" 0
    lt_reset_tables
  done

  if [[ $LT_PROFILE == 1 ]]; then
    command -v perf >/dev/null || ops_apt_install linux-perf
    for target in seatmap holds; do
      lt_log "profiling the server during a $target run"
      perf record -e cpu-clock -g -o "$LT_OUT/perf-$target.data" -p "$LT_SERVER_PID" -- sleep 10 >/dev/null 2>&1 &
      perf_pid=$!
      if [[ $target == seatmap ]]; then read_run seatmap profile-seatmap 12; else holds_run profile-holds 12 0; fi
      wait "$perf_pid" || true
      perf report -i "$LT_OUT/perf-$target.data" --stdio --no-children --sort dso,symbol -g none --percent-limit 1 \
        2>/dev/null | grep -E '^ +[0-9.]+%' | sed -E 's/ +- +- *$//' | awk '{$1=$1; print substr($0, 1, 150)}' |
        head -30 >"$LT_OUT/profile-$target.txt" || true
    done
  fi

  # --- k6 scenarios --------------------------------------------------------------------------------------------------
  lt_log "k6 browse ($LT_K6_VUS VUs, $LT_K6_DURATION)"
  lt_k6 k6-browse browse -e VUS="$LT_K6_VUS" -e DURATION="$LT_K6_DURATION" -e SCENARIO=browse
  lt_log "k6 booking ($LT_K6_VUS VUs, $LT_K6_DURATION)"
  lt_k6 k6-booking booking -e VUS="$LT_K6_VUS" -e DURATION="$LT_K6_DURATION" -e FIRST="$K6_BOOKING_FIRST" \
    -e SCENARIO=booking
  lt_log "k6 onsale ($LT_ONSALE_VUS buyers, one 200-seat showtime)"
  lt_k6 k6-onsale onsale -e VUS="$LT_ONSALE_VUS" -e SHOWTIME="$ONSALE_SHOWTIME" -e SCENARIO=onsale
  lt_log "k6 mixed ($LT_K6_VUS VUs, $LT_K6_DURATION)"
  lt_k6 k6-mixed mixed -e VUS="$LT_K6_VUS" -e DURATION="$LT_K6_DURATION" -e FIRST="$K6_MIXED_FIRST" -e SCENARIO=mixed
  SOAK_RATE="$(jq '[(.counters.iterations / .seconds / 2 * 10 | floor) / 10, 0.5] | max' \
    "$LT_OUT/phases/k6-mixed.result.json")"
  lt_log "k6 soak ($SOAK_RATE mixed iterations/s = half of mixed's, $LT_SOAK_DURATION)"
  lt_k6 k6-soak soak -e RATE="$SOAK_RATE" -e DURATION="$LT_SOAK_DURATION" -e FIRST="$K6_SOAK_FIRST" -e SCENARIO=soak

  # --- the Rust stampedes --------------------------------------------------------------------------------------------
  for n in $(seq "$LT_STAMPEDES"); do
    # The floor first, in the same minute: the same buyers asking for a static body (what 1,000 requests at once
    # cost this machine without authentication, JSON or the database).
    "$LT_LOADGEN" floor --url "$LT_URL" --buyers "$LT_BUYERS" --requests 2 >"$LT_OUT/phases/stampede-$n.floor.json"
    lt_log "stampede $n/$LT_STAMPEDES: $LT_BUYERS buyers, one 200-seat showtime"
    lt_phase_begin "stampede-$n"
    "$LT_LOADGEN" stampede --url "$LT_URL" --dir "$LT_OUT" --buyers "$LT_BUYERS" --showtime "$n" \
      --acks "$LT_OUT/acks/stampede-$n.txt" >"$LT_OUT/phases/stampede-$n.result.json"
    lt_phase_end "stampede-$n"
    showtime="$(head -n 1 "$LT_OUT/stampede-$n.txt")"
    lt_psql -Atc "SELECT json_build_object('claims', count(*), 'distinctSeats', count(DISTINCT seat_label),
                    'bookings', count(DISTINCT booking_id)) FROM booking_seats WHERE showtime_id = '$showtime'" \
      >"$LT_OUT/phases/stampede-$n.db.json"
  done

  # --- invariants ----------------------------------------------------------------------------------------------------
  lt_log "invariant checks ($(cat "$LT_OUT"/acks/*.txt | wc -l) acknowledged bookings)"
  lt_psql -c "DROP TABLE IF EXISTS load_acks" -c "CREATE TABLE load_acks (id UUID NOT NULL, seats TEXT NOT NULL)"
  cat "$LT_OUT"/acks/*.txt | lt_psql -c "\copy load_acks FROM STDIN WITH (FORMAT text, DELIMITER ' ')"
  lt_psql -At -F '|' -f loadtest/invariants.sql >"$LT_OUT/invariants.txt"
  lt_psql -Atc "SELECT count(*) FROM load_acks" >"$LT_OUT/acks.count"
  cat "$LT_OUT/invariants.txt" >&2

  # --- scaling: >= BULK_ROWS claims ----------------------------------------------------------------------------------
  if ((LT_BULK_ROWS > 0)); then
    # Whole showtimes that no run touches: those of theaters added now (a theater is ~90,000 seat-showtimes).
    extra=$((LT_BULK_ROWS / 80000 + 10))
    lt_log "scaling: seed --scale $((LT_SCALE + extra)), then $LT_BULK_ROWS claims (loadtest/bulk.sql)"
    lt_phase_begin bulk-load
    "$LT_BIN" seed --scale "$((LT_SCALE + extra))"
    lt_psql -v target="$LT_BULK_ROWS" -v users="$LT_USERS" -At -f loadtest/bulk.sql | tail -n 1 \
      >"$LT_OUT/bulk-rows.txt"
    lt_phase_end bulk-load
    lt_log "booking_seats now has $(cat "$LT_OUT/bulk-rows.txt") rows"
    lt_reset_tables
    read_run seatmap warmup-scaled-seatmap 5
    for round in $(seq "$LT_ROUNDS"); do
      lt_log "scaled round $round/$LT_ROUNDS: seat map, API holds"
      read_run seatmap "scaled-seatmap-$round" "$LT_READ_SECONDS"
      holds_run "scaled-holds-$round" "$LT_HOLDS_SECONDS" 0
    done
  fi
}

# The drain phase (issue 23): API holds just before, the backlog, the sink's ceiling, then the worker drains the
# backlog while wrk makes API holds for as long as the drain lasts (main's variables).
drain() {
  local stopwatch during=0 step=$((LT_HOLDS_SECONDS * 60))
  lt_reset_tables # the k6 writers' rows (checked already): every work block below the baseline's is free
  lt_log "drain: API holds before the backlog ($LT_HOLDS_SECONDS s)"
  holds_run drain-holds-before "$LT_HOLDS_SECONDS" 0
  lt_log "drain: backlog of $LT_DRAIN_HOLDS lapsed holds and $LT_DRAIN_MAILS unsent mails (loadtest/backlog.sql)"
  lt_psql -v holds="$LT_DRAIN_HOLDS" -v mails="$LT_DRAIN_MAILS" -v users="$LT_USERS" -At -f loadtest/backlog.sql |
    tail -n 1 >"$LT_OUT/phases/drain.backlog.json"
  lt_sink_start
  lt_log "drain: the sink's own ceiling (smtp-source, 20,000 mails over 16 sessions)"
  lt_sink_ceiling drain-sink-ceiling 20000 16
  lt_log "drain: boxoffice worker against the backlog, API holds meanwhile"
  lt_phase_begin drain
  "$LT_LOADGEN" drain --timeout-secs 900 >"$LT_OUT/phases/drain.result.json" &
  stopwatch=$!
  sleep 0.5 # the stopwatch's first poll, before the worker starts
  lt_worker_start
  # wrk runs without holds_run's reset (it would delete the outbox), each on work blocks of its own (room for
  # 4,200 holds/s), until the drain ends or the blocks run out; their rows go after the drain.
  while kill -0 "$stopwatch" 2>/dev/null && (((during + 1) * step <= BASELINE_FIRST)); do
    LT_THREADS=2 lt_wrk "drain-holds-during-$((during + 1))" "${LT_HOLDS_SECONDS}s" loadtest/holds.lua "$LT_URL" \
      "$LT_OUT" "$((during * step))" 2
    during=$((during + 1))
  done
  wait "$stopwatch"
  lt_phase_end drain
  lt_worker_stop
  lt_sink_stop
  lt_reset_tables
  lt_log "drain: $(jq -c 'del(.samples)' "$LT_OUT/phases/drain.result.json")"
}

main "$@"
