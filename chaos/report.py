"""The report of a chaos run: `report.json` (everything), `report.md` (a table per drill) and `timeline.png`
(successful requests/s and errors/s per second over the whole run, each fault marked)."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path

import checker
from load import Request


def summary_of(results: list[dict], cost_of_ha: dict | None, seconds: float) -> dict:
    """The headline figures: per drill, what the goals of issue 16 ask."""
    return {
        "passed": all(not r.get("violations") for r in results) and bool(results),
        "seconds": round(seconds, 1),
        "drills": [
            {
                "drill": r.get("drill"),
                "violations": r.get("violations"),
                "errors": r.get("client", {}).get("errors"),
                "requests": r.get("client", {}).get("requests"),
                "first_write_after_fault_s": r.get("client", {}).get("first_write_after_fault_s"),
                "full_throughput_after_s": r.get("client", {}).get("full_throughput_after_s"),
                "read_error_rate": r.get("client", {}).get("read_error_rate"),
                "ack_lost": r.get("database", {}).get("ack_lost"),
                "double_sales": r.get("database", {}).get("double_sales"),
            }
            for r in results
        ],
        "cost_of_ha": cost_of_ha,
    }


def markdown(results: list[dict], cost_of_ha: dict | None, meta: dict) -> str:
    """report.md: one section per drill, figures first."""
    out = [f"# Chaos run {meta['run']}", "",
           f"Commit `{meta['commit']}`, {meta['host']}, {meta['seconds']:.0f} s in all. "
           "Load: 12 users through HAProxy, each about 6 actions/s (35% holds, then 50% paid and 25% canceled, "
           "35% seat maps, 30% showtime searches); a write without an answer or with a 5xx is retried with its "
           "Idempotency-Key for up to 30 s. Errors are answers >= 500 or none (a 409 for a taken seat is an answer). "
           "The machine is shared with other builds: timings are noisy.", "",
           "![timeline](timeline.png)", "",
           "| drill | fault | errors / requests | read errors | first write after fault | full throughput after "
           "| acknowledged writes lost | double sales | charges not one | stuck payments | mails missing | result |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r.get("drill") is None:
            out.append(f"| - | {r.get('name')} | | | | | | | | | | {r.get('error', '')} |")
            continue
        c, d = r["client"], r["database"]
        out.append(
            f"| {r['drill']} | {r['name']} | {c['errors']} / {c['requests']} | "
            f"{c['read_errors']} / {c['read_requests']} ({100 * c['read_error_rate']:.1f}%) | "
            f"{fmt_s(c['first_write_after_fault_s'])} | {fmt_s(c['full_throughput_after_s'])} | {d['ack_lost']} | "
            f"{d['double_sales']} | {d['charges_not_one']} | {d['payment_pending_stuck']} | {d['mail_missing']} | "
            f"{'FAIL: ' + ', '.join(r['violations']) if r['violations'] else 'pass'} |")
    out.append("")
    for r in results:
        if r.get("drill") is None:
            continue
        c = r["client"]
        out += [f"## Drill {r['drill']}: {r['name']}", "",
                f"- fault at t={r['fault']:.1f} s; fault over (recovered) {r['recovered_after_s']:.1f} s later; "
                f"notes: `{json.dumps({k: v for k, v in r['notes'].items() if k != 'authority'})}`",
                *([authority_line(r["notes"]["authority"], r["fault"])] if r["notes"].get("authority") else []),
                f"- baseline before the fault: {c['baseline_ok_per_s']} successful requests/s; "
                f"write errors until {fmt_s(c['write_outage_s'])} after the fault",
                f"- database: {d_line(r['database'])}",
                "- client-visible errors by status and route: " +
                (", ".join(f"`{k}` x{v}" for k, v in c["errors_by"].items()) or "none"), ""]
    if cost_of_ha:
        c = cost_of_ha
        out += ["## Cost of HA", "",
                f"Uncontended two-seat holds/s ({c['client']}, {c['connections']} connections, "
                f"{c['seconds_per_round']} s a run), one pod, release build, rounds interleaved: through HAProxy to "
                f"the synchronously replicated primary **{c['ha_holds_per_s']}** (median), on the single node "
                f"**{c['single_holds_per_s']}**: ratio **{c['ratio']}** (median of the rounds' ratios "
                f"{c['round_ratios']}; goal >= 0.7). Answers other than 201: {c['not_201']}."
                + (" **A run ran out of work blocks: the figures are low.**" if c["out_of_work"] else ""), "",
                "| round | HA holds/s | p50 / p99 ms | single holds/s | p50 / p99 ms | load average |",
                "|---|---|---|---|---|---|"]
        for k, (a, b) in enumerate(zip(c["rounds"]["ha"], c["rounds"]["single"])):
            out.append(f"| {k + 1} | {a['rps']} | {a['p50_ms']:.1f} / {a['p99_ms']:.1f} | {b['rps']} | "
                       f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f} | {a['load_average']:.1f} / {b['load_average']:.1f} |")
        out.append("")
    return "\n".join(out)


def authority_line(rows: list[list], fault: float) -> str:
    """Who could write, change by change, in seconds from the fault: leader key / sync standby / HAProxy's writers."""
    steps = [f"{at - fault:+.1f} s {leader or '-'}/{sync or '-'}/{','.join(writers) or '-'}"
             for at, leader, sync, writers in rows]
    return "- leader key / sync standby / HAProxy writes to: " + "; ".join(steps)


def d_line(d: dict) -> str:
    return (f"{d['bookings']} bookings, {d['acknowledged_bookings']} acknowledged, {d['paid']} paid; "
            f"outbox unsent {d['outbox_unsent']}")


def fmt_s(v) -> str:
    return "-" if v is None else f"{v:.1f} s"


def timeline(path: Path, requests: list[Request], marks: list[tuple[float, str]], epoch: float,
             results: list[dict]) -> None:
    """timeline.png: ok/s and errors/s per second, faults as vertical lines, drill windows shaded."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not requests:
        return
    end = max(r.end for r in requests) - epoch
    bins = checker.per_second(requests, epoch, epoch + end)
    xs = list(range(len(bins)))
    fig, ax = plt.subplots(figsize=(14, 4.5), dpi=100)
    ax.plot(xs, [ok for ok, _ in bins], color="tab:blue", lw=1.2, label="successful requests/s")
    ax.plot(xs, [err for _, err in bins], color="tab:red", lw=1.2, label="errors/s (5xx or no answer)")
    for r in results:
        if r.get("drill") is None:
            continue
        ax.axvspan(r["start"], r["end"], color="0.93", zorder=0)
        ax.axvline(r["fault"], color="black", ls="--", lw=1)
        ax.text(r["fault"] + 0.5, ax.get_ylim()[1] * 0.92, f"drill {r['drill']}", fontsize=8, rotation=90, va="top")
    ax.set_xlabel("seconds since the run started (drills shaded; dashed: fault injected)")
    ax.set_ylabel("per second")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(out: Path, results: list[dict], requests: list[Request], marks, epoch: float, cost_of_ha: dict | None,
          seconds: float) -> dict:
    """Writes the three files into `out` and returns the summary."""
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    meta = {"run": out.name, "commit": commit, "host": f"{platform.node()} ({platform.machine()})",
            "seconds": seconds, "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    summary = summary_of(results, cost_of_ha, seconds)
    (out / "report.json").write_text(json.dumps({"meta": meta, "summary": summary, "drills": results,
                                                 "cost_of_ha": cost_of_ha}, indent=2))
    (out / "report.md").write_text(markdown(results, cost_of_ha, meta))
    try:
        timeline(out / "timeline.png", requests, marks, epoch, results)
    except Exception as err:  # noqa: BLE001 - a missing picture must not hide the figures
        (out / "timeline.error").write_text(repr(err))
    return summary
