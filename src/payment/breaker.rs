//! A small circuit breaker for the payment provider: closed (calls flow; consecutive failures are counted), open
//! (calls are refused at once until a cool-down has passed), half-open (one trial call decides: success closes,
//! failure opens again).
//!
//! A failure is a provider that did not answer in time or answered with a server error; a decline is a healthy
//! answer. The state is exported as the gauge `boxoffice_payment_circuit_state` (0 closed, 1 half-open, 2 open: the
//! alert `BoxofficePaymentCircuitOpen` fires at 2).
//! [`Core`] is the pure state machine (time is a parameter, so it is tested without sleeping); [`CircuitBreaker`]
//! wraps it in a mutex for the process.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls flow; `failures` consecutive failures so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// Calls are refused until `until`.
    Open {
        /// End of the cool-down.
        until: Instant,
    },
    /// The cool-down is over: one trial call is let through (`trial` says whether it is under way).
    HalfOpen {
        /// A trial call is under way.
        trial: bool,
    },
}

impl State {
    /// The gauge value, by severity: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Closed { .. } => 0.0,
            Self::HalfOpen { .. } => 1.0,
            Self::Open { .. } => 2.0,
        }
    }
}

/// Permission to call, from [`Core::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// An ordinary call (the circuit is closed).
    Normal,
    /// The half-open trial call: its outcome decides the state.
    Trial,
}

/// The pure state machine.
#[derive(Debug, Clone)]
pub struct Core {
    state: State,
    threshold: u32,
    cooldown: Duration,
}

impl Core {
    /// A closed breaker that opens after `threshold` consecutive failures for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { state: State::Closed { failures: 0 }, threshold: threshold.max(1), cooldown }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Asks to make a call at `now`.
    ///
    /// # Errors
    /// How long until a call may be tried again, when the circuit is open or its trial call is under way.
    pub fn acquire(&mut self, now: Instant) -> Result<Admission, Duration> {
        match self.state {
            State::Closed { .. } => Ok(Admission::Normal),
            State::Open { until } if now < until => Err(until - now),
            State::Open { .. } | State::HalfOpen { trial: false } => {
                self.state = State::HalfOpen { trial: true };
                Ok(Admission::Trial)
            }
            // Another caller's trial decides; ask to come back shortly.
            State::HalfOpen { trial: true } => Err(Duration::from_secs(1).min(self.cooldown)),
        }
    }

    /// Reports a healthy answer.
    pub fn success(&mut self, admission: Admission) {
        match (self.state, admission) {
            (State::Closed { .. }, _) | (State::HalfOpen { .. }, Admission::Trial) => {
                self.state = State::Closed { failures: 0 };
            }
            // A call admitted before the circuit opened says nothing about the provider now.
            (State::Open { .. }, _) | (State::HalfOpen { .. }, Admission::Normal) => {}
        }
    }

    /// Reports a failure at `now`.
    pub fn failure(&mut self, admission: Admission, now: Instant) {
        match (self.state, admission) {
            (State::Closed { failures }, _) => {
                let failures = failures + 1;
                self.state = if failures >= self.threshold {
                    State::Open { until: now + self.cooldown }
                } else {
                    State::Closed { failures }
                };
            }
            (State::HalfOpen { .. }, Admission::Trial) => self.state = State::Open { until: now + self.cooldown },
            (State::Open { .. }, _) | (State::HalfOpen { .. }, Admission::Normal) => {}
        }
    }

    /// A trial call that ended without an outcome (its caller went away): let the next caller try.
    pub fn abandon(&mut self, admission: Admission) {
        if admission == Admission::Trial && self.state == (State::HalfOpen { trial: true }) {
            self.state = State::HalfOpen { trial: false };
        }
    }
}

/// The process-wide breaker. The mutex guards a few words and is never held across an await.
#[derive(Debug)]
pub struct CircuitBreaker {
    core: Mutex<Core>,
}

impl CircuitBreaker {
    /// A closed breaker (see [`Core::new`]); publishes the gauge.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        let core = Core::new(threshold, cooldown);
        metrics::gauge!("boxoffice_payment_circuit_state").set(core.state().gauge());
        Self { core: Mutex::new(core) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Core) -> T) -> T {
        // A poisoned lock only means a panic elsewhere while holding it; the state is still a valid state.
        let mut core = self.core.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = f(&mut core);
        metrics::gauge!("boxoffice_payment_circuit_state").set(core.state().gauge());
        result
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.with(|core| core.state())
    }

    /// How long calls will still be refused, if the circuit is open now (a check that admits nothing).
    pub fn open_for(&self) -> Option<Duration> {
        let now = Instant::now();
        match self.state() {
            State::Open { until } if now < until => Some(until - now),
            _ => None,
        }
    }

    /// Asks to make a call now; the permit must be given its outcome (dropping it abandons a trial).
    ///
    /// # Errors
    /// How long until a call may be tried again.
    pub fn acquire(&self) -> Result<Permit<'_>, Duration> {
        let admission = self.with(|core| core.acquire(Instant::now()))?;
        Ok(Permit { breaker: self, admission, settled: false })
    }
}

/// A call in progress under the breaker.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    admission: Admission,
    settled: bool,
}

impl Permit<'_> {
    /// The provider answered (including a decline).
    pub fn success(mut self) {
        self.settled = true;
        let admission = self.admission;
        self.breaker.with(|core| core.success(admission));
    }

    /// The provider failed (timeout, server error, unreachable).
    pub fn failure(mut self) {
        self.settled = true;
        let admission = self.admission;
        self.breaker.with(|core| core.failure(admission, Instant::now()));
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let admission = self.admission;
            self.breaker.with(|core| core.abandon(admission));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(30);

    #[test]
    fn consecutive_failures_open_the_circuit_and_a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut core = Core::new(3, COOL);
        for _ in 0..2 {
            assert_eq!(core.acquire(t0), Ok(Admission::Normal));
            core.failure(Admission::Normal, t0);
        }
        core.success(Admission::Normal);
        assert_eq!(core.state(), State::Closed { failures: 0 });
        for _ in 0..3 {
            core.failure(Admission::Normal, t0);
        }
        assert_eq!(core.state(), State::Open { until: t0 + COOL });
        assert_eq!(core.acquire(t0 + Duration::from_secs(10)), Err(Duration::from_secs(20)));
    }

    #[test]
    fn after_the_cool_down_one_trial_decides() {
        let t0 = Instant::now();
        let mut core = Core::new(1, COOL);
        core.failure(Admission::Normal, t0);
        let later = t0 + COOL;
        assert_eq!(core.acquire(later), Ok(Admission::Trial));
        assert_eq!(core.state(), State::HalfOpen { trial: true });
        // A second caller during the trial is refused.
        assert!(core.acquire(later).is_err());
        // The trial fails: open again for a whole cool-down.
        core.failure(Admission::Trial, later);
        assert_eq!(core.state(), State::Open { until: later + COOL });
        // The next trial succeeds: closed.
        let again = later + COOL;
        assert_eq!(core.acquire(again), Ok(Admission::Trial));
        core.success(Admission::Trial);
        assert_eq!(core.state(), State::Closed { failures: 0 });
        assert_eq!(core.acquire(again), Ok(Admission::Normal));
    }

    #[test]
    fn late_answers_of_calls_admitted_before_opening_change_nothing() {
        let t0 = Instant::now();
        let mut core = Core::new(1, COOL);
        core.failure(Admission::Normal, t0);
        core.success(Admission::Normal);
        assert_eq!(core.state(), State::Open { until: t0 + COOL });
        core.failure(Admission::Normal, t0 + Duration::from_secs(5));
        assert_eq!(core.state(), State::Open { until: t0 + COOL }, "the cool-down is not extended");
        let _ = core.acquire(t0 + COOL);
        core.success(Admission::Normal);
        assert_eq!(core.state(), State::HalfOpen { trial: true }, "only the trial closes the circuit");
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_caller_try() {
        let breaker = CircuitBreaker::new(1, Duration::ZERO);
        breaker.acquire().expect("closed").failure();
        assert!(matches!(breaker.state(), State::Open { .. }));
        let trial = breaker.acquire().expect("cool-down of zero has passed");
        assert_eq!(breaker.state(), State::HalfOpen { trial: true });
        drop(trial);
        assert_eq!(breaker.state(), State::HalfOpen { trial: false });
        breaker.acquire().expect("a new trial").success();
        assert_eq!(breaker.state(), State::Closed { failures: 0 });
        assert_eq!(breaker.open_for(), None);
    }

    #[test]
    fn the_gauge_orders_states_by_severity() {
        let t = Instant::now();
        let values = [
            State::Closed { failures: 0 }.gauge(),
            State::HalfOpen { trial: false }.gauge(),
            State::Open { until: t }.gauge(),
        ];
        assert_eq!(values, [0.0, 1.0, 2.0]);
    }
}
