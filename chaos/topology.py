"""The highly available topology of `make chaos`, on loopback ports 21000-21999, every daemon started and stopped by PID.

    etcd x3 (clients 21001-21003, peers 21011-21013)
    Patroni x3 (REST 21021-21023) managing PostgreSQL 15 x3 (21031-21033), synchronous_mode: true
    HAProxy: writes 21040 (-> Patroni /primary), reads 21041 (-> /replica), HTTP 21042 (-> /readyz of the pods),
             stats 21043
    boxoffice serve x3 (21051-21053), boxoffice worker (metrics 21060)
    Redis 21070, SMTP sink 21071 and the single node 21080: scripts/stack.sh's `chaos` profile

PostgreSQL and Patroni run as the `postgres` OS user (PostgreSQL refuses root). The PostgreSQL settings of the nodes
are those scripts/stack.sh writes for its own servers: read from the single node's `boxoffice.conf`, so there is one
place that decides them.

The config builders are pure functions (tested in tests/test_topology.py); `Topology` starts and stops processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ETCD_CLIENT = [21001, 21002, 21003]
ETCD_PEER = [21011, 21012, 21013]
PATRONI_REST = [21021, 21022, 21023]
PG_PORTS = [21031, 21032, 21033]
HAPROXY_WRITE = 21040
HAPROXY_READ = 21041
HAPROXY_HTTP = 21042
HAPROXY_STATS = 21043
POD_PORTS = [21051, 21052, 21053]
WORKER_METRICS = 21060
REDIS_PORT = 21070
SMTP_PORT = 21071
SINGLE_PG_PORT = 21080
SCOPE = "boxoffice-chaos"
DBNAME = "boxoffice"
PG_BIN = "/usr/lib/postgresql/15/bin"

# The namespaced layout (`Topology(netns=True)`, drill 4): each PostgreSQL/Patroni node runs in its own network
# namespace, reached through a veth pair on a bridge in the host's namespace (no routing, no ip_forward). The host
# (etcd, HAProxy) is NET.1 on the bridge, node i is NET.(11 + i). Names carry the port range (21) so they are ours.
NETNS_NET = "10.210.21"
NETNS_BRIDGE = "bo21br"

# Settings of stack.sh's boxoffice.conf that belong to one server, not to the cluster: Patroni sets them per node.
_PER_NODE = {"listen_addresses", "port", "unix_socket_directories"}


def node_name(i: int) -> str:
    """The Patroni member name of node `i` (0-based)."""
    return f"pg{i + 1}"


def netns_name(i: int) -> str:
    """The network namespace of node `i` in the namespaced layout."""
    return f"bo21-{node_name(i)}"


def node_addr(i: int, netns: bool) -> str:
    """The address node `i` listens on (PostgreSQL, Patroni's REST API): loopback, or its namespace's veth."""
    return f"{NETNS_NET}.{11 + i}" if netns else "127.0.0.1"


def host_addr(netns: bool) -> str:
    """The address the nodes reach etcd at: loopback, or the host's end of the bridge."""
    return f"{NETNS_NET}.1" if netns else "127.0.0.1"


def netns_setup_commands() -> list[list[str]]:
    """The `ip` calls that build the namespaced layout: a bridge with the host's address, and per node a namespace
    with one end of a veth pair (the other end on the bridge), its address, and its loopback up."""
    cmds = [["ip", "link", "add", NETNS_BRIDGE, "type", "bridge"],
            ["ip", "addr", "add", f"{NETNS_NET}.1/24", "dev", NETNS_BRIDGE],
            ["ip", "link", "set", NETNS_BRIDGE, "up"]]
    for i in range(3):
        ns, host_end, node_end = netns_name(i), f"bo21h{i + 1}", f"bo21n{i + 1}"
        cmds += [["ip", "netns", "add", ns],
                 ["ip", "link", "add", host_end, "type", "veth", "peer", "name", node_end],
                 ["ip", "link", "set", host_end, "master", NETNS_BRIDGE, "up"],
                 ["ip", "link", "set", node_end, "netns", ns],
                 ["ip", "-n", ns, "addr", "add", f"{node_addr(i, True)}/24", "dev", node_end],
                 ["ip", "-n", ns, "link", "set", node_end, "up"],
                 ["ip", "-n", ns, "link", "set", "lo", "up"]]
    return cmds


def netns_teardown_commands() -> list[list[str]]:
    """Removes the namespaced layout (a namespace's removal takes its veth pair with it); errors are ignored."""
    return [["ip", "netns", "del", netns_name(i)] for i in range(3)] + [["ip", "link", "del", NETNS_BRIDGE]]


# nftables ruleset loaded inside a node's namespace to cut it off: everything but its own loopback is dropped, both
# ways, established connections included (a cable pulled, not a port closed: peers see silence, not resets).
CUT_OFF_RULES = """table inet chaos_cut {
    chain input { type filter hook input priority 0; policy drop; iif "lo" accept; }
    chain output { type filter hook output priority 0; policy drop; oif "lo" accept; }
}
"""


def parse_pg_conf(text: str) -> dict[str, str]:
    """The `name = value` settings of a postgresql.conf fragment, without the per-node ones (quotes stripped)."""
    settings = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" not in line:
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        if name in _PER_NODE:
            continue
        settings[name] = value.strip("'")
    return settings


def etcd_args(i: int, data_dir: Path, netns: bool = False) -> list[str]:
    """The command line of etcd member `i` of the three. Namespaced layout: clients (Patroni in the nodes'
    namespaces) also reach it on the bridge, and that is the address it advertises (Patroni's client discovers the
    members from it)."""
    name = f"etcd{i + 1}"
    clients = f"http://127.0.0.1:{ETCD_CLIENT[i]}"
    if netns:
        clients += f",http://{host_addr(True)}:{ETCD_CLIENT[i]}"
    cluster = ",".join(f"etcd{j + 1}=http://127.0.0.1:{ETCD_PEER[j]}" for j in range(3))
    return [
        "etcd",
        "--name", name,
        "--data-dir", str(data_dir),
        "--listen-client-urls", clients,
        "--advertise-client-urls", f"http://{host_addr(netns)}:{ETCD_CLIENT[i]}",
        "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PEER[i]}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PEER[i]}",
        "--initial-cluster", cluster,
        "--initial-cluster-state", "new",
        "--initial-cluster-token", SCOPE,
        # Loopback: a short heartbeat keeps a leader change in etcd itself well under Patroni's ttl.
        "--heartbeat-interval", "100",
        "--election-timeout", "1000",
        # Patroni talks to etcd through the v2 API (see patroni_config): etcd 3.4 serves it when asked.
        "--enable-v2=true",
        "--log-level", "warn",
    ]


def patroni_config(i: int, base: Path, pg_settings: dict[str, str], netns: bool = False) -> dict:
    """Patroni's YAML (as a dict; JSON is YAML) for node `i`.

    `ttl` 10 s and `loop_wait` 1 s: a dead primary's leader key lapses within 10 s and a replica takes it over on its
    next loop (the drills' goal is writes back within 15 s). `synchronous_mode: true`: a commit is acknowledged once
    it is on a second node, so the promoted replica has every acknowledged write; `synchronous_mode_strict` stays off
    so that the cluster keeps taking writes with one node left (availability over a second copy, as Patroni's default).

    The DCS is etcd's v2 API (`etcd:`), not v3 (`etcd3:`): Debian's Patroni 3.0.2 renews the leader key of etcd3
    with an unconditional PUT once its lease has lapsed (fixed upstream in 3.0.3, patroni/patroni#2689). A primary
    frozen past `ttl` (drill 3) thaws, finds its lease gone, takes a new one and overwrites the key that the promoted
    replica holds: the new primary demotes itself and pg_rewind throws away what it committed meanwhile. Through the
    v2 API the renewal is a compare-and-swap on the key's value (`prevValue` = own name): the thawed node's write
    fails and it demotes itself.
    """
    name = node_name(i)
    addr = node_addr(i, netns)
    hba = ["local all all trust", "host all all 127.0.0.1/32 trust", "host replication all 127.0.0.1/32 trust",
           f"host all all {NETNS_NET}.0/24 trust", f"host replication all {NETNS_NET}.0/24 trust"]
    parameters = dict(pg_settings)
    parameters.update({
        "wal_level": "replica",
        "hot_standby": "on",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "wal_log_hints": "on",
        # A standby's query that conflicts with replay waits this long, then is canceled (I6: reads may lag).
        "max_standby_streaming_delay": "5s",
        "hot_standby_feedback": "on",
    })
    return {
        "scope": SCOPE,
        "name": name,
        "log": {"level": "INFO"},
        "restapi": {"listen": f"{addr}:{PATRONI_REST[i]}", "connect_address": f"{addr}:{PATRONI_REST[i]}"},
        "etcd": {"hosts": [f"{host_addr(netns)}:{p}" for p in ETCD_CLIENT]},
        "bootstrap": {
            "dcs": {
                "ttl": 10,
                "loop_wait": 1,
                "retry_timeout": 4,
                "maximum_lag_on_failover": 1048576,
                "synchronous_mode": True,
                # A node whose timeline is behind a member's (a thawed or reconnected old primary) never wins a
                # leader race, even when the /sync key would let it.
                "check_timeline": True,
                "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": parameters},
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
            "pg_hba": hba,
        },
        "postgresql": {
            "listen": f"{addr}:{PG_PORTS[i]}",
            "connect_address": f"{addr}:{PG_PORTS[i]}",
            "data_dir": str(base / "data" / name),
            "bin_dir": PG_BIN,
            "pgpass": str(base / "run" / f"pgpass-{name}"),
            "authentication": {
                "superuser": {"username": "postgres", "password": "postgres"},
                "replication": {"username": "replicator", "password": "replicator"},
                "rewind": {"username": "postgres", "password": "postgres"},
            },
            "parameters": {"unix_socket_directories": str(base / "run")},
            "pg_hba": hba,
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
    }


def haproxy_config(netns: bool = False) -> str:
    """HAProxy's configuration: the database frontends follow Patroni's REST health checks, the HTTP one the pods'.

    `on-marked-down shutdown-sessions` closes the client connections of a node that stops being the primary (or a
    replica), so the service sees a reset and reconnects (to the new primary) instead of talking to a demoted or
    frozen node. `retry-on conn-failure empty-response response-timeout` with `retries 2` and `option redispatch`
    resends a request whose pod died before answering to another pod: only for idempotent methods (HAProxy never
    retries a POST whose body it has sent, unless told, which we do not).
    """
    def pg_servers(path: str) -> str:
        return "\n".join(
            f"    server {node_name(i)} {node_addr(i, netns)}:{PG_PORTS[i]} check port {PATRONI_REST[i]} "
            f"inter 1s fall 2 rise 1 on-marked-down shutdown-sessions"
            for i in range(3)
        )

    pods = "\n".join(f"    server pod{i + 1} 127.0.0.1:{p} check inter 1s fall 2 rise 1" for i, p in enumerate(POD_PORTS))
    return f"""# Written by chaos/topology.py at every start.
global
    maxconn 4000
    log stdout format iso local0 notice

defaults
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 1s
    log global

listen stats
    bind 127.0.0.1:{HAPROXY_STATS}
    mode http
    stats enable
    stats uri /

listen pg_write
    bind 127.0.0.1:{HAPROXY_WRITE}
    mode tcp
    option httpchk GET /primary
    http-check expect status 200
    default-server on-marked-down shutdown-sessions
{pg_servers("/primary")}

listen pg_read
    bind 127.0.0.1:{HAPROXY_READ}
    mode tcp
    balance roundrobin
    option httpchk GET /replica
    http-check expect status 200
{pg_servers("/replica")}

listen http
    bind 127.0.0.1:{HAPROXY_HTTP}
    mode http
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    option redispatch
    retries 2
    retry-on conn-failure empty-response response-timeout
    timeout server 15s
{pods}
"""


def service_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every `boxoffice` process of the topology: writes through HAProxy to the primary, catalog
    reads through HAProxy to the replicas, short timeouts so no call outlives a dead node for long."""
    env = {
        "BOXOFFICE_DATABASE_URL": f"postgres://postgres@127.0.0.1:{HAPROXY_WRITE}/{DBNAME}",
        "BOXOFFICE_READ_DATABASE_URL": f"postgres://postgres@127.0.0.1:{HAPROXY_READ}/{DBNAME}",
        "BOXOFFICE_DB_DIALECT": "postgres",
        "BOXOFFICE_DB_TIMEOUT_MS": "1500",
        "BOXOFFICE_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}",
        "BOXOFFICE_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}",
        "BOXOFFICE_JWT_SECRET": "chaos-drills-shared-secret-0123456789abcdef",
        "BOXOFFICE_RATE_LIMITS": "off",
        "BOXOFFICE_LOG": "warn,boxoffice=info",
        "BOXOFFICE_PAYMENT_TIMEOUT_MS": "3000",
        "BOXOFFICE_RECONCILE_INTERVAL_SECS": "2",
        "BOXOFFICE_RECONCILE_AFTER_SECS": "5",
        "BOXOFFICE_OUTBOX_INTERVAL_MS": "300",
        # A claimed batch is leased for batch x SMTP timeout + 30 s: a worker killed (or cut from the database)
        # mid-batch leaves its mails to the next claim after that. Small batches, short timeout: a short lease.
        "BOXOFFICE_OUTBOX_BATCH": "5",
        "BOXOFFICE_SMTP_TIMEOUT_MS": "2000",
        "BOXOFFICE_SWEEP_INTERVAL_SECS": "2",
        "BOXOFFICE_REQUEST_TIMEOUT_MS": "10000",
    }
    env.update(extra or {})
    return env


def base_dir(root: Path) -> Path:
    """Where the cluster's files live: under /var/tmp, which the postgres user can reach whatever the checkout's
    permissions (as scripts/stack.sh does for its own servers)."""
    return Path(f"/var/tmp/boxoffice-chaos-{zlib.crc32(str(root).encode()):08x}")


def dcs_key_value(body: object) -> str | None:
    """The value of an etcd v2 key from the answer to its GET (None when the key is absent or etcd did not answer)."""
    if isinstance(body, dict) and isinstance(body.get("node"), dict):
        return body["node"].get("value")
    return None


def sync_standby(value: str | None) -> str | None:
    """The synchronous standby that Patroni's `/sync` key names (its value is JSON: leader, sync_standby)."""
    try:
        parsed = json.loads(value) if value else None
    except ValueError:
        return None
    return parsed.get("sync_standby") if isinstance(parsed, dict) else None


def balancer_up(csv: str, backend: str) -> list[str]:
    """The servers of HAProxy `backend` that its stats CSV shows UP, in order."""
    out = []
    for row in csv.splitlines():
        cols = row.split(",")
        if len(cols) > 17 and cols[0] == backend and cols[1] not in ("FRONTEND", "BACKEND") and cols[17] == "UP":
            out.append(cols[1])
    return out


def http_json(url: str, timeout: float = 1.0) -> tuple[int, object]:
    """GET `url`: (status, parsed JSON body or None); status 0 when nothing answered."""
    def parse(raw: bytes):
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, parse(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, parse(err.read())
    except OSError:
        return 0, None


def wait_for(what: str, check, timeout: float, interval: float = 0.2):
    """Polls `check()` until it returns a true value (returned) or `timeout` seconds pass (RuntimeError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def as_postgres() -> list[str]:
    """Prefix that runs a command as the postgres OS user (exec, so the PID is the command's own)."""
    if os.getuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


@dataclass
class Topology:
    """The running topology: every process it started, by PID."""

    root: Path
    binary: Path
    log_dir: Path
    service_extra: dict[str, str] = field(default_factory=dict)
    netns: bool = False
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def rest(self, i: int) -> str:
        """The base URL of node `i`'s Patroni REST API."""
        return f"http://{node_addr(i, self.netns)}:{PATRONI_REST[i]}"

    @property
    def base(self) -> Path:
        return base_dir(self.root)

    # -- processes ---------------------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
        log = open(self.log_dir / f"{name}.log", "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=full_env, cwd=cwd or "/",
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Sends `sig` to the process `name` that this topology started (nothing else)."""
        proc = self.procs.get(name)
        if proc and proc.poll() is None:
            proc.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    # -- etcd, Patroni, HAProxy ------------------------------------------------------------------------------
    def start_cluster(self, pg_settings: dict[str, str]) -> None:
        """Fresh etcd, three Patroni nodes (a new cluster) and HAProxy; returns once a primary and a synchronous
        standby are up. With `netns`, [`netns_up`] must have been called."""
        if self.base.exists():
            shutil.rmtree(self.base)
        for sub in ("etcd", "data", "run"):
            (self.base / sub).mkdir(parents=True)
        subprocess.run(["chown", "-R", "postgres:postgres", str(self.base / "data"), str(self.base / "run")],
                       check=True)
        os.chmod(self.base, 0o755)
        os.chmod(self.base / "data", 0o700)
        subprocess.run(["chown", "postgres:postgres", str(self.base / "data")], check=True)
        for i in range(3):
            self._spawn(f"etcd{i + 1}", etcd_args(i, self.base / "etcd" / f"etcd{i + 1}", self.netns))
        wait_for("etcd", lambda: http_json(f"http://127.0.0.1:{ETCD_CLIENT[0]}/health")[1] == {"health": "true"}, 30)
        for i in range(3):
            cfg = self.base / f"{node_name(i)}.yml"
            cfg.write_text(json.dumps(patroni_config(i, self.base, pg_settings, self.netns), indent=2))
            os.chmod(cfg, 0o644)
            self.start_patroni(i)
            if i == 0:
                wait_for("the first node to bootstrap", lambda: self.leader() is not None, 60)
        (self.base / "haproxy.cfg").write_text(haproxy_config(self.netns))
        self._spawn("haproxy", ["haproxy", "-db", "-f", str(self.base / "haproxy.cfg")])
        self.wait_healthy(90)

    def start_patroni(self, i: int) -> None:
        """Starts (or restarts) node `i`'s Patroni, which starts its PostgreSQL (in the node's namespace, if any;
        `ip netns exec` execs, so the PID is still Patroni's)."""
        inside = ["ip", "netns", "exec", netns_name(i)] if self.netns else []
        self._spawn(node_name(i), inside + as_postgres() + ["patroni", str(self.base / f"{node_name(i)}.yml")])

    def netns_up(self) -> None:
        """Builds the namespaced layout (after removing any leftover of ours); raises with the failing call."""
        self.netns_down()
        for cmd in netns_setup_commands():
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                self.netns_down()
                raise RuntimeError(f"`{' '.join(cmd)}` failed: {done.stderr.strip()}")

    def netns_down(self) -> None:
        for cmd in netns_teardown_commands():
            subprocess.run(cmd, capture_output=True)

    def cut_off(self, i: int, cut: bool) -> None:
        """Cuts node `i` off the network (nftables inside its namespace), or connects it again."""
        cmd = ["ip", "netns", "exec", netns_name(i), "nft"]
        if cut:
            subprocess.run(cmd + ["-f", "-"], input=CUT_OFF_RULES, text=True, check=True, capture_output=True)
        else:
            subprocess.run(cmd + ["delete", "table", "inet", "chaos_cut"], check=True, capture_output=True)

    def members(self) -> list[dict]:
        """Patroni's view of the cluster (`GET /cluster` of any node that answers)."""
        for i in range(3):
            status, body = http_json(f"{self.rest(i)}/cluster")
            if status == 200 and isinstance(body, dict):
                return body.get("members", [])
        return []

    def leader(self) -> int | None:
        """Index of the node that is the primary, if any."""
        for m in self.members():
            if m.get("role") == "leader" and m.get("state") == "running":
                return int(m["name"][2:]) - 1
        return None

    def healthy(self) -> bool:
        """A running leader, two streaming replicas (one synchronous), and HAProxy seeing the same primary."""
        members = self.members()
        roles = sorted(m.get("role") for m in members if m.get("state") in ("running", "streaming"))
        if roles != ["leader", "replica", "sync_standby"]:
            return False
        lead = self.leader()
        return lead is not None and http_json(f"{self.rest(lead)}/primary")[0] == 200

    def wait_healthy(self, timeout: float) -> None:
        """Waits until [`healthy`]."""
        try:
            wait_for("a healthy cluster (leader + sync standby + replica)", self.healthy, timeout, 0.5)
        except RuntimeError as err:
            raise RuntimeError(f"{err}; members: {self.members()}") from None

    def postmaster_pid(self, i: int) -> int | None:
        """The PID of node `i`'s postmaster (its postmaster.pid), if it runs."""
        try:
            pid = int((self.base / "data" / node_name(i) / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def node_pids(self, i: int) -> list[int]:
        """Patroni's PID and every PostgreSQL process of node `i` (postmaster and its children)."""
        pids = []
        proc = self.procs.get(node_name(i))
        if proc and proc.poll() is None:
            pids.append(proc.pid)
        pm = self.postmaster_pid(i)
        if pm:
            pids.append(pm)
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pm)], capture_output=True, text=True).stdout
            pids.extend(int(p) for p in out.split())
        return pids

    # -- the service ------------------------------------------------------------------------------------------
    def boxoffice(self, *args: str, env: dict[str, str] | None = None) -> None:
        """Runs a one-shot `boxoffice` command (migrate, seed) against the topology."""
        full = dict(os.environ)
        full.update(service_env(self.service_extra))
        full.update(env or {})
        subprocess.run([str(self.binary), *args], env=full, check=True, stdout=subprocess.DEVNULL)

    def start_pod(self, i: int) -> None:
        """Starts `boxoffice serve` number `i` and waits for its /readyz."""
        env = service_env(self.service_extra)
        env["BOXOFFICE_LISTEN_ADDR"] = f"127.0.0.1:{POD_PORTS[i]}"
        self._spawn(f"pod{i + 1}", [str(self.binary), "serve", "--routes", "all"], env)
        wait_for(f"pod{i + 1}", lambda: http_json(f"http://127.0.0.1:{POD_PORTS[i]}/readyz")[0] == 200, 30)

    def start_worker(self) -> None:
        """Starts the one `boxoffice worker`."""
        env = service_env(self.service_extra)
        env["BOXOFFICE_METRICS_ADDR"] = f"127.0.0.1:{WORKER_METRICS}"
        self._spawn("worker", [str(self.binary), "worker"], env)
        wait_for("the worker", lambda: http_json(f"http://127.0.0.1:{WORKER_METRICS}/healthz")[0] == 200, 30)

    def wait_balancer(self, pods: int = 3, timeout: float = 20) -> None:
        """Waits until HAProxy sees exactly `pods` pods up (its stats CSV)."""
        wait_for(f"HAProxy to see {pods} pods up", lambda: len(balancer_up(self.balancer_csv(), "http")) == pods,
                 timeout)

    def balancer_csv(self) -> str:
        """HAProxy's stats CSV ('' when it does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{HAPROXY_STATS}/;csv", timeout=1) as resp:
                return resp.read().decode()
        except OSError:
            return ""

    def authority(self) -> tuple[str | None, str | None, tuple[str, ...]]:
        """Who may write, as the parts that decide it see it: the holder of Patroni's leader key, the synchronous
        standby its `/sync` key names (both read from etcd), and the nodes HAProxy sends writes to."""
        keys = f"http://127.0.0.1:{ETCD_CLIENT[0]}/v2/keys/service/{SCOPE}"
        leader = dcs_key_value(http_json(f"{keys}/leader", 0.5)[1])
        sync = sync_standby(dcs_key_value(http_json(f"{keys}/sync", 0.5)[1]))
        return leader, sync, tuple(balancer_up(self.balancer_csv(), "pg_write"))

    def stop_all(self) -> None:
        """Stops everything this topology started (pods first, etcd last), then removes the cluster's files."""
        order = [n for n in self.procs if n.startswith(("pod", "worker"))] + ["haproxy"] + \
            [n for n in self.procs if n.startswith("pg")] + [n for n in self.procs if n.startswith("etcd")]
        for name in order:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            # A stopped (SIGSTOP) process must be continued before it can act on SIGTERM.
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for i in range(3):
            pm = self.postmaster_pid(i)
            if pm:  # Patroni killed with -9 leaves its PostgreSQL behind; it is ours: stop it.
                subprocess.run(as_postgres() + [f"{PG_BIN}/pg_ctl", "stop", "-m", "immediate", "-D",
                                                str(self.base / "data" / node_name(i))], capture_output=True)
        if self.netns:
            self.netns_down()
        if self.base.exists():
            shutil.rmtree(self.base, ignore_errors=True)
