//! The metrics store contract: tallies added to their rows once per event, read back by day range.

use chrono::NaiveDate;
use cityfix_app::ports::MetricsStore;
use cityfix_domain::metrics::{DurationSketch, MetricsKey, Tally};

fn key(day: u32, service: &str, confidential: bool) -> MetricsKey {
    MetricsKey {
        day: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
        service: service.into(),
        department: "public-works".into(),
        area: "North End".into(),
        channel: "web".into(),
        confidential,
    }
}

fn closed_after(secs: i64) -> Tally {
    Tally {
        closed: 1,
        to_close: DurationSketch::of(secs),
        ..Tally::default()
    }
}

pub async fn tallies_add_up_per_row_and_an_event_counts_once(metrics: &dyn MetricsStore) {
    // given a request made on the 1st and acknowledged then, and two closings on the 2nd
    let opened = Tally {
        opened: 1,
        acknowledged: 1,
        to_acknowledge: DurationSketch::of(90),
        ..Tally::default()
    };
    assert!(metrics
        .count("REQ1/routed", &[(key(1, "pothole", false), opened.clone())])
        .await
        .unwrap());
    assert!(metrics
        .count(
            "REQ1/closed",
            &[(key(2, "pothole", false), closed_after(3_600))]
        )
        .await
        .unwrap());
    assert!(metrics
        .count(
            "REQ2/closed",
            &[(key(2, "pothole", false), closed_after(86_400))]
        )
        .await
        .unwrap());

    // when one is redelivered
    let again = metrics
        .count(
            "REQ2/closed",
            &[(key(2, "pothole", false), closed_after(86_400))],
        )
        .await
        .unwrap();

    // then it was not counted again, and the 2nd's row holds both closings and both durations
    assert!(!again);
    let rows = metrics
        .tallies(key(1, "", false).day, key(2, "", false).day)
        .await
        .unwrap();
    let mut both = closed_after(3_600);
    both.add(&closed_after(86_400));
    assert_eq!(
        rows,
        vec![
            (key(1, "pothole", false), opened),
            (key(2, "pothole", false), both)
        ]
    );
}

pub async fn one_event_moves_several_rows_all_or_nothing_and_days_bound_the_read(
    metrics: &dyn MetricsStore,
) {
    // given a referral counted as made on the 10th and closed on the 11th, and a confidential one
    let made = Tally {
        opened: 1,
        ..Tally::default()
    };
    metrics
        .count(
            "REQ3/referred",
            &[
                (key(10, "sidewalk", false), made.clone()),
                (key(11, "sidewalk", false), closed_after(60)),
            ],
        )
        .await
        .unwrap();
    metrics
        .count("REQ4/routed", &[(key(11, "ethics", true), made.clone())])
        .await
        .unwrap();
    // and an event whose two tallies fall on one row (made and closed the same day)
    metrics
        .count(
            "REQ5/referred",
            &[
                (key(12, "sidewalk", false), made.clone()),
                (key(12, "sidewalk", false), closed_after(60)),
            ],
        )
        .await
        .unwrap();
    let mut made_and_closed = made.clone();
    made_and_closed.add(&closed_after(60));
    assert_eq!(
        metrics
            .tallies(key(12, "", false).day, key(12, "", false).day)
            .await
            .unwrap(),
        vec![(key(12, "sidewalk", false), made_and_closed)]
    );

    // then a read of the 11th alone finds its two rows, the confidential one marked so
    let rows = metrics
        .tallies(key(11, "", false).day, key(11, "", false).day)
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (key(11, "ethics", true), made.clone()),
            (key(11, "sidewalk", false), closed_after(60)),
        ]
    );
    // and a range of days before anything was counted is empty
    let before = metrics
        .tallies(key(1, "", false).day, key(9, "", false).day)
        .await
        .unwrap();
    assert!(before.is_empty(), "{before:?}");
}

fn flag(
    week_day: u32,
    service: &str,
    area: &str,
    count: u64,
) -> cityfix_domain::rising::RisingFlag {
    let to = NaiveDate::from_ymd_opt(2026, 3, week_day).unwrap();
    let jump = cityfix_domain::rising::Jump {
        count,
        usual: 3.5,
        p_value: 1e-5,
    };
    cityfix_domain::rising::RisingFlag::found(service, area, to, &jump)
}

pub async fn a_rising_flag_is_held_once_per_service_area_and_week(metrics: &dyn MetricsStore) {
    // given flags in the weeks of Monday 2 and Monday 9 March 2026
    assert!(metrics
        .raise(&flag(4, "pothole", "North End", 12))
        .await
        .unwrap());
    assert!(metrics.raise(&flag(4, "pothole", "", 9)).await.unwrap());
    assert!(metrics
        .raise(&flag(4, "graffiti", "North End", 8))
        .await
        .unwrap());
    assert!(metrics
        .raise(&flag(10, "pothole", "North End", 20))
        .await
        .unwrap());

    // when the same service × area × week is found again later that week, with another count
    let again = metrics
        .raise(&flag(6, "pothole", "North End", 30))
        .await
        .unwrap();

    // then it is refused, and the first one is kept as it was
    assert!(!again);
    let all = metrics
        .flags(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap())
        .await
        .unwrap();
    let keys: Vec<(String, &str, &str, u64)> = all
        .iter()
        .map(|f| {
            (
                f.week.to_string(),
                f.service.as_str(),
                f.area.as_str(),
                f.count,
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("2026-03-02".to_string(), "graffiti", "North End", 8),
            ("2026-03-02".to_string(), "pothole", "", 9),
            ("2026-03-02".to_string(), "pothole", "North End", 12),
            ("2026-03-09".to_string(), "pothole", "North End", 20),
        ]
    );
    assert_eq!(all[2], flag(4, "pothole", "North End", 12));

    // and the weeks from a later Monday on leave the earlier out
    let later = metrics
        .flags(NaiveDate::from_ymd_opt(2026, 3, 9).unwrap())
        .await
        .unwrap();
    assert_eq!(later, vec![flag(10, "pothole", "North End", 20)]);
}
