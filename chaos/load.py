"""The drills' load: a steady, bounded mix of holds, payments, cancellations and reads through HAProxy.

Every request is recorded (`Request`: when it started and ended, its route, its status, 0 for no answer). Every
acknowledged write (a 2xx) is recorded too (`Ack`: booking id, the state the answer says, its seats), which is what
the checker holds the database to. A write that gets no answer or a 502/503/504 is retried with the same
Idempotency-Key for up to `retry_for` seconds, as a careful client would: the answer it finally gets must be the
original one (the replay), never a second booking or charge.

Standard library only (threads and http.client): the rate is bounded (each user paces itself), so a thread per
user is plenty, and the generator stays out of the way of the CPU the service needs.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

# Seats every synthetic and demo layout has (rows A-J, numbers 1-14; loadgen.rs relies on the same).
ROWS = "ABCDEFGHIJ"
NUMBERS = range(1, 15)
RETRYABLE = {0, 502, 503, 504}


@dataclass
class Request:
    """One HTTP exchange: times are seconds since the run's epoch (time.time())."""

    start: float
    end: float
    method: str
    route: str
    status: int
    write: bool
    retry: bool = False


@dataclass
class Ack:
    """An acknowledged write: booking `booking` is in `state` with `seats`, as of `at`."""

    at: float
    booking: str
    state: str
    seats: list[str]
    showtime: str
    op: str
    replayed: bool = False


@dataclass
class Recorder:
    """What the load saw, shared by its threads (a lock guards the lists: threads append, the drill reads)."""

    requests: list[Request] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    # (booking, op) of every payment or cancellation sent: one without an Ack may still have happened.
    tried: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, booking: str, op: str) -> None:
        with self.lock:
            self.tried.add((booking, op))

    def request(self, r: Request) -> None:
        with self.lock:
            self.requests.append(r)

    def ack(self, a: Ack) -> None:
        with self.lock:
            self.acks.append(a)


class Client:
    """One user's keep-alive connection to the balancer."""

    def __init__(self, host: str, port: int, token: str | None, recorder: Recorder, timeout: float = 15.0):
        self.host, self.port, self.token, self.recorder, self.timeout = host, port, token, recorder, timeout
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, route: str, body: dict | None = None, key: str | None = None,
             write: bool = False, retry: bool = False) -> tuple[int, dict | None, dict]:
        """One request: (status, JSON body or None, headers); status 0 when no answer came."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if key:
            headers["Idempotency-Key"] = key
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        start = time.time()
        status, parsed, resp_headers = 0, None, {}
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            status = resp.status
            resp_headers = {k.lower(): v for k, v in resp.getheaders()}
            if raw:
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = None
            if resp_headers.get("connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
        self.recorder.request(Request(start, time.time(), method, route, status, write, retry))
        return status, parsed, resp_headers

    def write(self, method: str, path: str, route: str, body: dict | None, retry_for: float, stop: threading.Event):
        """A write with an Idempotency-Key, retried with the same key while the answer is unknown or 5xx-transient."""
        key = str(uuid.uuid4())
        deadline = time.time() + retry_for
        attempt = 0
        while True:
            status, parsed, headers = self.call(method, path, route, body, key, write=True, retry=attempt > 0)
            kind = str(parsed.get("type", "")) if isinstance(parsed, dict) else ""
            in_flight = status == 409 and kind.endswith("idempotency-key-in-flight")
            # The provider is down (circuit open, provider error): a buyer tries again later, not in a loop; the
            # hold stays, and a payment whose outcome is unknown is the reconciler's.
            provider = kind.endswith(("payment-unavailable", "payment-provider-error"))
            if (status not in RETRYABLE and not in_flight) or provider or time.time() > deadline:
                return status, parsed, headers, attempt > 0
            attempt += 1
            # Polls again soon: the drill measures how fast writes come back, and the rate stays bounded by this.
            time.sleep(min(0.1 * attempt, 0.5))

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


@dataclass
class Mix:
    """Shares of each kind of action a user takes, and its pace."""

    hold: float = 0.35
    read_seats: float = 0.35
    read_search: float = 0.30
    pay_share: float = 0.5       # of acknowledged holds: pay them
    cancel_share: float = 0.25   # of acknowledged holds: cancel them (the rest stay held)
    per_user_rps: float = 6.0
    payment_token: str = "tok_visa"


class Load:
    """`users` threads, each one user with a token, until `stop()`."""

    def __init__(self, port: int, tokens: list[str], showtimes: list[str], movie_paths: list[str],
                 recorder: Recorder, mix: Mix | None = None, retry_for: float = 30.0, seed: int = 0):
        self.port, self.tokens, self.showtimes, self.movie_paths = port, tokens, showtimes, movie_paths
        self.recorder, self.mix, self.retry_for = recorder, mix or Mix(), retry_for
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.seed = seed

    def start(self) -> None:
        for n, token in enumerate(self.tokens):
            t = threading.Thread(target=self._user, args=(n, token), daemon=True, name=f"user{n}")
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        """Stops taking new actions and waits for every user to finish the one it is in (retries included)."""
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=self.retry_for + 20)
        self.threads.clear()

    def _user(self, n: int, token: str) -> None:
        rng = random.Random(self.seed * 1000 + n)
        client = Client("127.0.0.1", self.port, token, self.recorder)
        period = 1.0 / self.mix.per_user_rps
        try:
            while not self.stop_event.is_set():
                began = time.time()
                roll = rng.random()
                if roll < self.mix.hold:
                    self._booking(client, rng)
                elif roll < self.mix.hold + self.mix.read_seats:
                    show = rng.choice(self.showtimes)
                    client.call("GET", f"/showtimes/{show}/seats", "GET /showtimes/{id}/seats")
                else:
                    client.call("GET", rng.choice(self.movie_paths), "GET /movies/{id}/showtimes")
                rest = period - (time.time() - began)
                if rest > 0:
                    self.stop_event.wait(rest)
        finally:
            client.close()

    def _booking(self, client: Client, rng: random.Random) -> None:
        show = rng.choice(self.showtimes)
        row = rng.choice(ROWS)
        first = rng.choice(NUMBERS[:-1])
        seats = [f"{row}{first}", f"{row}{first + 1}"]
        status, body, headers, retried = client.write(
            "POST", "/bookings", "POST /bookings", {"showtimeId": show, "seatIds": seats}, self.retry_for,
            self.stop_event)
        if status != 201 or not isinstance(body, dict):
            return
        booking = body["id"]
        replayed = headers.get("idempotent-replayed") == "true"
        self.recorder.ack(Ack(time.time(), booking, body["status"], sorted(body_seats(body)), show, "hold", replayed))
        roll = rng.random()
        if roll < self.mix.pay_share:
            self.recorder.attempt(booking, "pay")
            status, body, headers, _ = client.write(
                "PUT", f"/bookings/{booking}/finalize", "PUT /bookings/{id}/finalize",
                {"payment": {"token": self.mix.payment_token}}, self.retry_for, self.stop_event)
            if status == 200 and isinstance(body, dict):
                self.recorder.ack(Ack(time.time(), booking, body["status"], sorted(body_seats(body)), show, "pay",
                                      headers.get("idempotent-replayed") == "true"))
        elif roll < self.mix.pay_share + self.mix.cancel_share:
            self.recorder.attempt(booking, "cancel")
            status, body, headers, _ = client.write(
                "DELETE", f"/bookings/{booking}", "DELETE /bookings/{id}", None, self.retry_for, self.stop_event)
            if status == 200 and isinstance(body, dict):
                self.recorder.ack(Ack(time.time(), booking, body["status"], sorted(body_seats(body)), show, "cancel",
                                      headers.get("idempotent-replayed") == "true"))


def body_seats(body: dict) -> list[str]:
    """The seat labels of a booking as the API shows it (`seats`: labels, or objects with a `label`)."""
    seats = body.get("seats") or []
    return [s["label"] if isinstance(s, dict) else str(s) for s in seats]
