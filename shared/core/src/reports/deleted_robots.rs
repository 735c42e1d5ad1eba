//! Deleted robots in the robots report: deleting a robot keeps what the
//! report needs of it (its last saved form and when it was deleted) in a
//! report document listed under its pipeline, written in the same
//! transaction as the deletion. The report then still shows the robot, by
//! name and marked deleted, for the periods it ran in.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::{Cond, Doc, DocKey, DocStore, Kind, StoreError, Write};
use crate::robots::Robot;

/// A deleted robot as the reports keep it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedRobot {
    pub robot: Robot,
    pub deleted_at: DateTime<Utc>,
}

/// The list the deleted robots of `pipeline` are kept under.
fn parent(pipeline: &str) -> String {
    format!("rd|{pipeline}")
}

/// The write that keeps `robot` for the reports, deleted `at`.
pub fn keep_write(tenant: &str, robot: &Robot, at: DateTime<Utc>) -> Write {
    let kept = DeletedRobot {
        robot: robot.clone(),
        deleted_at: at,
    };
    Write::Put {
        doc: Doc {
            key: DocKey::new(
                tenant,
                Kind::Report,
                format!("rd|{}|{}", robot.pipeline_id, robot.id),
            ),
            version: 1,
            parent: Some(parent(&robot.pipeline_id)),
            expires_at: None,
            body: serde_json::to_value(&kept).unwrap_or_default(),
        },
        cond: Cond::Any,
    }
}

/// The robots of `pipeline` deleted on or after `since` (a robot deleted
/// earlier has no runs that end later), oldest first.
pub async fn deleted_since(
    store: &dyn DocStore,
    tenant: &str,
    pipeline: &str,
    since: NaiveDate,
) -> Result<Vec<Robot>, StoreError> {
    let docs = store.list(tenant, Kind::Report, &parent(pipeline)).await?;
    let mut kept: Vec<DeletedRobot> = docs
        .into_iter()
        .filter_map(|d| serde_json::from_value::<DeletedRobot>(d.body).ok())
        .filter(|d| d.deleted_at.date_naive() >= since)
        .collect();
    kept.sort_by_key(|d| d.deleted_at);
    Ok(kept.into_iter().map(|d| d.robot).collect())
}
