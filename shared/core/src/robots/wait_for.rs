//! Task chains: a robot that runs "after the previous" may wait for the
//! task the previous robot created to be **completed**, not only for the
//! previous robot to finish (`wait_for: "task_completed"`), optionally for
//! at most `wait_timeout`, then runs anyway or is skipped (`on_timeout`).
//!
//! How it runs: when the previous robot's run finishes with a `task_id`
//! output, the follower records the task it awaits (`awaiting_task` on its
//! run) and, with a timeout, is scheduled for the timeout's end (through
//! the Scheduler port, like any delayed robot). Completing the task (`PATCH
//! /v1/tasks/{id}` or a `complete_task` robot) raises the `task_status`
//! event through the outbox; processing it readies the follower (its own
//! delay counted from then) once, guarded by the run's version. A job that
//! finds its run still awaiting the task is the timeout. Leaving the stage
//! cancels the waiting run like any pending run of the visit, and with it
//! the rest of the chain.

use serde::{Deserialize, Serialize};

use super::Robot;
use crate::check::Check;
use crate::delay::Duration;

/// What a robot that runs after the previous one waits for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WaitFor {
    /// The previous robot's run to finish.
    #[default]
    Finish,
    /// The task the previous robot (`create_task`) created to be completed.
    TaskCompleted,
}

impl WaitFor {
    pub fn is_finish(&self) -> bool {
        *self == WaitFor::Finish
    }
}

/// What a robot whose `wait_timeout` passed does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// Run anyway (the run log says it ran on the timeout).
    #[default]
    Run,
    /// Skip (the run log says why).
    Skip,
}

impl OnTimeout {
    pub fn is_run(&self) -> bool {
        *self == OnTimeout::Run
    }
}

/// Longest wait for a task: a year.
pub const MAX_WAIT_DAYS: u32 = 366;

/// The robot types whose task a follower can wait for.
pub const TASK_MAKERS: &[&str] = &["create_task"];

/// Save-time checks of `wait_for`, `wait_timeout`, `on_timeout`: waiting for
/// a task needs `after_previous` and a previous robot on the stage that
/// creates one.
pub(crate) fn check(cx: &mut Check<'_>, robots: &[Robot], robot: &Robot) {
    if robot.wait_for.is_finish() {
        if robot.wait_timeout.is_some() {
            cx.err(
                "wait_timeout",
                "only a robot with wait_for 'task_completed' waits with a timeout",
            );
        }
        return;
    }
    if !robot.after_previous {
        cx.err(
            "wait_for",
            "'task_completed' needs after_previous: true (the task of the previous robot)",
        );
        return;
    }
    let previous = robots
        .iter()
        .filter(|r| r.id != robot.id && r.stage_id == robot.stage_id && r.order < robot.order)
        .max_by_key(|r| r.order);
    match previous {
        Some(p) if TASK_MAKERS.contains(&p.action.type_name()) => {}
        Some(p) => cx.err(
            "wait_for",
            format!(
                "the previous robot '{}' is a {}; 'task_completed' waits for the task of a {}",
                p.id,
                p.action.type_name(),
                TASK_MAKERS.join(" or ")
            ),
        ),
        None => cx.err(
            "wait_for",
            "'task_completed' needs a previous robot on the stage that creates a task",
        ),
    }
    if let Some(t) = robot.wait_timeout {
        let days = match t.unit {
            crate::delay::TimeUnit::Minutes => t.amount / (24 * 60),
            crate::delay::TimeUnit::Hours => t.amount / 24,
            crate::delay::TimeUnit::Days => t.amount,
        };
        if t.amount == 0 || days > MAX_WAIT_DAYS {
            cx.err(
                "wait_timeout",
                format!("must be more than 0 and at most {MAX_WAIT_DAYS} days"),
            );
        }
    }
}

/// A timeout in words, for the run log.
pub fn describe(t: &Duration) -> String {
    let unit = match t.unit {
        crate::delay::TimeUnit::Minutes => "minute",
        crate::delay::TimeUnit::Hours => "hour",
        crate::delay::TimeUnit::Days => "day",
    };
    let s = if t.amount == 1 { "" } else { "s" };
    format!("{} {unit}{s}", t.amount)
}
