//! Rising concerns: whether one service × area's count this week is a significant jump over its recent weeks.
//!
//! The test (see docs/metrics.md, "Rising concerns"): under "nothing changed", this week's count
//! `x` and the history's total `s` over `n` weeks are Poisson with one weekly rate, so given their
//! sum `t = x + s`, `x` is Binomial(`t`, 1/(n+1)). The upper tail `P(X ≥ x)` is the p-value. This
//! conditional test compares two Poisson rates without pretending the history's mean is known
//! exactly (eight weeks of a quiet area say little about its rate), and a history of zeros needs no
//! special case. A flag needs all three: `x ≥ min_count`, `x ≥ min_ratio × mean`, `p < alpha`.

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// The thresholds a jump has to clear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RisingRule {
    /// How many past weeks make the history.
    pub history_weeks: usize,
    /// This week's count is at least this (so a quiet area's one or two reports more is no alarm).
    pub min_count: u64,
    /// This week's count is at least this many times the history's weekly mean.
    pub min_ratio: f64,
    /// The p-value (upper tail) is below this.
    pub alpha: f64,
}

impl Default for RisingRule {
    fn default() -> Self {
        RisingRule {
            history_weeks: 8,
            min_count: 5,
            min_ratio: 2.0,
            alpha: 0.001,
        }
    }
}

/// What the test found for one service × area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Jump {
    /// This week's count.
    pub count: u64,
    /// The history's weekly mean.
    pub usual: f64,
    /// The upper-tail p-value of `count` given the history.
    pub p_value: f64,
}

impl RisingRule {
    /// `Some` when `this_week` is a significant jump over `history` (one count per past week, as
    /// many as the rule's `history_weeks`; fewer weeks are used as they are, none is never a jump).
    pub fn test(&self, this_week: u64, history: &[u64]) -> Option<Jump> {
        if history.is_empty() || this_week < self.min_count {
            return None;
        }
        let weeks = history.len() as f64;
        let sum: u64 = history.iter().sum();
        let usual = sum as f64 / weeks;
        if (this_week as f64) < self.min_ratio * usual {
            return None;
        }
        let p_value = binomial_upper_tail(this_week + sum, this_week, 1.0 / (weeks + 1.0));
        (p_value < self.alpha).then_some(Jump {
            count: this_week,
            usual,
            p_value,
        })
    }
}

/// A jump found and recorded: one per service × area × calendar week (Monday to Sunday) at most,
/// however many times the scheduler finds it again that week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RisingFlag {
    pub service: String,
    /// The area of the service's routing layer; empty for requests in none.
    pub area: String,
    /// The Monday of the calendar week it was found in: the flag's key with service and area.
    pub week: NaiveDate,
    /// The first and last day of the seven counted when it was first found.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The count of those seven days, and the weekly mean of the weeks before.
    pub count: u64,
    pub usual: f64,
    pub p_value: f64,
}

impl RisingFlag {
    /// The flag for a jump found in the seven days that end on `to`.
    pub fn found(service: &str, area: &str, to: NaiveDate, jump: &Jump) -> Self {
        RisingFlag {
            service: service.to_string(),
            area: area.to_string(),
            week: week_of(to),
            from: to - Duration::days(6),
            to,
            count: jump.count,
            usual: jump.usual,
            p_value: jump.p_value,
        }
    }
}

/// The Monday of the calendar week `day` is in.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// `P(X ≥ x)` for `X ~ Binomial(t, p)`, computed in logs so that thousands of trials do not
/// underflow. Meant for `x` above the mean `t·p` (where the terms fall from `x` on); correct for any.
pub fn binomial_upper_tail(t: u64, x: u64, p: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    if x > t {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    // ln C(t, x) as a sum of logs: exact enough for the counts of a week.
    let ln_choose: f64 = (0..x)
        .map(|i| ((t - i) as f64).ln() - ((i + 1) as f64).ln())
        .sum();
    let ln_first = ln_choose + x as f64 * lp + (t - x) as f64 * lq;
    // Add the terms from x up, each from the one before, until they stop mattering.
    let ratio = p / (1.0 - p);
    let (mut term, mut sum) = (1.0_f64, 1.0_f64);
    for k in x..t {
        term *= (t - k) as f64 / (k + 1) as f64 * ratio;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    (ln_first + sum.ln()).exp().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// A Poisson draw (Knuth's product of uniforms; the rates here are small).
    fn poisson(rng: &mut StdRng, rate: f64) -> u64 {
        let limit = (-rate).exp();
        let mut k = 0;
        let mut product: f64 = rng.gen();
        while product > limit {
            k += 1;
            product *= rng.gen::<f64>();
        }
        k
    }

    #[test]
    fn the_tail_matches_a_sum_of_the_terms() {
        // given Binomial(10, 0.5): P(X ≥ 8) = (45 + 10 + 1) / 1024
        let p = binomial_upper_tail(10, 8, 0.5);
        assert!((p - 56.0 / 1024.0).abs() < 1e-12, "{p}");
        // and the edges
        assert_eq!(binomial_upper_tail(10, 0, 0.3), 1.0);
        assert_eq!(binomial_upper_tail(10, 11, 0.3), 0.0);
        // and many trials do not underflow to nothing: P(X ≥ 1200) of Binomial(10000, 1/9)
        let big = binomial_upper_tail(10_000, 1_200, 1.0 / 9.0);
        assert!(big > 0.0 && big < 0.05, "{big}");
    }

    #[test]
    fn a_planted_jump_is_flagged() {
        // given about four reports a week for eight weeks, then fifteen
        let history = [4, 3, 5, 4, 4, 6, 3, 4];
        let jump = RisingRule::default().test(15, &history).expect("a jump");
        // then it is flagged with its usual count
        assert_eq!(jump.count, 15);
        assert!((jump.usual - 33.0 / 8.0).abs() < 1e-9);
        assert!(jump.p_value < 0.001, "{}", jump.p_value);
        // and a busy service's doubling is flagged too
        let busy = [100, 96, 104, 99, 101, 98, 103, 97];
        assert!(RisingRule::default().test(200, &busy).is_some());
    }

    #[test]
    fn a_quiet_areas_few_reports_are_no_alarm() {
        let rule = RisingRule::default();
        // 0 → 2: under the minimum count
        assert_eq!(rule.test(2, &[0; 8]), None);
        // 0 → 4, still under it
        assert_eq!(rule.test(4, &[0; 8]), None);
        // and five after nothing at all clears every threshold
        assert!(rule.test(5, &[0; 8]).is_some());
        // 1 a week → 5 is five times the mean but not yet unlikely enough (p ≈ 0.004)
        assert_eq!(rule.test(5, &[1; 8]), None);
    }

    #[test]
    fn a_rise_under_the_ratio_is_not_flagged_however_unlikely() {
        // given a steady hundred a week, then 180: far out of the noise, but under twice the mean
        let history = [100; 8];
        assert!(binomial_upper_tail(980, 180, 1.0 / 9.0) < 1e-9);
        assert_eq!(RisingRule::default().test(180, &history), None);
    }

    #[test]
    fn a_flag_is_keyed_by_its_calendar_week() {
        // given a jump found in the seven days to Friday 4 December 2026
        let to = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let jump = RisingRule::default().test(15, &[4; 8]).unwrap();
        let flag = RisingFlag::found("pothole", "North End", to, &jump);
        // then its week is Monday the 30th of November, its days the 28th to the 4th
        assert_eq!(flag.week, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(flag.from, NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
        assert_eq!(week_of(flag.week), flag.week);
    }

    #[test]
    fn no_history_is_never_a_jump() {
        assert_eq!(RisingRule::default().test(50, &[]), None);
    }

    #[test]
    fn noise_alone_almost_never_flags() {
        // given 10,000 service × area pairs, each with its own steady rate from 0.2 to 40 a
        // week, drawn nine weeks (eight of history, then this week), three times over
        let rule = RisingRule::default();
        let mut rng = StdRng::seed_from_u64(17);
        let (mut tested, mut flagged) = (0u32, 0u32);
        for _ in 0..10_000 {
            let rate = 0.2 * 200f64.powf(rng.gen::<f64>());
            for _ in 0..3 {
                let history: Vec<u64> = (0..8).map(|_| poisson(&mut rng, rate)).collect();
                let this_week = poisson(&mut rng, rate);
                tested += 1;
                flagged += u32::from(rule.test(this_week, &history).is_some());
            }
        }
        // then fewer than one test in a thousand (alpha) flags: 9 of the 30,000 as seeded, 3 in
        // 10,000, as the test is discrete and conservative and the minimum count and ratio
        // take more away
        let rate = flagged as f64 / tested as f64;
        assert!(rate < 1e-3, "{flagged} false flags in {tested} tests");
    }

    #[test]
    fn a_tripling_of_a_modest_rate_is_usually_caught() {
        // given pairs at ten a week whose week triples, the test catches most of them (908 of
        // 1,000 as seeded): eight weeks of ten are a short history to be sure against
        let rule = RisingRule::default();
        let mut rng = StdRng::seed_from_u64(71);
        let caught = (0..1_000)
            .filter(|_| {
                let history: Vec<u64> = (0..8).map(|_| poisson(&mut rng, 10.0)).collect();
                rule.test(poisson(&mut rng, 30.0), &history).is_some()
            })
            .count();
        assert!(caught > 850, "caught {caught} of 1000");
    }
}
