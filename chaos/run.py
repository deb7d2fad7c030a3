"""`make chaos` / the chaos step of `make test`: bring the topology up, run drills under load, check, report.

    /usr/bin/python3 chaos/run.py --drills 1,5 --out chaos/results/<run>   (make test: the two it must prove)
    /usr/bin/python3 chaos/run.py --drills all --cost-of-ha --out ...      (make chaos)

Expects scripts/stack.sh's `chaos` profile up (Redis, the SMTP sink, the single node) and the `boxoffice` binary
built; scripts/chaos.sh does both. Exit status 1 when any drill breaks a goal that the run enforces (acknowledged
writes lost, double sales, charges, stuck payments, missing mails, writes not back within 15 s after a primary loss).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import asdict
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))

import checker  # noqa: E402
import report  # noqa: E402
from load import Client, Load, Mix, Recorder  # noqa: E402
from topology import (  # noqa: E402
    DBNAME, HAPROXY_HTTP, HAPROXY_WRITE, PATRONI_REST, POD_PORTS, REDIS_PORT, SINGLE_PG_PORT, Topology, http_json,
    netns_name, node_name, parse_pg_conf, service_env, wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
DRILLS = {
    1: "primary killed (kill -9 of Patroni and PostgreSQL)",
    2: "planned switchover (patronictl switchover)",
    3: "primary frozen (SIGSTOP) for 20 s",
    4: "primary cut off from the network",
    5: "one service pod killed (kill -9), then restarted",
    6: "Redis killed, restarted empty",
    7: "payment provider down for 20 s",
    8: "worker killed while dispatching mail, restarted",
}
DB_FAULTS = (1, 2, 3, 4)  # drills whose fault hits the primary: the authority over writes is watched
BASELINE_S = 6
AFTER_S = 8
WRITE_GOAL_S = 15.0


def log(msg: str) -> None:
    print(f"chaos: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def transitions(samples: list[tuple[float, tuple]]) -> list[tuple[float, tuple]]:
    """The samples whose state differs from the one before: when it changed, and to what."""
    out: list[tuple[float, tuple]] = []
    for at, state in samples:
        if not out or out[-1][1] != state:
            out.append((at, state))
    return out


def leader_key_returned(changes: list[tuple[float, tuple]], old: str) -> bool:
    """Whether Patroni's leader key went back to `old` (the faulted primary) after another node had held it: the
    split brain in which the promoted node's commits are thrown away."""
    taken = False
    for _, (leader, *_rest) in changes:
        if leader not in (None, old):
            taken = True
        elif leader == old and taken:
            return True
    return False


class AuthorityWatch(threading.Thread):
    """Samples [`Topology.authority`] every 0.1 s while a drill runs: who holds the leader key and the /sync key, and
    which nodes HAProxy sends writes to; keeps the changes (seconds since `epoch`)."""

    def __init__(self, topo: Topology, epoch: float):
        super().__init__(daemon=True)
        self.topo, self.epoch = topo, epoch
        self.samples: list[tuple[float, tuple]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            state = self.topo.authority()
            self.samples.append((round(time.time() - self.epoch, 2), state))
            self.halt.wait(0.1)

    def stop(self) -> list[list]:
        self.halt.set()
        self.join()
        return [[at, leader, sync, list(writers)] for at, (leader, sync, writers) in transitions(self.samples)]


class Run:
    """One `make chaos` run: the topology, the users, the drills' results."""

    def __init__(self, args):
        self.args = args
        self.out = Path(args.out).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "logs").mkdir(exist_ok=True)
        self.fail_flag = self.out / "provider-down"
        extra = {
            "BOXOFFICE_MAX_SEATS_PER_USER_SHOWTIME": "1000",
            "BOXOFFICE_PAYMENT_SANDBOX_FAIL_FILE": str(self.fail_flag),
        }
        self.topo = Topology(ROOT, Path(args.binary).resolve(), self.out / "logs", extra, netns=args.netns)
        self.netns_error: str | None = None
        self.recorder = Recorder()
        self.epoch = time.time()
        self.results: list[dict] = []
        self.timeline_marks: list[tuple[float, str]] = []
        self.cost_of_ha: dict | None = None
        self.lost_before: set[str] = set()

    # -- set-up ------------------------------------------------------------------------------------------------
    def up(self) -> None:
        conf = ROOT / "var" / "chaos" / "pg"
        conf = (conf.resolve() if conf.is_symlink() else conf) / "boxoffice.conf"
        settings = parse_pg_conf(conf.read_text())
        log(f"starting etcd x3, Patroni x3 (PostgreSQL settings of {conf}), HAProxy")
        t0 = time.time()
        if self.topo.netns:
            try:
                self.topo.netns_up()
                log("nodes in network namespaces " + ", ".join(netns_name(i) for i in range(3)))
            except RuntimeError as err:  # drill 4 falls back to drill 3 and says why
                self.netns_error = str(err)
                self.topo.netns = False
                log(f"no network namespaces ({err}): every node on the host's loopback")
        self.topo.start_cluster(settings)
        log(f"cluster healthy in {time.time() - t0:.1f}s; primary {node_name(self.topo.leader())}")
        conn = psycopg2.connect(host="127.0.0.1", port=HAPROXY_WRITE, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DBNAME}")
        conn.close()
        self.topo.boxoffice("migrate")
        self.topo.boxoffice("seed", "--demo")
        for i in range(3):
            self.topo.start_pod(i)
        self.topo.start_worker()
        self.topo.wait_balancer(3)
        self.db = psycopg2.connect(host="127.0.0.1", port=HAPROXY_WRITE, user="postgres", dbname=DBNAME)
        self.showtimes, self.movie_paths = self.catalog(self.db)
        self.tokens = self.users(HAPROXY_HTTP, self.args.users, "u")
        log(f"up: {len(self.showtimes)} showtimes, {len(self.tokens)} users")

    @staticmethod
    def catalog(conn) -> tuple[list[str], list[str]]:
        """Showtimes to book (a day or more ahead, screens with rows A-J x 1-14) and movie searches to read."""
        shows = Run.bookable(conn, 0, 40)
        with conn.cursor() as cur:
            cur.execute("""
                SELECT DISTINCT s.movie_id::text, c.name FROM showtimes s
                JOIN theaters t ON t.id = s.theater_id JOIN cities c ON c.id = t.city_id
                WHERE s.start_time > now() ORDER BY 1, 2 LIMIT 20""")
            paths = [f"/movies/{m}/showtimes?city={urllib.parse.quote(city)}" for m, city in cur.fetchall()]
        conn.rollback()
        if len(shows) < 10 or not paths:
            raise RuntimeError(f"the demo data has {len(shows)} bookable showtimes and {len(paths)} searches")
        return shows, paths

    def users(self, port: int, n: int, tag: str) -> list[str]:
        """Registers `n` customers through `port` and returns their access tokens."""
        rec = Recorder()
        tokens = []
        run = uuid.uuid4().hex[:8]
        for k in range(n):
            c = Client("127.0.0.1", port, None, rec)
            email = f"chaos-{tag}-{run}-{k}@example.com"
            status, _, _ = c.call("POST", "/users", "POST /users", {
                "name": "Chaos Drill", "email": email, "phoneNumber": "+1 212 555 0100", "password": "chaos-drill-pw"})
            if status != 201:
                raise RuntimeError(f"registering a user answered {status}")
            status, body, _ = c.call("POST", "/auth/token", "POST /auth/token",
                                     {"email": email, "password": "chaos-drill-pw"})
            if status != 200 or not isinstance(body, dict):
                raise RuntimeError(f"logging in answered {status}")
            tokens.append(body.get("accessToken") or body.get("access_token"))
            c.close()
        return tokens

    # -- drills ------------------------------------------------------------------------------------------------
    def drill(self, number: int) -> dict:
        name = DRILLS[number]
        log(f"drill {number}: {name}")
        mix = Mix()
        load = Load(HAPROXY_HTTP, self.tokens, self.showtimes, self.movie_paths, self.recorder, mix, seed=number)
        start = time.time()
        watch = AuthorityWatch(self.topo, self.epoch) if number in DB_FAULTS else None
        if watch:
            watch.start()
        load.start()
        time.sleep(BASELINE_S)  # the steady window the drill's throughput is compared with
        fault = time.time()
        notes: dict = {}
        try:
            inject = getattr(self, f"fault_{number}")
            notes = inject() or {}
        finally:
            recovered = time.time()
            time.sleep(AFTER_S)  # load goes on after recovery: the window "time to full throughput" is read in
            load.stop()
            if watch:
                notes["authority"] = watch.stop()
        end = time.time()
        self.timeline_marks.append((fault - self.epoch, f"drill {number}"))
        figures = checker.client_figures(self.recorder.requests, fault, end, start + 1)
        db = self.check()
        # Acknowledgements are checked cumulatively; a drill is charged only with the losses it added.
        lost_now = set(db["ack_lost_ids"])
        db["ack_lost_total"] = db["ack_lost"]
        db["ack_lost"] = len(lost_now - self.lost_before)
        self.lost_before |= lost_now
        result = {
            "drill": number,
            "name": name,
            "start": round(start - self.epoch, 2),
            "fault": round(fault - self.epoch, 2),
            "recovered_after_s": round(recovered - fault, 2),
            "end": round(end - self.epoch, 2),
            "client": asdict(figures) | {"read_error_rate": round(figures.read_error_rate, 4)},
            "database": db,
            "notes": notes,
        }
        result["violations"] = checker.violations(db)
        old = notes.get("old_primary")
        if old and leader_key_returned([(a[0], tuple(a[1:])) for a in notes.get("authority", [])], old):
            result["violations"].append(f"leader key went back to {old} after another node held it")
        if number in (1, 2, 3) and (figures.first_write_after_fault_s or 0) > WRITE_GOAL_S:
            result["violations"].append(f"writes back after {figures.first_write_after_fault_s}s > {WRITE_GOAL_S}s")
        log(f"drill {number}: {figures.errors}/{figures.requests} errors, first write after "
            f"{figures.first_write_after_fault_s}s, full throughput after {figures.full_throughput_after_s}s, "
            f"violations: {result['violations'] or 'none'}")
        self.results.append(result)
        return result

    def check(self) -> dict:
        """The database checks, once the worker has had its chance: payments settled, outbox drained."""
        pending_after = 5 + 2 * 2 + 5  # RECONCILE_AFTER + two reconcile intervals + slack

        def settled():
            try:
                with self.db.cursor() as cur:
                    cur.execute("SELECT (SELECT count(*) FROM bookings WHERE status = 'payment_pending'),"
                                " (SELECT count(*) FROM outbox WHERE sent_at IS NULL)")
                    row = cur.fetchone()
                self.db.rollback()
                return row == (0, 0)
            except psycopg2.Error:
                self.reconnect()
                return False
        try:
            # The outbox lease (batch 5 x SMTP timeout 2 s + 30 s = 40 s) bounds how long a claim whose answer was lost
            # (a primary frozen mid-claim) keeps its mails: wait past it.
            wait_for("payments settled and mails sent", settled, 60, 0.5)
        except RuntimeError as err:
            log(str(err))
        for _ in range(3):
            try:
                return checker.check_database(self.db, self.recorder.acks, self.attempts(),
                                              ROOT / "var" / "chaos" / "mail", pending_after)
            except psycopg2.Error:
                self.reconnect()
        raise RuntimeError("cannot check the database")

    def attempts(self) -> dict[str, set[str]]:
        """Bookings with a payment or cancellation we sent that got no 2xx (see checker.expectations)."""
        acked = {(a.booking, a.op) for a in self.recorder.acks}
        out: dict[str, set[str]] = {}
        for booking, op in self.recorder.tried:
            if (booking, op) not in acked:
                out.setdefault(booking, set()).add(op)
        return out

    def reconnect(self) -> None:
        try:
            self.db.close()
        except psycopg2.Error:
            pass
        self.db = wait_for("the primary through HAProxy", self._connect, 30, 0.5)

    @staticmethod
    def _connect():
        try:
            return psycopg2.connect(host="127.0.0.1", port=HAPROXY_WRITE, user="postgres", dbname=DBNAME,
                                    connect_timeout=2)
        except psycopg2.Error:
            return None

    # -- faults ------------------------------------------------------------------------------------------------
    def fault_1(self) -> dict:
        old = self.topo.leader()
        pids = self.topo.node_pids(old)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.topo.procs[node_name(old)].wait()
        new = wait_for("a new primary", lambda: self.promoted_other_than(old), 60, 0.2)
        promoted = time.time()
        self.topo.start_patroni(old)
        self.topo.wait_healthy(90)
        return {"old_primary": node_name(old), "new_primary": new, "killed_pids": len(pids),
                "promoted_at": round(promoted - self.epoch, 2)}

    def fault_2(self) -> dict:
        old = self.topo.leader()
        members = self.topo.members()
        cand = next(m["name"] for m in members if m.get("role") == "sync_standby")
        subprocess.run(["patronictl", "-c", str(self.topo.base / f"{node_name(old)}.yml"), "switchover",
                        "--leader", node_name(old), "--candidate", cand, "--force"], check=True,
                       capture_output=True)
        wait_for("the candidate to lead", lambda: self.topo.leader() == int(cand[2:]) - 1, 60)
        self.topo.wait_healthy(90)
        return {"old_primary": node_name(old), "new_primary": cand}

    def promoted_other_than(self, old: int) -> str | None:
        """The node holding the leader key if it is not `old`, read from etcd (Patroni's REST APIs answer slowly or
        not at all on a loaded machine: a netns drill 1 saw no leader through them for 60 s after a promotion at
        +10 s)."""
        holder = self.topo.authority()[0]
        return holder if holder not in (None, node_name(old)) else None

    def isolate(self, cut, restore) -> dict:
        """Drills 3 and 4: the primary stops answering (`cut(node)`), a replica is promoted meanwhile (or 20 s pass),
        the old primary stays away 20 s more and comes back (`restore(node)`); returns when the cluster is whole."""
        old = self.topo.leader()
        cut(old)
        try:
            new = wait_for("a new primary while the old one is away", lambda: self.promoted_other_than(old), 20, 0.2)
        except RuntimeError:
            new = None
        time.sleep(20)
        restore(old)
        self.topo.wait_healthy(120)
        return {"old_primary": node_name(old), "new_primary": new, "away_after_promotion_s": 20}

    def fault_3(self) -> dict:
        frozen: list[int] = []

        def freeze(node: int) -> None:
            frozen.extend(self.topo.node_pids(node))
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)

        def thaw(_node: int) -> None:
            for pid in frozen:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        return self.isolate(freeze, thaw) | {"frozen_pids": len(frozen)}

    def fault_4(self) -> dict:
        if not self.topo.netns:
            # Cutting one node off needs it in its own network namespace from the start (loopback is per namespace).
            reason = self.netns_error or "run without --netns: every node on the host's loopback"
            return self.fault_3() | {"fallback": f"drill 3: {reason}"}
        result = self.isolate(lambda n: self.topo.cut_off(n, True), lambda n: self.topo.cut_off(n, False))
        return result | {"cut_off": "nftables in the node's namespace drops everything but its loopback"}

    def fault_5(self) -> dict:
        self.topo.kill("pod2", signal.SIGKILL)
        killed = time.time()
        self.topo.wait_balancer(2)
        noticed = time.time()
        time.sleep(3)  # the pod stays dead a while: the balancer must do without it
        self.topo.start_pod(1)
        self.topo.wait_balancer(3)
        return {"pod": "pod2", "balancer_noticed_s": round(noticed - killed, 2), "down_s": round(time.time() - killed, 2)}

    def fault_6(self) -> dict:
        pid = int((ROOT / "var" / "chaos" / "redis" / "redis.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        time.sleep(5)  # Redis stays away for a while: the pods must serve without it
        subprocess.run([str(ROOT / "scripts" / "stack.sh"), "up", "chaos"], check=True, capture_output=True)
        return {"redis_down_s": 5}

    def fault_7(self) -> dict:
        self.fail_flag.write_text("down\n")
        time.sleep(20)
        self.fail_flag.unlink()
        return {"provider_down_s": 20}

    def fault_8(self) -> dict:
        self.topo.kill("worker", signal.SIGKILL)
        time.sleep(2)
        self.topo.start_worker()
        return {"worker_down_s": 2}

    # -- cost of HA --------------------------------------------------------------------------------------------
    def measure_cost_of_ha(self, rounds: int = 4, seconds: int = 8, connections: int = 16) -> dict:
        """Uncontended two-seat holds/s with wrk and loadtest/holds.lua (make loadtest's holds): a pod whose writes
        go through HAProxy to the synchronously replicated primary against a pod on the single node (a fresh
        database, same seed, same binary, same settings), rounds interleaved (ABBA), each round on work blocks of its
        own, after a 4 s warm-up run of each. The ratio is the median of the rounds' ratios."""
        single_url = f"postgres://postgres@127.0.0.1:{SINGLE_PG_PORT}/boxoffice_single"
        admin = psycopg2.connect(host="127.0.0.1", port=SINGLE_PG_PORT, user="postgres", dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS boxoffice_single WITH (FORCE)")
            cur.execute("CREATE DATABASE boxoffice_single")
        admin.close()
        env = {"BOXOFFICE_DATABASE_URL": single_url, "BOXOFFICE_READ_DATABASE_URL": single_url}
        self.topo.boxoffice("migrate", env=env)
        self.topo.boxoffice("seed", "--demo", env=env)
        port = 21054
        senv = service_env(self.topo.service_extra) | env | {"BOXOFFICE_LISTEN_ADDR": f"127.0.0.1:{port}"}
        self.topo._spawn("pod-single", [str(self.topo.binary), "serve", "--routes", "all"], senv)
        wait_for("the single-node pod", lambda: http_json(f"http://127.0.0.1:{port}/readyz")[0] == 200, 30)
        per_round = 250  # blocks of 70 holds: 17,500 a round, more than 2,000 holds/s for 8 s
        sides = {"ha": (POD_PORTS[0], self.db_of_ha), "single": (port, self.db_of_single)}
        work = {}
        for kind, (p, connect) in sides.items():
            conn = connect()
            shows = self.bookable(conn, 40, per_round * (rounds + 1))  # past the drills' 40 showtimes
            conn.close()
            if len(shows) < per_round * (rounds + 1):
                raise RuntimeError(f"cost of HA: {len(shows)} bookable showtimes on {kind}")
            d = self.out / "cost-of-ha" / kind
            d.mkdir(parents=True, exist_ok=True)
            (d / "tokens.txt").write_text("\n".join(self.users(p, 16, f"cost-{kind}")) + "\n")
            (d / "blocks.txt").write_text("\n".join(shows) + "\n")
            work[kind] = (p, d)
        for kind, (p, d) in work.items():  # warm-up (caches, pools, plans) on the last range of blocks, not counted
            wrk_holds(p, d, rounds * per_round, 4, connections)
        figures: dict[str, list[dict]] = {"ha": [], "single": []}
        for k in range(rounds):
            for kind in (("ha", "single") if k % 2 == 0 else ("single", "ha")):
                p, d = work[kind]
                res = wrk_holds(p, d, k * per_round, seconds, connections)
                res["load_average"] = os.getloadavg()[0]
                figures[kind].append(res)
                log(f"cost of HA round {k + 1}: {kind} {res['rps']:.1f} holds/s ({res['statuses']})")
        self.topo.kill("pod-single", signal.SIGTERM)
        return cost_summary(figures, seconds, connections, per_round * 70)

    def db_of_ha(self):
        return psycopg2.connect(host="127.0.0.1", port=HAPROXY_WRITE, user="postgres", dbname=DBNAME)

    @staticmethod
    def db_of_single():
        return psycopg2.connect(host="127.0.0.1", port=SINGLE_PG_PORT, user="postgres", dbname="boxoffice_single")

    @staticmethod
    def bookable(conn, offset: int, limit: int) -> list[str]:
        """Showtimes a day or more ahead on screens with rows A-J x 1-14 (what holds.lua asks for), in a fixed order."""
        with conn.cursor() as cur:
            cur.execute("""
                SELECT s.id::text FROM showtimes s
                WHERE s.start_time > now() + interval '1 day' AND s.status = 'scheduled'
                  AND (SELECT count(*) FROM seats z WHERE z.region = s.region AND z.theater_id = s.theater_id
                       AND z.screen_number = s.screen_number AND z.seat_label ~ '^[A-J]([1-9]|1[0-4])$') = 140
                ORDER BY s.start_time, s.id OFFSET %s LIMIT %s""", (offset, limit))
            shows = [r[0] for r in cur.fetchall()]
        conn.rollback()
        return shows


def wrk_holds(port: int, work: Path, first_block: int, seconds: int, connections: int) -> dict:
    """One wrk run of loadtest/holds.lua against a pod: its WRK_JSON figures (requests/s, latencies, statuses)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(ROOT / "loadtest" / "holds.lua"),
         f"http://127.0.0.1:{port}", "--", str(work), str(first_block), "2"],
        capture_output=True, text=True, check=True).stdout
    return parse_wrk_json(out)


def parse_wrk_json(out: str) -> dict:
    """The figures holds.lua prints on its `WRK_JSON {...}` line."""
    for line in out.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON "):])
    raise RuntimeError(f"wrk printed no result: {out[-300:]}")


def cost_summary(figures: dict[str, list[dict]], seconds: int, connections: int, holds_per_round: int) -> dict:
    """The cost of HA from interleaved rounds: holds/s counting 201s only, per side the median, and the median of
    the per-round ratios (each round's two runs were taken back to back, under the same background load)."""
    def ok_rps(r: dict) -> float:
        return r["statuses"].get("201", 0) / r["seconds"] if r["seconds"] else 0.0

    ha = [ok_rps(r) for r in figures["ha"]]
    single = [ok_rps(r) for r in figures["single"]]
    ratios = [a / b for a, b in zip(ha, single) if b]
    not_201 = sum(n for side in figures.values() for r in side for s, n in r["statuses"].items() if s != "201")
    out_of_work = any(r["requests"] >= holds_per_round for side in figures.values() for r in side)
    return {"ha_holds_per_s": round(statistics.median(ha), 1),
            "single_holds_per_s": round(statistics.median(single), 1),
            "ratio": round(statistics.median(ratios), 3) if ratios else None,
            "round_ratios": [round(x, 3) for x in ratios], "not_201": not_201, "out_of_work": out_of_work,
            "rounds": {k: [{"rps": round(ok_rps(r), 1), "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
                            "load_average": r.get("load_average")} for r in v] for k, v in figures.items()},
            "seconds_per_round": seconds, "connections": connections, "client": "wrk + loadtest/holds.lua"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drills", default="1,5", help="comma list of drill numbers, or 'all'")
    parser.add_argument("--out", required=True)
    parser.add_argument("--binary", default=str(ROOT / "target" / "debug" / "boxoffice"))
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--cost-of-ha", action="store_true")
    parser.add_argument("--netns", action="store_true",
                        help="each PostgreSQL/Patroni node in its own network namespace (drill 4 cuts one off)")
    args = parser.parse_args()
    drills = sorted(DRILLS) if args.drills == "all" else [int(d) for d in args.drills.split(",")]
    run = Run(args)
    started = time.time()
    try:
        run.up()
        if args.cost_of_ha:
            run.cost_of_ha = run.measure_cost_of_ha()
            log(f"cost of HA: {run.cost_of_ha}")
        for d in drills:
            run.drill(d)
    except Exception as err:  # noqa: BLE001 - reported, then the topology is stopped either way
        log(f"run failed: {err!r}")
        run.results.append({"drill": None, "name": "set-up or drill failed", "error": repr(err),
                            "violations": ["run failed"]})
    finally:
        summary = report.write(run.out, run.results, run.recorder.requests, run.timeline_marks, run.epoch,
                               run.cost_of_ha, time.time() - started)
        run.topo.stop_all()
    failed = [r for r in run.results if r.get("violations")]
    log(f"report: {run.out / 'report.md'}; {len(run.results) - len(failed)}/{len(run.results)} drills passed")
    print(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
