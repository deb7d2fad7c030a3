"""Tests of the chaos harness's pure parts: the checker's rules, the figures, the generated configurations.

Run: /usr/bin/python3 -m pytest chaos/tests (scripts/test.sh does, before the drills).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import checker  # noqa: E402
import topology  # noqa: E402
from load import Ack, Request  # noqa: E402


def ack(at, booking, state, seats=("A1", "A2"), op="hold"):
    return Ack(at, booking, state, list(seats), "show", op)


def test_the_last_acknowledgement_decides_the_expected_state():
    exp = checker.expectations([ack(1, "b", "reserved"), ack(2, "b", "paid", op="pay")])
    assert exp["b"].states == {"paid"}
    assert checker.lost_acks(exp, {"b": ("paid", ["A2", "A1"])}) == []
    assert checker.lost_acks(exp, {"b": ("reserved", ["A1", "A2"])}) == ["b"]


def test_a_missing_booking_or_other_seats_is_a_lost_write():
    exp = checker.expectations([ack(1, "b", "reserved"), ack(1, "c", "reserved")])
    assert checker.lost_acks(exp, {"c": ("reserved", ["A1", "A3"])}) == ["b", "c"]


def test_an_unanswered_later_request_may_move_the_state_but_only_where_it_leads():
    acks = [ack(1, "b", "reserved")]
    exp = checker.expectations(acks, {"b": {"pay"}})
    assert checker.lost_acks(exp, {"b": ("payment_pending", ["A1", "A2"])}) == []
    assert checker.lost_acks(exp, {"b": ("paid", ["A1", "A2"])}) == []
    assert checker.lost_acks(exp, {"b": ("canceled", ["A1", "A2"])}) == ["b"]
    # Without the attempt, a paid booking acknowledged only as held is a contradiction.
    assert checker.lost_acks(checker.expectations(acks), {"b": ("paid", ["A1", "A2"])}) == ["b"]


def test_a_lapsed_hold_is_not_a_loss():
    exp = checker.expectations([ack(1, "b", "reserved")])
    assert checker.lost_acks(exp, {"b": ("expired", ["A1", "A2"])}) == []


def test_double_sales_count_seats_in_two_live_bookings():
    assert checker.double_sales([("b1", "s", ["A1", "A2"]), ("b2", "s", ["A3"])]) == 0
    assert checker.double_sales([("b1", "s", ["A1", "A2"]), ("b2", "s", ["A2", "A3"])]) == 1
    assert checker.double_sales([("b1", "s", ["A1"]), ("b2", "t", ["A1"])]) == 0


def test_mails_are_found_by_the_booking_id_they_name(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "1").write_text("Subject: x\n\nBooking:  0b7f5c8e-3c1a-4e8b-9a59-6f1f1b0a9d11\n")
    assert checker.mailed_bookings(tmp_path) == {"0b7f5c8e-3c1a-4e8b-9a59-6f1f1b0a9d11"}


def req(start, end, status, write=False):
    return Request(start, end, "POST" if write else "GET", "r", status, write)


def test_figures_measure_the_write_outage_and_the_return_to_full_throughput():
    reqs = []
    # 10 s of baseline: 10 ok reads a second; fault at t=10; writes fail until 14, reads fail 10-12.
    for s in range(0, 25):
        for k in range(10):
            t = s + k / 10
            bad_read = 10 <= s < 12
            reqs.append(req(t, t + 0.01, 503 if bad_read else 200))
    for t in (10.5, 12.0, 13.5):
        reqs.append(req(t, t + 0.1, 0, write=True))
    reqs.append(req(14.0, 14.2, 201, write=True))
    f = checker.client_figures(reqs, 10.0, 25.0, 0.0)
    assert f.first_write_after_fault_s == 4.2
    assert f.write_outage_s == 3.6
    assert f.full_throughput_after_s == 4.0  # the last failed write ends in second 3
    assert f.errors == 23 and f.read_errors == 20
    assert f.errors_by["503 r"] == 20 and f.errors_by["no answer r"] == 3


def test_pg_settings_come_from_stack_sh_without_the_per_node_ones():
    text = "# c\nlisten_addresses = '127.0.0.1'\nport = 21080\nmax_connections = 300\ntimezone = 'UTC'\n"
    assert topology.parse_pg_conf(text) == {"max_connections": "300", "timezone": "UTC"}


def test_patroni_is_synchronous_with_a_short_ttl_and_loop_wait_fits_it():
    cfg = topology.patroni_config(1, Path("/x"), {"max_connections": "300"})
    dcs = cfg["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"] <= 10
    assert dcs["postgresql"]["parameters"]["max_connections"] == "300"
    assert cfg["postgresql"]["listen"] == "127.0.0.1:21032"
    assert all(21000 <= p <= 21999 for p in topology.PG_PORTS + topology.PATRONI_REST + topology.POD_PORTS)


def test_haproxy_routes_writes_to_the_primary_reads_to_replicas_http_to_ready_pods():
    cfg = topology.haproxy_config()
    write = cfg.split("listen pg_write")[1].split("listen pg_read")[0]
    read = cfg.split("listen pg_read")[1].split("listen http")[0]
    assert "GET /primary" in write and "shutdown-sessions" in write
    assert "GET /replica" in read
    assert "GET /readyz" in cfg.split("listen http")[1]
