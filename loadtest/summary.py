#!/usr/bin/env python3
"""Summarises a loadtest/holds.sh run: medians of the rotated runs (a), (b), (c), their ratios, the stampedes, and
what the service's metrics say about them. Writes summary.json and summary.md into the run's directory.

Usage: summary.py <run dir> <rounds> <seconds per run> <wrk connections> <service pool = pgbench clients> <buyers>
"""
import json
import re
import statistics
import sys

out, rounds, duration, connections, pool, buyers = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]


def read(name):
    with open(f"{out}/{name}") as f:
        return f.read().strip()


def load(name):
    return read(name).split("load average:")[-1].strip()


api = [json.loads(read(f"a-api-{r}.json")) for r in range(1, rounds + 1)]
a = [x["rps"] for x in api]
b = [float(read(f"b-minimal-{r}.tps")) for r in range(1, rounds + 1)]
c = [float(read(f"c-service-{r}.tps")) for r in range(1, rounds + 1)]
a_db = [int(read(f"a-db-{r}.txt")) for r in range(1, rounds + 1)]
med = statistics.median
stampedes = []
for n in (1, 2, 3):
    s = json.loads(read(f"stampede-{n}.json"))
    claims, seats, bookings = map(int, read(f"stampede-{n}-db.txt").split())
    s["db"] = {"claims": claims, "distinctSeats": seats, "bookings": bookings}
    s["load"] = load(f"load-d-{n}.txt")
    stampedes.append(s)


def metric_sum(text, name, *labels):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(l in line for l in labels):
            total += float(line.rsplit(" ", 1)[1])
    return total


before, after = read("metrics-before-stampedes.txt"), read("metrics-after-stampedes.txt")
delta = lambda *k: metric_sum(after, *k) - metric_sum(before, *k)
stampede_metrics = {
    "holdsCommitted": delta("boxoffice_db_tx_duration_seconds_count", 'tx="hold"', 'outcome="committed"'),
    "holdsAbortedInDatabase": delta("boxoffice_db_tx_duration_seconds_count", 'tx="hold"', 'outcome="aborted"'),
    "conflictsAnswered": delta("boxoffice_bookings_total", 'outcome="conflict"'),
    "holdRetries": delta("boxoffice_db_tx_retries_total", 'tx="hold"'),
}
stampede_metrics["refusedByTheGate"] = stampede_metrics["conflictsAnswered"] - stampede_metrics["holdsAbortedInDatabase"]
summary = {
    "settings": {"rounds": rounds, "secondsPerRun": duration, "wrkConnections": connections,
                 "servicePoolAndPgbenchClients": pool, "buyers": buyers},
    "a_api_holds_per_s": a, "b_pgbench_minimal_tps": b, "c_pgbench_service_sql_tps": c,
    "medians": {"a": med(a), "b": med(b), "c": med(c)},
    "ratios": {"a_over_b": med(a) / med(b), "a_over_c": med(a) / med(c)},
    "api": api, "api_bookings_in_db": a_db, "stampedes": stampedes, "stampedeMetrics": stampede_metrics,
}
with open(f"{out}/summary.json", "w") as f:
    json.dump(summary, f, indent=2)

ok = lambda cond: "met" if cond else "NOT met"
rows = "\n".join(
    f"| {r} | {a[r - 1]:,.0f} | {b[r - 1]:,.0f} | {c[r - 1]:,.0f} | {load(f'load-a-{r}.txt')} / {load(f'load-b-{r}.txt')} / "
    f"{load(f'load-c-{r}.txt')} |" for r in range(1, rounds + 1))
statuses = [x["statuses"] for x in api]
lat = [x["latencyMs"] for x in api]
srows = "\n".join(
    f"| {n} | {s['sold']} ({s['distinctSeatsSold']} distinct; db {s['db']['claims']} claims, {s['db']['distinctSeats']} "
    f"seats, {s['db']['bookings']} bookings) | {s['requests']} | {s['statuses']} | {s['serverErrors']} | "
    f"{(s['soldOutAfterMs'] or 0):.0f} | {s['latencyMs']['p50']:.1f} / {s['latencyMs']['p99']:.1f} / "
    f"{s['latencyMs']['max']:.1f} | {s['load']} |" for n, s in enumerate(stampedes, 1))
p99s = [s["latencyMs"]["p99"] for s in stampedes]
sold_out = [s["soldOutAfterMs"] or 1e9 for s in stampedes]
exact = all(s["sold"] == s["seats"] == s["db"]["claims"] == s["db"]["distinctSeats"] == s["db"]["bookings"]
            for s in stampedes)
md = f"""# Holds load run

{rounds} rounds of (a), (b), (c), {duration} s each; {pool} database sessions on both sides (the service's write pool,
pgbench's clients), {connections} wrk connections; one durable PostgreSQL (fsync, synchronous_commit on) with a
baseline of ~96,000 paid bookings.

| round | (a) API holds/s | (b) pgbench minimal tx/s | (c) pgbench service SQL tx/s | load average (a / b / c) |
|---|---|---|---|---|
{rows}
| **median** | **{med(a):,.0f}** | **{med(b):,.0f}** | **{med(c):,.0f}** | |

- (a)/(b) = {med(a) / med(b):.0%} (goal >= 60%: {ok(med(a) / med(b) >= 0.6)})
- (a)/(c) = {med(a) / med(c):.0%} (goal >= 85%: {ok(med(a) / med(c) >= 0.85)})
- (a) statuses per round: {statuses}; latency p50/p99 per round (ms): {[(x['p50'], x['p99']) for x in lat]};
  bookings written per round: {a_db}

Stampedes ({buyers} buyers, one 200-seat showtime each, one seat per buyer):

| # | sold | requests | statuses | 5xx | sold out after (ms) | latency p50 / p99 / max (ms) | load average |
|---|---|---|---|---|---|---|---|
{srows}

- every seat sold exactly once: {ok(exact)}; no 5xx: {ok(all(s['serverErrors'] == 0 for s in stampedes))}
- sold out within 2 s: {ok(max(sold_out) <= 2000)} (worst {max(sold_out):.0f} ms)
- p99 <= 100 ms: {ok(max(p99s) <= 100)} (p99s {[round(p, 1) for p in p99s]} ms)
- in the service (three stampedes): {stampede_metrics}
"""
with open(f"{out}/summary.md", "w") as f:
    f.write(md)
print(md)
