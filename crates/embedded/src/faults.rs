//! Faults injected on purpose (`cityfix serve --inject-faults RATE`): the embedded adapters fail a
//! share of their calls the ways a sick disk or network does, to prove that the chain loses and
//! doubles nothing when its ports misbehave (README, Proof). Never on unless asked for.

use std::time::Duration;

use cityfix_app::ports::PortError;
use rand::Rng;

/// How long a call that times out hangs before it fails.
pub const TIMEOUT: Duration = Duration::from_millis(200);

/// The most a runner may be asked to fail: beyond this a message's retries run out before it
/// goes through, and the proof would measure the dead-letter queue instead.
pub const MOST: f64 = 0.5;

/// The share of calls that fail, each in one of the [`Fault`] ways, drawn independently.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    rate: f64,
}

/// One way a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refused before anything was done.
    Refused,
    /// Hung for [`TIMEOUT`], then failed, with nothing done.
    TimedOut,
    /// Done, but the answer was lost: the caller hears a failure of a write that happened (a
    /// commit whose acknowledgement never arrived). Writes only; a read fails as `Refused`.
    AnswerLost,
}

impl Faults {
    /// Fails the share `rate` of calls, from 0 up to [`MOST`].
    pub fn new(rate: f64) -> Result<Faults, String> {
        if (0.0..=MOST).contains(&rate) {
            Ok(Faults { rate })
        } else {
            Err(format!(
                "a fault rate is a share from 0 to {MOST} of the calls, not {rate}"
            ))
        }
    }

    /// The share of calls that fail.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Whether this call fails, and how.
    pub fn draw(&self) -> Option<Fault> {
        let mut rng = rand::thread_rng();
        if self.rate <= 0.0 || !rng.gen_bool(self.rate) {
            return None;
        }
        Some(match rng.gen_range(0..3) {
            0 => Fault::Refused,
            1 => Fault::TimedOut,
            _ => Fault::AnswerLost,
        })
    }
}

impl Fault {
    /// The error the caller hears, naming the call that failed.
    pub fn error(self, call: &str) -> PortError {
        let how = match self {
            Fault::Refused => "refused",
            Fault::TimedOut => "timed out",
            Fault::AnswerLost => "done, but its answer was lost",
        };
        PortError::Unavailable(format!("injected fault: {call} {how}"))
    }
}

/// Runs `call` unless a fault is drawn for it: a refusal or a timeout fails before it is
/// called; a lost answer lets it run and then fails. `writes` says whether the call changes
/// anything (a read's lost answer is only a refusal).
pub async fn faulty<T, F>(
    faults: Option<&Faults>,
    name: &str,
    writes: bool,
    call: F,
) -> Result<T, PortError>
where
    F: std::future::Future<Output = Result<T, PortError>>,
{
    match faults.and_then(Faults::draw) {
        None => call.await,
        Some(Fault::AnswerLost) if writes => {
            // the outcome, whatever it was, is not heard
            let _ = call.await;
            Err(Fault::AnswerLost.error(name))
        }
        Some(Fault::TimedOut) => {
            tokio::time::sleep(TIMEOUT).await;
            Err(Fault::TimedOut.error(name))
        }
        Some(_) => Err(Fault::Refused.error(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_a_share_up_to_half_the_calls() {
        assert!(Faults::new(0.05).is_ok());
        assert!(Faults::new(0.0).is_ok());
        assert!(Faults::new(0.6).is_err());
        assert!(Faults::new(-0.1).is_err());
        assert!(Faults::new(f64::NAN).is_err());
    }

    #[test]
    fn about_the_share_asked_for_fails_in_every_way() {
        let faults = Faults::new(0.2).unwrap();
        let drawn: Vec<Option<Fault>> = (0..20_000).map(|_| faults.draw()).collect();
        let failed = drawn.iter().filter(|d| d.is_some()).count();
        assert!(
            (3_500..4_500).contains(&failed),
            "{failed} of 20,000 failed"
        );
        for way in [Fault::Refused, Fault::TimedOut, Fault::AnswerLost] {
            assert!(drawn.contains(&Some(way)), "{way:?} never drawn");
        }
        assert!(Faults::new(0.0).unwrap().draw().is_none());
    }

    #[tokio::test]
    async fn a_lost_answer_is_a_write_done_and_a_failure_heard() {
        let always = Faults { rate: 1.0 };
        let mut done = 0;
        let mut lost = 0;
        for _ in 0..30 {
            let ran = std::sync::atomic::AtomicBool::new(false);
            let result = faulty(Some(&always), "a write", true, async {
                ran.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .await;
            let error = result.expect_err("every call fails at rate 1").to_string();
            if ran.load(std::sync::atomic::Ordering::SeqCst) {
                done += 1;
                assert!(error.contains("answer was lost"), "{error}");
            } else {
                lost += 1;
            }
        }
        assert!(done > 0 && lost > 0, "{done} done, {lost} not");
        // a read is never run under a fault
        for _ in 0..15 {
            let result = faulty::<(), _>(Some(&always), "a read", false, async {
                panic!("a read under a fault is not run")
            })
            .await;
            assert!(result.is_err());
        }
        assert_eq!(
            faulty(None, "a read", false, async { Ok(7) })
                .await
                .unwrap(),
            7
        );
    }
}
