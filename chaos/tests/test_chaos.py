"""Tests of the chaos harness's pure parts: the checker's rules, the figures, the generated configurations.

Run: /usr/bin/python3 -m pytest chaos/tests (scripts/test.sh does, before the drills).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import checker  # noqa: E402
import report  # noqa: E402
import run  # noqa: E402
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


def test_patroni_renews_its_leader_key_by_compare_and_swap_through_etcds_v2_api():
    # Patroni 3.0.2 renews an etcd3 leader key with an unconditional PUT (patroni#2689): a thawed primary took it back.
    cfg = topology.patroni_config(0, Path("/x"), {})
    assert "etcd" in cfg and "etcd3" not in cfg
    assert cfg["bootstrap"]["dcs"]["check_timeline"] is True
    assert cfg["etcd"]["hosts"] == [f"127.0.0.1:{p}" for p in topology.ETCD_CLIENT]
    assert "--enable-v2=true" in topology.etcd_args(0, Path("/x"))


def test_the_dcs_keys_and_the_balancers_writers_are_read_from_their_answers():
    assert topology.dcs_key_value({"action": "get", "node": {"key": "/l", "value": "pg2"}}) == "pg2"
    assert topology.dcs_key_value({"errorCode": 100, "message": "Key not found"}) is None
    assert topology.dcs_key_value(None) is None
    assert topology.sync_standby('{"leader": "pg2", "sync_standby": "pg3"}') == "pg3"
    assert topology.sync_standby('{"leader": "pg2", "sync_standby": null}') is None
    assert topology.sync_standby("not json") is None and topology.sync_standby(None) is None
    head = "# pxname,svname," + ",".join(f"c{k}" for k in range(2, 18))
    row = lambda px, sv, st: ",".join([px, sv] + ["0"] * 15 + [st, "x"])  # noqa: E731 - status is column 17
    csv = "\n".join([head, row("pg_write", "pg1", "DOWN"), row("pg_write", "pg2", "UP"),
                     row("pg_write", "pg3", "UP 1/2"), row("pg_write", "BACKEND", "UP"), row("http", "pod1", "UP")])
    assert topology.balancer_up(csv, "pg_write") == ["pg2"]
    assert topology.balancer_up(csv, "http") == ["pod1"]


def test_a_leader_key_that_goes_back_to_the_faulted_primary_is_caught():
    s = lambda *rows: [(float(k), r) for k, r in enumerate(rows)]  # noqa: E731
    drill3_before = s(("pg2", "pg3", ()), ("pg2", "pg3", ("pg2",)), (None, "pg3", ()), ("pg3", "pg1", ()),
                      ("pg3", "pg1", ("pg3",)), ("pg2", None, ("pg3",)), ("pg2", None, ("pg2",)))
    assert run.leader_key_returned(run.transitions(drill3_before), "pg2")
    fixed = s(("pg2", "pg3", ("pg2",)), (None, "pg3", ()), ("pg3", "pg1", ("pg3",)), ("pg3", "pg2", ("pg3",)))
    assert not run.leader_key_returned(run.transitions(fixed), "pg2")
    # The key lapsing and the same node taking it again (no one else held it) is no split brain.
    assert not run.leader_key_returned(s(("pg2", None, ()), (None, None, ()), ("pg2", None, ())), "pg2")


def test_transitions_keep_only_changes():
    samples = [(0.0, ("a",)), (0.1, ("a",)), (0.2, ("b",)), (0.3, ("b",)), (0.4, ("a",))]
    assert run.transitions(samples) == [(0.0, ("a",)), (0.2, ("b",)), (0.4, ("a",))]


def test_the_report_shows_who_could_write_relative_to_the_fault():
    line = report.authority_line([[10.0, "pg2", "pg3", ["pg2"]], [22.5, "pg3", None, []]], 12.0)
    assert line.endswith("-2.0 s pg2/pg3/pg2; +10.5 s pg3/-/-")


def test_the_namespaced_layout_puts_each_node_on_its_own_address_and_etcd_on_the_bridge():
    cfg = topology.patroni_config(2, Path("/x"), {}, netns=True)
    assert cfg["postgresql"]["listen"] == cfg["postgresql"]["connect_address"] == "10.210.21.13:21033"
    assert cfg["restapi"]["listen"] == "10.210.21.13:21023"
    assert cfg["etcd"]["hosts"] == ["10.210.21.1:21001", "10.210.21.1:21002", "10.210.21.1:21003"]
    assert "host replication all 10.210.21.0/24 trust" in cfg["postgresql"]["pg_hba"]
    assert topology.patroni_config(2, Path("/x"), {})["postgresql"]["listen"] == "127.0.0.1:21033"
    args = topology.etcd_args(0, Path("/x"), netns=True)
    assert args[args.index("--listen-client-urls") + 1] == "http://127.0.0.1:21001,http://10.210.21.1:21001"
    assert args[args.index("--advertise-client-urls") + 1] == "http://10.210.21.1:21001"
    write = topology.haproxy_config(netns=True).split("listen pg_write")[1].split("listen pg_read")[0]
    assert "server pg2 10.210.21.12:21032 check port 21022" in write


def test_the_namespaces_are_built_from_our_names_only_and_a_cut_keeps_only_loopback():
    cmds = topology.netns_setup_commands()
    made = [c[3] for c in cmds if c[:3] == ["ip", "netns", "add"]] + \
        [c[3] for c in cmds if c[:3] == ["ip", "link", "add"]]
    assert made == ["bo21-pg1", "bo21-pg2", "bo21-pg3", "bo21br", "bo21h1", "bo21h2", "bo21h3"]
    removed = [c[3] for c in topology.netns_teardown_commands()]
    assert removed == ["bo21-pg1", "bo21-pg2", "bo21-pg3", "bo21br"]
    rules = topology.CUT_OFF_RULES
    assert rules.count("policy drop;") == 2 and 'iif "lo" accept' in rules and 'oif "lo" accept' in rules


def test_the_cost_of_ha_counts_201s_and_takes_the_median_of_the_rounds_ratios():
    def r(ok, other=0, seconds=10.0):
        statuses = {"201": ok} | ({"503": other} if other else {})
        return {"requests": ok + other, "seconds": seconds, "statuses": statuses, "p50_ms": 1.0, "p99_ms": 9.0,
                "load_average": 3.0}
    figures = {"ha": [r(800), r(900, other=50), r(100)], "single": [r(1000), r(1000), r(1000)]}
    c = run.cost_summary(figures, 10, 16, 17500)
    assert c["round_ratios"] == [0.8, 0.9, 0.1]
    assert c["ratio"] == 0.8 and c["ha_holds_per_s"] == 80.0 and c["single_holds_per_s"] == 100.0
    assert c["not_201"] == 50 and not c["out_of_work"]
    assert run.cost_summary({"ha": [r(17500)], "single": [r(10)]}, 10, 16, 17500)["out_of_work"]
    assert run.parse_wrk_json('Running 8s test\nWRK_JSON {"rps": 5.5}\n') == {"rps": 5.5}


def test_a_new_primary_is_named_so_that_pg1_counts_as_found():
    # wait_for() returns on a true value: the index 0 of pg1 was never "found" (drill 1 timed out after 60 s).
    class Topo:
        def __init__(self, holder):
            self.holder = holder

        def authority(self):
            return self.holder, None, ()
    r = run.Run.__new__(run.Run)
    for holder, old, found in (("pg1", 2, "pg1"), ("pg3", 2, None), (None, 2, None), ("pg2", 0, "pg2")):
        r.topo = Topo(holder)
        assert r.promoted_other_than(old) == found
    r.topo = Topo("pg1")
    assert topology.wait_for("pg1", lambda: r.promoted_other_than(2), 1) == "pg1"
