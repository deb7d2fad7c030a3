#!/usr/bin/env python3
"""Writes report.md and report.json for a loadtest/run.sh run from the files in its directory (loadtest/README.md
says how to read them).

phases/<name>.json         the phase's bookkeeping (lib.sh lt_phase_end): load average, server CPU and RSS, retries
phases/<name>.result.json  the phase's figures: wrk (report.lua / holds.lua), pgbench, k6 (k6/lib.js summary) or
                           loadgen stampede
invariants.txt             loadtest/invariants.sql's rows
phases/drain.*             the drain phase (issue 23): drain.result.json (loadgen drain), drain.backlog.json,
                           drain-sink-ceiling.result.json (smtp-source), drain-holds-{before,during-<n>} (wrk)

Ratios compare runs of the same round (seconds apart) and take the median over the rounds; absolute figures are
context only: the machine is shared.
"""
import argparse
import glob
import json
import os
import platform
import re
import statistics
import subprocess

import chart

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--sha", required=True)
parser.add_argument("--quick", type=int, default=0)
parser.add_argument("--elapsed", type=int, default=0)
parser.add_argument("--body-bytes", type=int, default=0)
parser.add_argument("--rounds", type=int, default=1)
parser.add_argument("--pool", type=int, default=16)
parser.add_argument("--connections", type=int, default=32)
parser.add_argument("--buyers", type=int, default=1000)
parser.add_argument("--bulk-rows", type=int, default=0)
args = parser.parse_args()
OUT = args.out
R = range(1, args.rounds + 1)


def load(path):
    with open(path) as f:
        return json.load(f)


phases = {}
for meta_path in sorted(glob.glob(f"{OUT}/phases/*.json")):
    name = os.path.basename(meta_path)[: -len(".json")]
    if "." in name:
        continue
    meta = load(meta_path)
    result_path = f"{OUT}/phases/{name}.result.json"
    meta["result"] = load(result_path) if os.path.exists(result_path) else {}
    for extra in ("db", "floor"):
        extra_path = f"{OUT}/phases/{name}.{extra}.json"
        if os.path.exists(extra_path):
            meta[extra] = load(extra_path)
    requests = meta["result"].get("requests") or 0
    if meta.get("server") and requests and meta["result"].get("tool") != "pgbench":
        meta["serverCpuSecondsPer1000Requests"] = meta["serverCpuSeconds"] / requests * 1000
    phases[name] = meta


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def rps(name):
    return phases[name]["result"]["rps"] if name in phases else None


def ratio_median(target, baseline, rounds_prefix=""):
    """Median over the rounds of target's req/s over the baseline's req/s in the same round."""
    ratios = []
    for r in R:
        t, b = rps(f"{rounds_prefix}{target}-{r}"), rps(f"{baseline}-{r}")
        if t is not None and b:
            ratios.append(t / b)
    return med(ratios)


def series(prefix):
    return [phases[f"{prefix}-{r}"] for r in R if f"{prefix}-{r}" in phases]


def median_of(prefix, key):
    return med([p["result"].get(key) for p in series(prefix)])


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, (int,)) or (isinstance(v, float) and v >= 1000):
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def pct(v):
    return "–" if v is None else f"{v * 100:.0f}%"


def verdict(ok):
    return "–" if ok is None else ("met" if ok else "**NOT met**")


# --- goals -------------------------------------------------------------------------------------------------------
seatmap_ratio = ratio_median("seatmap", "static")
# Issue #18: against a bare axum server (examples/ceiling.rs) answering the same bytes, in the same rounds.
static_over_bare = ratio_median("static", "ceiling")
seatmap_over_bare = ratio_median("seatmap", "ceiling")
city_ratio = ratio_median("city", "static")
holds_over_minimal = ratio_median("holds", "pgbench-minimal")
holds_over_service = ratio_median("holds", "pgbench-service")
seatmap_p99 = median_of("seatmap", "p99_ms")

stampedes = [phases[n] for n in sorted(phases) if re.fullmatch(r"stampede-\d+", n)]
exactly_once = None
if stampedes:
    exactly_once = all(
        s["result"]["sold"] == s["result"]["seats"] == s["result"]["distinctSeatsSold"] == s["db"]["claims"]
        == s["db"]["distinctSeats"] == s["db"]["bookings"] for s in stampedes)
stampede_5xx = sum(s["result"]["serverErrors"] for s in stampedes) if stampedes else None
sold_out = max((s["result"]["soldOutAfterMs"] or 1e9) for s in stampedes) if stampedes else None
stampede_p99 = max(s["result"]["latencyMs"]["p99"] for s in stampedes) if stampedes else None
floor_p99 = max((s["floor"]["latencyMs"]["p99"] for s in stampedes if "floor" in s), default=None)

server_phases = [p for p in phases.values() if p.get("server")]
peak_rss_mb = max((p["peakRssKb"] for p in server_phases), default=0) / 1024
hwm_mb = max((p["hwmKb"] for p in server_phases), default=0) / 1024

scaled_holds = median_of("scaled-holds", "rps")
empty_holds = median_of("holds", "rps")
scaled_seatmap = median_of("scaled-seatmap", "rps")
empty_seatmap = median_of("seatmap", "rps")
scaled_seatmap_p99 = median_of("scaled-seatmap", "p99_ms")
scaling = None
if scaled_holds is not None and empty_holds:
    scaling = {
        "bookingSeatsRows": args.bulk_rows,
        "holdsEmpty": empty_holds, "holdsScaled": scaled_holds, "holdsRatio": scaled_holds / empty_holds,
        "seatmapEmpty": empty_seatmap, "seatmapScaled": scaled_seatmap,
        "seatmapRatio": scaled_seatmap / empty_seatmap if empty_seatmap and scaled_seatmap else None,
        "seatmapP99Empty": seatmap_p99, "seatmapP99Scaled": scaled_seatmap_p99,
    }

invariants = []
if os.path.exists(f"{OUT}/invariants.txt"):
    with open(f"{OUT}/invariants.txt") as f:
        for line in f:
            if line.strip():
                name, count, what = line.rstrip("\n").split("|", 2)
                invariants.append({"check": name, "violations": int(count), "meaning": what})
acks = int(open(f"{OUT}/acks.count").read().strip()) if os.path.exists(f"{OUT}/acks.count") else 0
invariants_ok = all(i["violations"] == 0 for i in invariants) if invariants else None

k6 = {n[3:]: phases[n] for n in phases if n.startswith("k6-")}


def drain_figures():
    """The drain phase's figures, or None when it did not run."""
    if "drain" not in phases or not phases["drain"]["result"]:
        return None
    d = dict(phases["drain"]["result"])
    d.pop("samples", None)
    ceiling_path = f"{OUT}/phases/drain-sink-ceiling.result.json"
    d["sinkCeiling"] = load(ceiling_path)["mailsPerSecond"] if os.path.exists(ceiling_path) else None
    during = [phases[n]["result"] for n in phases if n.startswith("drain-holds-during-")]
    before = phases.get("drain-holds-before", {}).get("result", {})
    d["holdsBefore"] = before.get("rps")
    seconds = sum(r.get("requests", 0) / r["rps"] for r in during if r.get("rps"))
    d["holdsDuring"] = sum(r.get("requests", 0) for r in during) / seconds if seconds else None
    d["holdsDuringSeconds"] = seconds
    d["holdsRatio"] = d["holdsDuring"] / d["holdsBefore"] if d["holdsDuring"] and d["holdsBefore"] else None
    d["mailTarget"] = min(300, d["sinkCeiling"]) if d["sinkCeiling"] else 300
    return d


drain = drain_figures()

goals = [
    ("static route >= 80% of bare axum's requests/s (issue #18)", pct(static_over_bare),
     None if static_over_bare is None else static_over_bare >= 0.8),
    ("seat map >= 50% of bare axum's requests/s, same body size (issue #18)", pct(seatmap_over_bare),
     None if seatmap_over_bare is None else seatmap_over_bare >= 0.5),
    ("seat map p99 <= 5 ms (wrk, issue #18)", f"{fmt(seatmap_p99, 2)} ms", None if seatmap_p99 is None else seatmap_p99 <= 5),
    ("seat map >= 50% of the static route's requests/s", pct(seatmap_ratio),
     None if seatmap_ratio is None else seatmap_ratio >= 0.5),
    ("seat map p99 <= 10 ms (wrk)", f"{fmt(seatmap_p99, 2)} ms", None if seatmap_p99 is None else seatmap_p99 <= 10),
    ("/theaters?city= >= 30% of static", pct(city_ratio), None if city_ratio is None else city_ratio >= 0.3),
    ("API holds >= 60% of pgbench minimal hold", pct(holds_over_minimal),
     None if holds_over_minimal is None else holds_over_minimal >= 0.6),
    ("API holds >= 85% of pgbench service SQL", pct(holds_over_service),
     None if holds_over_service is None else holds_over_service >= 0.85),
    (f"on-sale ({args.buyers} buyers, 200 seats, {len(stampedes)} runs): every seat sold exactly once",
     "yes" if exactly_once else "no", exactly_once),
    ("on-sale: no 5xx", f"{stampede_5xx}", None if stampede_5xx is None else stampede_5xx == 0),
    ("on-sale: sold out within 2 s (worst run)", f"{fmt(sold_out, 0)} ms", None if sold_out is None else sold_out <= 2000),
    ("on-sale: p99 <= 100 ms (worst run)",
     f"{fmt(stampede_p99, 1)} ms (floor: {fmt(floor_p99, 1)} ms, the same buyers on a static route)",
     None if stampede_p99 is None else stampede_p99 <= 100),
    ("server RSS <= 100 MB under load (peak of the 200 ms samples; VmHWM)", f"{peak_rss_mb:.1f} MB ({hwm_mb:.1f} MB)",
     peak_rss_mb <= 100 and hwm_mb <= 100),
    (f"hold throughput with {args.bulk_rows:,} booking_seats rows within 10% of empty" if scaling else
     "hold throughput with >= 10 M booking_seats rows within 10% of empty",
     pct(scaling["holdsRatio"]) if scaling else "not run (quick)",
     None if not scaling else scaling["holdsRatio"] >= 0.9),
    ("seat-map throughput with the bulk rows within 10% of empty",
     pct(scaling["seatmapRatio"]) if scaling and scaling["seatmapRatio"] else "not run (quick)",
     None if not scaling or not scaling["seatmapRatio"] else scaling["seatmapRatio"] >= 0.9),
    (f"invariants ({acks:,} acknowledged bookings)", "0 violations" if invariants_ok else "violations",
     invariants_ok),
] + ([] if not drain else [
    (f"sweeper: >= 5,000 lapsed holds expired/s ({drain['lapsedHolds']:,} holds)",
     f"{fmt(drain['holdsPerSecond'], 0)}/s ({fmt(drain['holdsSeconds'], 1)} s)",
     None if drain["holdsPerSecond"] is None else drain["holdsPerSecond"] >= 5000),
    (f"mails: >= 300/s or the sink's ceiling ({drain['unsentMails']:,} mails; sink {fmt(drain['sinkCeiling'], 0)}/s)",
     f"{fmt(drain['mailsPerSecond'], 0)}/s ({fmt(drain['mailsSeconds'], 1)} s)",
     None if drain["mailsPerSecond"] is None else drain["mailsPerSecond"] >= drain["mailTarget"]),
]) + [(f"k6 {name}: thresholds", "ok" if p["result"].get("thresholdsOk") else "failed: " + ", ".join(
    k for k, ok in p["result"].get("thresholds", {}).items() if not ok), p["result"].get("thresholdsOk"))
     for name, p in k6.items()]


# The goals with a number and a threshold, for the chart (loadtest/chart.py) and report.json.
figures = [
    {"label": "static route / bare axum", "value": static_over_bare, "goal": 0.8, "unit": "%", "better": "higher"},
    {"label": "warm seat map / bare axum", "value": seatmap_over_bare, "goal": 0.5, "unit": "%", "better": "higher"},
    {"label": "warm seat map / static route", "value": seatmap_ratio, "goal": 0.5, "unit": "%", "better": "higher"},
    {"label": "/theaters?city= / static route", "value": city_ratio, "goal": 0.3, "unit": "%", "better": "higher"},
    {"label": "API holds / pgbench minimal hold", "value": holds_over_minimal, "goal": 0.6, "unit": "%",
     "better": "higher"},
    {"label": "API holds / pgbench of the service SQL", "value": holds_over_service, "goal": 0.85, "unit": "%",
     "better": "higher"},
    {"label": "holds with the bulk rows / empty", "value": scaling["holdsRatio"] if scaling else None, "goal": 0.9,
     "unit": "%", "better": "higher"},
    {"label": "seat map with the bulk rows / empty", "value": scaling["seatmapRatio"] if scaling else None,
     "goal": 0.9, "unit": "%", "better": "higher"},
    {"label": "seat map p99 (wrk)", "value": seatmap_p99, "goal": 10, "unit": "ms", "better": "lower"},
    {"label": "on-sale sold out (worst run)", "value": sold_out, "goal": 2000, "unit": "ms", "better": "lower"},
    {"label": "on-sale p99 (worst run)", "value": stampede_p99, "goal": 100, "unit": "ms", "better": "lower"},
    {"label": "server peak RSS", "value": peak_rss_mb or None, "goal": 100, "unit": "MB", "better": "lower"},
]


# --- tables ------------------------------------------------------------------------------------------------------
def errors_of(result):
    tool = result.get("tool")
    if tool == "wrk":
        e = result.get("errors", {})
        parts = [f"{k} {v}" for k, v in sorted(result.get("statuses", {}).items())]
        if not parts and e.get("status"):
            parts.append(f"non-2xx/3xx {e['status']}")
        socket = sum(e.get(k, 0) for k in ("connect", "read", "write", "timeout"))
        if socket:
            parts.append(f"socket {socket}")
        return ", ".join(parts) or "none"
    if tool == "pgbench":
        return f"failed tx {result.get('failed', 0)}"
    if tool == "k6":
        c = result.get("counters", {})
        return ", ".join(f"{label} {c.get(key, 0):.0f}" for label, key in (
            ("2xx", "status_2xx"), ("304", "status_304"), ("409", "conflicts_409"), ("429", "rate_limited_429"),
            ("other 4xx", "status_4xx_other"), ("5xx", "server_errors_5xx"), ("transport", "transport_errors"))
                         if c.get(key) or label in ("2xx", "5xx"))
    return ""


def retries_of(p):
    """A phase's transaction retries, with the transactions that retried most (older runs lack the breakdown)."""
    by_tx = sorted(p.get("txRetriesByTx", {}).items(), key=lambda kv: -kv[1])
    detail = "; ".join(f"{tx} {n:,.0f}" for tx, n in by_tx[:3])
    return f"{p['txRetries']:,.0f}" + (f" ({detail})" if detail else "")


def load_of(p):
    return p["loadBefore"].split()[0] + " → " + p["loadAfter"].split()[0]


def cpu_of(p):
    v = p.get("serverCpuSecondsPer1000Requests")
    return "–" if v is None else f"{v:.3f}"


def rss_of(p):
    return f"{p['peakRssKb'] / 1024:.1f}" if p.get("server") and p["peakRssKb"] else "–"


BASELINE_OF = {"static": "ceiling", "seatmap": "static", "city": "static", "near": "static", "holds": "pgbench-minimal",
               "scaled-seatmap": "static", "scaled-holds": "pgbench-minimal"}
LABEL = {
    "ceiling": "wrk bare axum, the same body from memory (examples/ceiling.rs)",
    "static": f"wrk GET /loadtest/static?bytes={args.body_bytes} (the service's layers, no work)",
    "seatmap": "wrk GET /showtimes/{id}/seats (200 seats, warm)",
    "city": "wrk GET /theaters?city=new%20york",
    "near": "wrk GET /theaters?near=<random> (uncached)",
    "holds": "wrk POST /bookings (uncontended 2-seat holds)",
    "pgbench-minimal": "pgbench minimal hold (DB ceiling)",
    "pgbench-service": "pgbench the service's hold SQL",
    "scaled-seatmap": "wrk seat map, with the bulk rows",
    "scaled-holds": "wrk API holds, with the bulk rows",
}


def summary_row(prefix):
    runs = series(prefix)
    if not runs:
        return None
    res = [p["result"] for p in runs]
    base = BASELINE_OF.get(prefix)
    ratio = ratio_median(prefix, base) if base and not prefix.startswith("scaled") else None
    if prefix == "holds":
        ratio_text = f"{pct(ratio)} of minimal, {pct(holds_over_service)} of service SQL"
    elif prefix.startswith("scaled"):
        empty = median_of(prefix[len("scaled-"):], "rps")
        ratio_text = f"{pct(med([r['rps'] for r in res]) / empty)} of empty" if empty else "–"
    else:
        ratio_text = f"{pct(ratio)} of {base}" if ratio is not None else ""
        bare = ratio_median(prefix, "ceiling") if prefix in ("seatmap", "city") else None
        if bare is not None:
            ratio_text += f", {pct(bare)} of bare axum"
    cpu = med([p.get("serverCpuSecondsPer1000Requests") for p in runs])
    rss = max(p["peakRssKb"] for p in runs) / 1024 if runs[0].get("server") else None
    return (f"| {LABEL[prefix]} | {fmt(med([r['rps'] for r in res]))} | {fmt(med([r.get('p50_ms') for r in res]), 2)} | "
            f"{fmt(med([r.get('p90_ms') for r in res]), 2)} | {fmt(med([r.get('p99_ms') for r in res]), 2)} | "
            f"{fmt(max((r.get('max_ms') or 0) for r in res), 1) if res[0].get('max_ms') is not None else '–'} | "
            f"{'; '.join(errors_of(r) for r in res)} | {ratio_text} | {', '.join(load_of(p) for p in runs)} | "
            f"{'–' if cpu is None else f'{cpu:.3f}'} | {'–' if rss is None else f'{rss:.1f}'} |")


uname = platform.uname()
cpu_model = ""
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
machine = {"nproc": os.cpu_count(), "kernel": uname.release, "cpu": cpu_model,
           "memoryGb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}
run_id = os.path.basename(os.path.normpath(OUT))

md = [f"# Load run {run_id}", ""]
md.append(f"Commit `{args.sha}`, {'quick' if args.quick else 'full'} run of {args.elapsed // 60} min "
          f"{args.elapsed % 60} s; {machine['nproc']} CPUs ({machine['cpu']}), kernel {machine['kernel']}, "
          f"{machine['memoryGb']} GB; server, PostgreSQL (durable commits), Redis and the load generators share the "
          f"machine with other work. {args.rounds} interleaved round(s); medians over the rounds; a ratio is the "
          f"median of each round's ratio. Write pool = pgbench clients = {args.pool}; wrk {args.connections} "
          "connections. Load average: 1-minute, before → after each run.")
md += ["", "## Goals (issue #7)", "", "| goal | measured | verdict |", "|---|---|---|"]
md += [f"| {g} | {m} | {verdict(ok)} |" for g, m, ok in goals]
md += ["", "![Each goal's figure against its goal](chart.svg)"]
md += ["", "## wrk and pgbench (baselines and throughput)", "",
       "| phase | req/s | p50 ms | p90 ms | p99 ms | max ms | errors by status (per round) | ratio | load avg | "
       "server CPU s / 1k req | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
md += [row for row in (summary_row(p) for p in
                       ("ceiling", "static", "seatmap", "city", "near", "holds", "pgbench-minimal",
                        "pgbench-service")) if row]

if k6:
    md += ["", "## k6 scenarios (compare only with each other: k6 costs ~7x wrk's CPU per request)", "",
           "| scenario | req/s | p50 ms | p90 ms | p95 ms | p99 ms | max ms | answers | holds won / lost | "
           "tx retries | thresholds | load avg | server CPU s / 1k req | peak RSS MB |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, p in k6.items():
        r = p["result"]
        c = r.get("counters", {})
        extra = ""
        if name == "onsale":
            extra = (f"; sold out after {fmt(r.get('soldOutAfterMs'), 0)} ms, "
                     f"{c.get('buyers_without_seat', 0):.0f} buyers without a seat")
        if name in ("mixed", "soak"):
            extra = f"; {c.get('iterations', 0) / r['seconds']:.1f} iterations/s (30 reads + 1 hold each)"
        md.append(
            f"| {name} | {fmt(r['rps'])} | {fmt(r['p50_ms'], 2)} | {fmt(r['p90_ms'], 2)} | {fmt(r['p95_ms'], 2)} | "
            f"{fmt(r['p99_ms'], 2)} | {fmt(r['max_ms'], 1)} | {errors_of(r)} | "
            f"{c.get('holds_won', 0):.0f} / {c.get('holds_lost', 0):.0f}{extra} | {retries_of(p)} | "
            f"{'ok' if r.get('thresholdsOk') else 'FAILED'} | {load_of(p)} | {cpu_of(p)} | {rss_of(p)} |")

if stampedes:
    md += ["", f"## On-sale stampedes (examples/loadgen.rs: {args.buyers} buyers, one 200-seat showtime each)", "",
           "| run | sold (distinct) | in the database: claims / seats / bookings | requests | answers | 5xx | "
           "sold out after ms | p50 / p99 / max ms | p50 / p99 ms of the 201s | p50 / p99 ms of the 409s | "
           "floor p50 / p99 ms | tx retries | load avg |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def quantiles(q):
        return "–" if not q else f"{q['p50']:.1f} / {q['p99']:.1f}"

    for s in stampedes:
        r, db = s["result"], s["db"]
        by_status = r.get("latencyMsByStatus", {})
        md.append(
            f"| {s['phase']} | {r['sold']} ({r['distinctSeatsSold']}) | {db['claims']} / {db['distinctSeats']} / "
            f"{db['bookings']} | {r['requests']} | {r['statuses']} | {r['serverErrors']} | "
            f"{fmt(r['soldOutAfterMs'], 0)} | {r['latencyMs']['p50']:.1f} / {r['latencyMs']['p99']:.1f} / "
            f"{r['latencyMs']['max']:.1f} | {quantiles(by_status.get('201'))} | {quantiles(by_status.get('409'))} | "
            f"{quantiles(s.get('floor', {}).get('latencyMs'))} | {retries_of(s)} | {load_of(s)} |")
    md += ["", "The floor: just before each stampede, the same buyers (connections open, one barrier) each send two "
           "GETs of a 300-byte static body (`loadgen floor`): no authentication, JSON or database. It is what 1,000 "
           "requests at once cost this machine, load generator included; no stampede's p99 can be lower here."]

if scaling:
    md += ["", f"## Scaling: empty vs {args.bulk_rows:,} booking_seats rows", "",
           "| measure | empty | with the bulk rows | ratio |", "|---|---|---|---|",
           f"| API holds/s (wrk) | {fmt(scaling['holdsEmpty'])} | {fmt(scaling['holdsScaled'])} | "
           f"{pct(scaling['holdsRatio'])} |",
           f"| seat map req/s (wrk) | {fmt(scaling['seatmapEmpty'])} | {fmt(scaling['seatmapScaled'])} | "
           f"{pct(scaling['seatmapRatio'])} |",
           f"| seat map p99 ms | {fmt(scaling['seatmapP99Empty'], 2)} | {fmt(scaling['seatmapP99Scaled'], 2)} | |"]
    if "bulk-load" in phases:
        md.append(f"\nBulk load (seed + bulk.sql, VACUUM ANALYZE, CHECKPOINT): {phases['bulk-load']['seconds']:.0f} s.")

if drain:
    md += ["", "## Drain: the worker against a sold-out night's backlog (issue 23)", "",
           "| measure | value |", "|---|---|",
           f"| backlog | {drain['lapsedHolds']:,} lapsed holds, {drain['unsentMails']:,} unsent mails |",
           f"| time to expire every lapsed hold | {fmt(drain['holdsSeconds'], 1)} s "
           f"({fmt(drain['holdsPerSecond'], 0)} holds/s; left: {drain['holdsLeft']:,}) |",
           f"| time to send every mail | {fmt(drain['mailsSeconds'], 1)} s "
           f"({fmt(drain['mailsPerSecond'], 0)} mails/s; left: {drain['mailsLeft']:,}) |",
           f"| the SMTP sink's own ceiling (smtp-source, 16 sessions) | {fmt(drain['sinkCeiling'], 0)} mails/s |",
           f"| API holds/s just before the backlog (wrk) | {fmt(drain['holdsBefore'])} |",
           f"| API holds/s during the drain (wrk, {fmt(drain['holdsDuringSeconds'], 0)} s) | "
           f"{fmt(drain['holdsDuring'])} ({pct(drain['holdsRatio'])} of before) |",
           "", "Times count from the stopwatch's first poll, half a second before the worker starts (its start-up "
           "included)."]

md += ["", f"## Invariants (loadtest/invariants.sql; {acks:,} acknowledged bookings checked)", "",
       "| check | violations | meaning |", "|---|---|---|"]
md += [f"| {i['check']} | {i['violations']} | {i['meaning']} |" for i in invariants]

md += ["", "## Every run, in order", "",
       "| phase | tool | req/s | p50 ms | p99 ms | max ms | errors | load avg | server CPU s | CPU s / 1k req | "
       "peak RSS MB | tx retries |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for p in sorted(phases.values(), key=lambda p: p.get("started", 0)):
    r = p["result"]
    md.append(
        f"| {p['phase']} | {r.get('tool', 'loadgen' if 'sold' in r else '–')} | {fmt(r.get('rps'))} | "
        f"{fmt(r.get('p50_ms', (r.get('latencyMs') or {}).get('p50')), 2)} | "
        f"{fmt(r.get('p99_ms', (r.get('latencyMs') or {}).get('p99')), 2)} | "
        f"{fmt(r.get('max_ms', (r.get('latencyMs') or {}).get('max')), 1)} | {errors_of(r) or r.get('statuses', '')} | "
        f"{load_of(p)} | {p['serverCpuSeconds']:.1f} | {cpu_of(p)} | {rss_of(p)} | {retries_of(p)} |")

for target in ("seatmap", "holds"):
    path = f"{OUT}/profile-{target}.txt"
    if os.path.exists(path):
        md += ["", f"## Profile of the server during a {target} run (perf, cpu-clock, self time above 1%)", "",
               "```text", open(path).read().rstrip(), "```"]

report = {
    "runId": run_id, "sha": args.sha, "quick": bool(args.quick), "elapsedSeconds": args.elapsed, "machine": machine,
    "settings": {"rounds": args.rounds, "pool": args.pool, "wrkConnections": args.connections,
                 "buyers": args.buyers, "bodyBytes": args.body_bytes},
    "goals": [{"goal": g, "measured": m, "met": ok} for g, m, ok in goals],
    "figures": figures,
    "ratios": {"staticOverBare": static_over_bare, "seatmapOverBare": seatmap_over_bare,
               "seatmapOverStatic": seatmap_ratio, "cityOverStatic": city_ratio,
               "holdsOverPgbenchMinimal": holds_over_minimal, "holdsOverPgbenchService": holds_over_service},
    "peakRssMb": peak_rss_mb, "hwmMb": hwm_mb, "scaling": scaling, "invariants": invariants,
    "acknowledgedBookings": acks, "drain": drain, "phases": phases,
}
with open(f"{OUT}/report.json", "w") as f:
    json.dump(report, f, indent=2)
with open(f"{OUT}/chart.svg", "w") as f:
    f.write(chart.render(figures, f"Load run {run_id} ({args.sha[:7]})"))
with open(f"{OUT}/report.md", "w") as f:
    f.write("\n".join(md) + "\n")
print("\n".join(md))
