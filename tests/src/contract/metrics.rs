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
