//! Recent fixes per service, kept in memory for a few minutes, so that routing a report does not
//! read up to a thousand of them from the store every time.
//!
//! An expected date rests on the last [`WINDOW_DAYS`] of fixes; leaving out the few closed in the
//! last [`KEPT_FOR`] moves it by nothing a resident would notice, and saves each routed report a
//! store query that grows with the city's history (one `Query` a report on DynamoDB, a thousand
//! rows read on SQLite). Each router instance (each Lambda instance, the one local process) keeps
//! its own copy; concurrent misses may read the store more than once, which is harmless.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::ports::{PortError, RequestStore};
use cityfix_domain::expected::{Fixed, WINDOW_DAYS};

/// How long one read of a service's history serves.
pub const KEPT_FOR: Duration = Duration::from_secs(10 * 60);

/// The most recent fixes read for one service.
pub const MAX_FIXES_READ: u32 = 1000;

/// A service's recent fixes as read from the store, and when they were read.
type Read = (Instant, Arc<Vec<Fixed>>);

/// Each service's recent fixes, as last read from the store, and when.
#[derive(Clone, Default)]
pub struct FixHistory {
    read: Arc<Mutex<HashMap<String, Read>>>,
}

impl FixHistory {
    /// The fixes of `service_code` in the window before `now`, newest first: from memory when read
    /// less than [`KEPT_FOR`] ago, else from the store.
    pub async fn recent(
        &self,
        store: &dyn RequestStore,
        service_code: &str,
        now: DateTime<Utc>,
    ) -> Result<Arc<Vec<Fixed>>, PortError> {
        if let Some(kept) = self.kept(service_code) {
            return Ok(kept);
        }
        let since = now - chrono::Duration::days(WINDOW_DAYS);
        let fixes = Arc::new(store.fixes(service_code, since, MAX_FIXES_READ).await?);
        self.read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(service_code.to_string(), (Instant::now(), fixes.clone()));
        Ok(fixes)
    }

    fn kept(&self, service_code: &str) -> Option<Arc<Vec<Fixed>>> {
        let read = self
            .read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        read.get(service_code)
            .filter(|(at, _)| at.elapsed() < KEPT_FOR)
            .map(|(_, fixes)| fixes.clone())
    }
}
