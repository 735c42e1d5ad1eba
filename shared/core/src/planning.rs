//! Planning a visit (pure): the run records of the robots of a stage, and
//! when each is due.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::model::{Chain, Item, RunKind, RunRecord, RunStatus};
use crate::robots::Robot;
use crate::workhours::WorkCalendar;

/// Why a robot waiting for the previous robot's task is skipped when that
/// robot made none (it failed, was skipped, or its condition was false).
pub const NO_TASK: &str = "skipped: the previous robot created no task to wait for";

/// Run id of a robot in a visit.
pub fn run_id(item_id: &str, visit: u64, robot_id: &str) -> String {
    format!("{item_id}:{visit}:{robot_id}")
}

/// Run-log id of a trigger evaluation of one event for one item.
pub fn trigger_run_id(item_id: &str, event_id: &str) -> String {
    format!("{item_id}:evt:{event_id}")
}

/// The value of a date field of an item as an instant (dates are midnight in
/// `tz`), for delays relative to a field.
pub(crate) fn date_field(item: &Item, path: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    match path {
        "created_at" => return Some(item.created_at),
        "updated_at" => return Some(item.updated_at),
        _ => {}
    }
    let s = item.fields.get(path.strip_prefix("fields.")?)?.as_str()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Plan the runs of a visit (pure). Robots are in stage order. A robot that
/// runs "after the previous" waits (no due time) unless the previous one is
/// already final at planning time.
pub fn plan_runs(
    item: &Item,
    robots: &[Robot],
    at: DateTime<Utc>,
    chain: &Chain,
    cal: Option<&WorkCalendar>,
) -> Vec<RunRecord> {
    let tz = cal.map_or(chrono_tz::UTC, |c| c.tz);
    let mut out: Vec<RunRecord> = Vec::with_capacity(robots.len());
    for r in robots {
        let id = run_id(&item.id, item.visit, &r.id);
        if r.after_previous
            && let Some(p) = out.last_mut()
        {
            p.next_run = Some(id.clone());
        }
        let prev = out.last();
        let waits = r.after_previous && prev.is_some_and(|p| !p.status.is_final());
        let mut status = RunStatus::Pending;
        let mut reason = None;
        let mut due_at = None;
        let mut finished_at = None;
        if !waits && r.after_previous && !r.wait_for.is_finish() {
            // The previous robot ended when the visit was planned: it made
            // no task to wait for.
            status = RunStatus::Skipped;
            reason = Some(NO_TASK.to_string());
            finished_at = Some(at);
        } else if !waits {
            match robot_due(r, item, at, cal, tz) {
                Ok(d) => due_at = Some(d),
                Err(why) => {
                    status = RunStatus::Skipped;
                    reason = Some(why);
                    finished_at = Some(at);
                }
            }
        }
        out.push(RunRecord {
            after_run: if r.after_previous {
                prev.map(|p| p.id.clone())
            } else {
                None
            },
            id,
            kind: RunKind::Robot,
            item_id: item.id.clone(),
            robot_id: Some(r.id.clone()),
            robot_type: Some(r.action.api_type()),
            trigger_id: None,
            event_type: None,
            event_id: None,
            stage_id: r.stage_id.clone(),
            visit: item.visit,
            status,
            reason,
            due_at,
            created_at: at,
            finished_at,
            outputs: Default::default(),
            robot: Some(r.clone()),
            next_run: None,
            awaiting_task: None,
            chain: chain.clone(),
            claim_until: None,
            attempts: 0,
            version: 1,
            delivery: None,
        });
    }
    out
}

/// Whether planning a robot needs its item's responsible (their calendar or
/// time zone): working hours, a date field, or a delay in days (calendar days
/// in the responsible's zone).
pub(crate) fn needs_responsible(r: &Robot) -> bool {
    r.respect_working_hours
        || r.delay.field().is_some()
        || r.delay
            .duration()
            .is_some_and(|d| d.unit == crate::delay::TimeUnit::Days)
}

/// When a robot is due, counted from `from` (the visit's start, or the moment
/// its previous robot finished).
pub(crate) fn robot_due(
    r: &Robot,
    item: &Item,
    from: DateTime<Utc>,
    cal: Option<&WorkCalendar>,
    tz: chrono_tz::Tz,
) -> std::result::Result<DateTime<Utc>, String> {
    let field_value = r.delay.field().and_then(|f| date_field(item, f, tz));
    let cal = if r.respect_working_hours { cal } else { None };
    r.delay
        .due_at_in(from, field_value, cal, tz)
        .map_err(|e| match e {
            crate::delay::DelayError::FieldEmpty { field } => {
                format!("skipped: the date field '{field}' is empty")
            }
            e => format!("skipped: {e}"),
        })
}
