"""The drills' checker: what the load was told (its acknowledgements) held against the database, and what the
clients saw (its request log) turned into figures. A checker, not eyeballs: every check is a count that must be 0.

Database checks, after the load has stopped (so that no request is in flight):
  double_sales              seats in two live bookings (held and unexpired, being paid, or paid)
  ack_lost                  an acknowledged hold, payment or cancellation whose booking is missing, or in another
                            state than the last acknowledgement said (or one a later, unanswered request of ours
                            may have moved it to), or with other seats
  charges_not_one           a paid booking without exactly one charge, or any booking charged twice
  payment_pending_stuck     a booking still `payment_pending` after the reconciler's period
  mail_missing              a paid booking whose confirmation mail is not in the sink

Client figures, per drill: errors by status and route; time from the fault to the first successful write; time to
full throughput again; acknowledged writes lost (the database checks above).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from load import Ack, Request

LIVE = ("payment_pending", "paid")
# States a booking may be in after an unanswered request of ours, from the state last acknowledged.
AFTER_UNANSWERED = {
    "pay": {"payment_pending", "paid"},
    "cancel": {"canceled"},
}


@dataclass
class Expectation:
    """What the database must show for one booking."""

    booking: str
    states: set[str]
    seats: list[str]


def expectations(acks: list[Ack], attempts: dict[str, set[str]] | None = None) -> dict[str, Expectation]:
    """The state each acknowledged booking must be in: its last acknowledgement's, or one that a later request we
    sent but never saw answered may have moved it to (`attempts`: booking -> ops tried after its last ack)."""
    last: dict[str, Ack] = {}
    for ack in sorted(acks, key=lambda a: a.at):
        last[ack.booking] = ack
    out = {}
    for booking, ack in last.items():
        states = {ack.state}
        for op in (attempts or {}).get(booking, set()):
            states |= AFTER_UNANSWERED.get(op, set())
        if ack.state == "reserved":
            # A hold's TTL may lapse (the sweeper then marks it expired): that is the protocol, not a loss.
            states.add("expired")
        out[booking] = Expectation(booking, states, sorted(ack.seats))
    return out


def lost_acks(expected: dict[str, Expectation], rows: dict[str, tuple[str, list[str]]]) -> list[str]:
    """Bookings whose database row (`rows`: id -> (status, seats)) contradicts what was acknowledged."""
    lost = []
    for booking, exp in expected.items():
        row = rows.get(booking)
        if row is None or row[0] not in exp.states or sorted(row[1]) != exp.seats:
            lost.append(booking)
    return sorted(lost)


def double_sales(live: list[tuple[str, str, list[str]]]) -> int:
    """Seats held by two live bookings: `live` is (booking, showtime, seats) of every live booking."""
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for booking, showtime, seats in live:
        for seat in seats:
            owners[(showtime, seat)].add(booking)
    return sum(1 for bookings in owners.values() if len(bookings) > 1)


MAIL_ID = re.compile(r"Booking:\s+([0-9a-f-]{36})")


def mailed_bookings(mail_dir: Path) -> set[str]:
    """Booking ids named by the mails in the sink's Maildir (`new/` and `cur/`)."""
    ids = set()
    for sub in ("new", "cur"):
        folder = mail_dir / sub
        if folder.is_dir():
            for f in folder.iterdir():
                ids.update(MAIL_ID.findall(f.read_text(errors="replace")))
    return ids


def check_database(conn, acks: list[Ack], attempts: dict[str, set[str]], mail_dir: Path | None,
                   pending_after: float) -> dict:
    """Runs every database check (see the module docs); `conn` is a psycopg2 connection to the primary."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT id::text, showtime_id::text, status, ARRAY(SELECT s->>'label' FROM jsonb_array_elements(seats) s),"
            " hold_expires_at > now() FROM bookings")
        rows = cur.fetchall()
        by_id = {r[0]: (r[2], list(r[3])) for r in rows}
        live = [(r[0], r[1], list(r[3])) for r in rows if r[2] in LIVE or (r[2] == "reserved" and r[4])]
        cur.execute(
            "SELECT b.id::text, b.status,"
            " count(p.*) FILTER (WHERE p.status = 'succeeded'),"
            " count(p.*) FILTER (WHERE p.status IN ('succeeded', 'refunded'))"
            " FROM bookings b LEFT JOIN payments p ON p.region = b.region AND p.booking_id = b.id"
            " GROUP BY b.id, b.status")
        charges_bad = [r[0] for r in cur.fetchall() if (r[1] == "paid" and r[2] != 1) or r[3] > 1]
        cur.execute("SELECT id::text FROM bookings WHERE status = 'payment_pending' AND updated_at < now() - %s * "
                    "interval '1 second'", (pending_after,))
        stuck = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        unsent = cur.fetchone()[0]
    conn.rollback()
    expected = expectations(acks, attempts)
    lost = lost_acks(expected, by_id)
    lost_details = [
        {"booking": b, "expected": sorted(expected[b].states), "seats": expected[b].seats,
         "found": list(by_id[b]) if b in by_id else None,
         "acks": [{"at": round(a.at, 3), "op": a.op, "state": a.state, "replayed": a.replayed}
                  for a in acks if a.booking == b]}
        for b in lost[:10]
    ]
    paid = sorted(b for b, (status, _) in by_id.items() if status == "paid")
    mail_missing = []
    if mail_dir is not None:
        mailed = mailed_bookings(mail_dir)
        mail_missing = [b for b in paid if b not in mailed]
    return {
        "bookings": len(rows),
        "acknowledged_bookings": len(expected),
        "paid": len(paid),
        "double_sales": double_sales(live),
        "ack_lost": len(lost),
        "ack_lost_ids": lost[:20],
        "ack_lost_details": lost_details,
        "charges_not_one": len(charges_bad),
        "charges_not_one_ids": charges_bad[:20],
        "payment_pending_stuck": len(stuck),
        "outbox_unsent": unsent,
        "mail_missing": len(mail_missing),
        "mail_missing_ids": mail_missing[:20],
    }


CHECKS = ("double_sales", "ack_lost", "charges_not_one", "payment_pending_stuck", "mail_missing")


def violations(db: dict) -> list[str]:
    """The names of the database checks that failed."""
    return [name for name in CHECKS if db.get(name, 0)]


@dataclass
class ClientFigures:
    """What the clients saw around one fault."""

    requests: int
    errors: int
    errors_by: dict[str, int] = field(default_factory=dict)
    first_write_after_fault_s: float | None = None
    write_outage_s: float | None = None
    full_throughput_after_s: float | None = None
    read_requests: int = 0
    read_errors: int = 0
    baseline_ok_per_s: float = 0.0

    @property
    def read_error_rate(self) -> float:
        return self.read_errors / self.read_requests if self.read_requests else 0.0


def per_second(requests: list[Request], start: float, end: float) -> list[tuple[int, int]]:
    """(ok, errors) per whole second from `start` to `end`, by each request's end time. A 4xx is an answer (a
    409 for a taken seat is the protocol), not an error; an error is no answer or a 5xx."""
    n = max(0, int(end - start) + 1)
    bins = [[0, 0] for _ in range(n)]
    for r in requests:
        i = int(r.end - start)
        if 0 <= i < n:
            bins[i][1 if is_error(r) else 0] += 1
    return [(a, b) for a, b in bins]


def is_error(r: Request) -> bool:
    """No answer, or a 5xx."""
    return r.status == 0 or r.status >= 500


def client_figures(requests: list[Request], fault: float, end: float, baseline_from: float) -> ClientFigures:
    """The figures of one drill: `fault` is when it was injected, `end` when the drill's window closes, and
    `baseline_from` .. `fault` the steady window before it."""
    window = [r for r in requests if fault <= r.end <= end]
    errors = [r for r in window if is_error(r)]
    by = Counter(f"{r.status or 'no answer'} {r.route}" for r in errors)
    reads = [r for r in window if not r.write]
    figures = ClientFigures(len(window), len(errors), dict(by.most_common()), read_requests=len(reads),
                            read_errors=sum(1 for r in reads if is_error(r)))
    ok_writes = sorted((r for r in requests if r.write and r.start >= fault and not is_error(r)), key=lambda r: r.end)
    failed_writes = [r for r in window if r.write and is_error(r)]
    if failed_writes:
        # Writes are back with the first success of a write sent after the last one that failed.
        figures.write_outage_s = round(max(r.end for r in failed_writes) - fault, 2)
        last_failed = max(r.start for r in failed_writes)
        back = [r for r in ok_writes if r.start >= last_failed]
        if back:
            figures.first_write_after_fault_s = round(back[0].end - fault, 2)
    elif ok_writes:
        figures.first_write_after_fault_s = round(ok_writes[0].end - fault, 2)
    base = per_second(requests, baseline_from, fault)[:-1] or [(0, 0)]
    baseline = sum(ok for ok, _ in base) / len(base)
    figures.baseline_ok_per_s = round(baseline, 1)
    bins = per_second(requests, fault, end)
    # Full throughput: the first 3-second stretch from which the successful rate is at least 80% of the baseline's
    # and errors have stopped.
    for i in range(len(bins) - 2):
        stretch = bins[i:i + 3]
        if all(err == 0 for _, err in stretch) and sum(ok for ok, _ in stretch) / 3 >= 0.8 * baseline:
            figures.full_throughput_after_s = float(i)
            break
    return figures
