//! The port contract suites against the embedded adapters (SQLite store, SQLite queue, media files).

use std::sync::Arc;
use std::time::Duration;

use cityfix_embedded::sqlite::Db;
use cityfix_embedded::{EmbeddedQueue, QueueSettings, SqliteStore};
use cityfix_tests::contract::queue::BothEnds;

/// A database in a temporary folder that lives as long as the test process.
fn fresh_db() -> Db {
    let dir = tempfile::tempdir().unwrap().keep();
    Db::open(&dir.join("cityfix.sqlite")).unwrap()
}

mod store {
    use super::*;
    use cityfix_app::ports::RequestStore;

    cityfix_tests::store_contract!(async {
        Arc::new(SqliteStore::new(fresh_db())) as Arc<dyn RequestStore>
    });
}

mod metrics {
    use super::*;
    use cityfix_app::ports::MetricsStore;

    cityfix_tests::metrics_contract!(async {
        Arc::new(SqliteStore::new(fresh_db())) as Arc<dyn MetricsStore>
    });
}

mod queue {
    use super::*;

    cityfix_tests::queue_contract!(|visibility_s: u32, max_receives: u32| async move {
        let settings = QueueSettings {
            visibility_timeout: Duration::from_secs(u64::from(visibility_s)),
            max_receives,
        };
        let dir = tempfile::tempdir().unwrap().keep();
        let db = Db::open_queues(&dir.join("queues.sqlite")).unwrap();
        Arc::new(EmbeddedQueue::new(db, settings)) as Arc<dyn BothEnds>
    });
}

mod media {
    use super::*;
    use cityfix_app::ports::MediaStore;
    use cityfix_embedded::FileMedia;

    /// Files in a temporary folder, with their forms and links served on a free local port for
    /// as long as the test runs.
    async fn served_files() -> Arc<dyn MediaStore> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/local-media", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap().keep();
        let media = FileMedia::open(&dir, &url, b"contract secret").unwrap();
        let routes = media.routes(Arc::new(|_key: String| {}));
        tokio::spawn(async move { axum::serve(listener, routes).await });
        Arc::new(media)
    }

    cityfix_tests::media_contract!(served_files());

    #[tokio::test]
    async fn the_check_refuses_a_file_over_its_kind() {
        cityfix_tests::contract::media::the_check_refuses_a_file_over_its_kind(
            served_files().await,
        )
        .await;
    }
}
