//! The manual clock's control, for the HTTP layer.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use crm_http::ClockControl;

use super::Runtime;

/// [`ClockControl`] of a runtime with a manual clock.
pub(super) struct ManualControl(pub(super) Runtime);

#[async_trait]
impl ClockControl for ManualControl {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    async fn advance(&self, seconds: i64) -> Result<DateTime<Utc>, String> {
        self.0
            .advance(TimeDelta::seconds(seconds))
            .await
            .map_err(|e| e.to_string())
    }
}
