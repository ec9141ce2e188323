//! Waiting in tests for something another thread or task will make true.
//!
//! A test that must wait polls a check with [`eventually`] (from plain threads) or
//! [`eventually_async`] (inside a Tokio runtime, where a blocking sleep would stall the very
//! tasks the test waits on). Both give up at a deadline and panic with what they waited for, so
//! a test that would have hung fails instead, and says why.
//!
//! The deadline only bounds a hang; it never measures speed. On a busy CI machine a step that
//! takes milliseconds alone can take seconds, so pass something generous, like
//! [`PATIENCE`]. A check that holds returns at once, so a long deadline costs nothing when all
//! is well.
#![allow(clippy::panic)]

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// A deadline for waits in tests: long enough for a loaded 2-core CI machine, short enough that
/// a hang is reported within the minute.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The first pause between two checks; it doubles after each failed check up to [`MAX_PAUSE`],
/// so a quick condition is seen quickly and a slow one costs little CPU.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// What a check returns: whether it holds yet, and if so the value the wait gives back.
///
/// - `bool`: holds when `true`; the wait gives back `()`.
/// - `Option<T>`: holds when `Some(t)`; the wait gives back `t` (find something, then use it).
/// - `Result<T, E>`: holds when `Ok(t)`; an `Err(e)` is what was seen instead, and the last one is
///   printed in the panic message (so a timeout shows the state it was stuck in).
pub trait Check {
    /// The value a wait gives back once the check holds.
    type Value;
    /// `Ok` with the value when the check holds, `Err` with a description of what was seen
    /// (possibly empty) when it does not.
    fn holds(self) -> Result<Self::Value, String>;
}

impl Check for bool {
    type Value = ();
    fn holds(self) -> Result<(), String> {
        if self { Ok(()) } else { Err(String::new()) }
    }
}

impl<T> Check for Option<T> {
    type Value = T;
    fn holds(self) -> Result<T, String> {
        self.ok_or_else(String::new)
    }
}

impl<T, E: Debug> Check for Result<T, E> {
    type Value = T;
    fn holds(self) -> Result<T, String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// Tracks a wait: when it gives up, and how long to pause before the next check.
struct Wait<'a> {
    what: &'a str,
    started: Instant,
    deadline: Duration,
    pause: Duration,
}

impl<'a> Wait<'a> {
    fn new(deadline: Duration, what: &'a str) -> Self {
        Wait {
            what,
            started: Instant::now(),
            deadline,
            pause: FIRST_PAUSE,
        }
    }

    /// After a failed check: panics past the deadline, else returns the pause to take.
    fn next_pause(&mut self, seen: &str) -> Duration {
        if self.started.elapsed() >= self.deadline {
            let seen = if seen.is_empty() {
                String::new()
            } else {
                format!("; last seen: {seen}")
            };
            panic!(
                "gave up after {:?} waiting for {}{seen}",
                self.deadline, self.what
            );
        }
        let pause = self.pause;
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        pause
    }
}

/// Calls `check` until it holds and returns its value; panics with `what` (and the last thing
/// `check` saw, if it returns a `Result`) once `deadline` has passed. Sleeps the thread between
/// checks: for tests on plain threads. Inside a Tokio runtime use [`eventually_async`].
///
/// ```
/// use std::time::Duration;
/// use stepwise_testkit::eventually;
///
/// let started = std::time::Instant::now();
/// eventually(Duration::from_secs(30), "a few milliseconds to pass", || {
///     started.elapsed() > Duration::from_millis(5)
/// });
/// ```
pub fn eventually<C: Check>(
    deadline: Duration,
    what: &str,
    mut check: impl FnMut() -> C,
) -> C::Value {
    let mut wait = Wait::new(deadline, what);
    loop {
        match check().holds() {
            Ok(value) => return value,
            Err(seen) => std::thread::sleep(wait.next_pause(&seen)),
        }
    }
}

/// [`eventually`] for async tests: `check` may await, and the pause between checks is Tokio's
/// sleep, so the runtime's other tasks go on while the test waits. A check that does not await
/// is still written as an async closure: `async || server.request_count() > 1`.
pub async fn eventually_async<C: Check>(
    deadline: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> C,
) -> C::Value {
    let mut wait = Wait::new(deadline, what);
    loop {
        match check().await.holds() {
            Ok(value) => return value,
            Err(seen) => tokio::time::sleep(wait.next_pause(&seen)).await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn returns_the_value_once_the_check_holds() {
        let calls = AtomicUsize::new(0);
        let value = eventually(PATIENCE, "the third call", || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            (n == 3).then_some(n)
        });
        assert_eq!(value, 3);
    }

    #[test]
    fn panics_with_what_it_waited_for_and_what_it_saw() {
        let failure = std::panic::catch_unwind(|| {
            eventually(Duration::from_millis(20), "the moon", || {
                Err::<(), _>("only stars")
            })
        })
        .unwrap_err();
        let message = failure.downcast_ref::<String>().unwrap();
        assert!(message.contains("waiting for the moon"), "{message}");
        assert!(message.contains("only stars"), "{message}");
    }

    #[test]
    fn the_async_wait_lets_other_tasks_run() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let set = flag.clone();
            tokio::spawn(async move { set.store(true, Ordering::SeqCst) });
            eventually_async(PATIENCE, "the spawned task", async || {
                flag.load(Ordering::SeqCst)
            })
            .await;
        });
    }
}
