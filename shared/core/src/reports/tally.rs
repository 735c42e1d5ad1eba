//! Deltas: what one change adds to the aggregates.
//!
//! - An item change (from its outbox record's [`VisitFacts`]): the visit that
//!   ended counts once on the stage's document of the day it ended; the
//!   item's total in that stage replaces its earlier total (taken out of the
//!   document it was counted in, added to this day's); an entry counts on the
//!   new stage's document of the day, with the item's age.
//! - A robot run that became final (a run record written with a final
//!   status): counted by status, under the robot's id, on the document of
//!   the robot's stage of the day it finished (the robots of one stage that
//!   finish in one commit write one document); a delayed robot's lateness
//!   (finished − due) in its histogram.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::aggregate::{
    Aggregate, Deltas, day_of, responsible_key, robot_stage_key, shard_of, stage_key,
};
use super::facts::StageTotal;
use super::robot_counts::RobotCounts;
use crate::delay::Delay;
use crate::model::{ItemChange, RunKind, RunStatus};
use crate::ports::{DocKey, Kind, Write};

fn total_delta(t: &StageTotal, sign: i64) -> Aggregate {
    let mut a = Aggregate {
        items: sign,
        time_ms: sign * t.ms,
        ..Aggregate::default()
    };
    a.time.add(t.ms, sign);
    a
}

fn day(s: &str) -> Option<NaiveDate> {
    s.parse().ok()
}

/// What an item change adds (nothing for changes written before reports
/// existed, or that neither ended nor began a visit).
pub fn visit_deltas(change: &ItemChange) -> Deltas {
    let mut out = Deltas::default();
    let (Some(facts), Some(mv)) = (&change.report, &change.stage) else {
        return out;
    };
    let tenant = change.tenant.as_str();
    let pipeline = facts.pipeline_id.as_str();
    let shard = shard_of(&change.item_id);
    let today = day_of(change.at);
    if let (Some(left), Some(stage)) = (&facts.left, &mv.from_stage) {
        out.add(
            stage_key(tenant, pipeline, stage, today, shard),
            Aggregate {
                visits: 1,
                ..total_delta(&left.total, 1)
            },
        );
        out.add(
            responsible_key(tenant, pipeline, &left.total.responsible_id, stage, today),
            Aggregate {
                visits: 1,
                ..total_delta(&left.total, 1)
            },
        );
        if let Some(prev) = &left.previous
            && let Some(d) = day(&prev.day)
        {
            out.add(
                stage_key(tenant, pipeline, stage, d, shard),
                total_delta(prev, -1),
            );
            out.add(
                responsible_key(tenant, pipeline, &prev.responsible_id, stage, d),
                total_delta(prev, -1),
            );
        }
    }
    if !change.deleted && mv.to_visit != mv.from_visit {
        let age = (change.at - facts.created_at).num_milliseconds().max(0);
        let mut a = Aggregate {
            entered: 1,
            age_ms: age,
            ..Aggregate::default()
        };
        a.age.add(age, 1);
        out.add(stage_key(tenant, pipeline, &mv.to_stage, today, shard), a);
    }
    out.without_empty()
}

/// The serialized name of a unit enum (`loop_stopped`, `success`, …).
pub fn status_name_of<T: serde::Serialize>(s: &T) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The stored name of a run status (`loop_stopped`, …).
pub fn status_name(s: RunStatus) -> String {
    status_name_of(&s)
}

/// The fields of a run record the tally reads: decoding a whole
/// `RunRecord` (the robot's settings snapshot, its action flattened in)
/// for each final run of a commit took a tenth of a backlog run's time.
/// Field names and formats are the record's own.
#[derive(Deserialize)]
struct FinalRun {
    kind: RunKind,
    item_id: String,
    status: RunStatus,
    due_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    robot: Option<RunRobot>,
}

/// The robot of a [`FinalRun`]: where it counts and whether it was delayed.
#[derive(Deserialize)]
struct RunRobot {
    id: String,
    pipeline_id: String,
    stage_id: String,
    delay: Delay,
}

/// What one robot run record, written final, adds (`None` for anything
/// else: trigger evaluations, pending or running runs).
fn run_delta(tenant: &str, run: &FinalRun) -> Option<(DocKey, Aggregate)> {
    if run.kind != RunKind::Robot || !run.status.is_final() {
        return None;
    }
    let robot = run.robot.as_ref()?;
    let finished = run.finished_at?;
    let mut a = RobotCounts::default();
    a.runs.insert(status_name(run.status), 1);
    let ran = matches!(
        run.status,
        RunStatus::Done | RunStatus::Skipped | RunStatus::Failed | RunStatus::LoopStopped
    );
    if ran
        && !robot.delay.is_immediate()
        && let Some(due) = run.due_at.filter(|d| *d <= finished)
    {
        a.late.add((finished - due).num_milliseconds(), 1);
    }
    let key = robot_stage_key(
        tenant,
        &robot.pipeline_id,
        &robot.stage_id,
        day_of(finished),
        shard_of(&run.item_id),
    );
    let mut delta = Aggregate::default();
    delta.robots.insert(robot.id.clone(), a);
    Some((key, delta))
}

/// What the final robot run records among `writes` add. Run records are
/// only ever written final once (a final run is never written again), so
/// each counts once, in the transaction that makes it final.
pub fn run_deltas(writes: &[Write]) -> Deltas {
    let mut out = Deltas::default();
    for w in writes {
        let Write::Put { doc, .. } = w else { continue };
        if doc.key.kind != Kind::Run {
            continue;
        }
        let final_robot_run = doc.body.get("kind").and_then(|k| k.as_str()) == Some("robot")
            && !matches!(
                doc.body.get("status").and_then(|s| s.as_str()),
                Some("pending" | "running" | "waiting") | None
            );
        if !final_robot_run {
            continue;
        }
        let Ok(run) = FinalRun::deserialize(&doc.body) else {
            continue;
        };
        if let Some((k, a)) = run_delta(&doc.key.tenant, &run) {
            out.add(k, a);
        }
    }
    out
}
