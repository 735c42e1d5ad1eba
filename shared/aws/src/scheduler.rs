//! [`Scheduler`] on EventBridge Scheduler and the robot-actions queue.
//!
//! A job is delivered to the robot-actions SQS queue either way, so that
//! immediate and delayed runs share one retry, takeover and dead-letter path:
//!
//! - due within [`QUEUE_HORIZON_SECONDS`] (15 minutes): sent to the queue at
//!   once with `DelaySeconds = ceil(due - now)` ([`SqsJobQueue`]);
//! - later: a one-time schedule whose target is the queue (input = the
//!   [`Job`] JSON, which becomes the message body), deleted after it fired.
//!   EventBridge Scheduler fires an `at()` schedule anywhere within the
//!   minute it names, so the schedule names the minute strictly before the
//!   due time ([`fire_time`]): it fires in `[due - 120 s, due - 1 s]`, and the
//!   runner puts the early job back on the queue for the exact remainder.
//!
//! Names: a run's first schedule is named [`Job::schedule_name`] (tenant + run
//! id, so [`Scheduler::cancel`] can delete it without a lookup). A name that
//! is taken is only read as "already scheduled" when the schedule there is
//! provably this one (same job, same fire time, not fired yet); otherwise a
//! fresh name is derived from the run, its due time, its fire time and a
//! generation ([`fresh_name`]), so a schedule never replaces or is mistaken
//! for the one that is firing.

use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, Target,
};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Timelike, Utc};
use crm_core::ports::{Job, JobQueue, PortError, Scheduler, schedule_name};
use tracing::{debug, warn};

use crate::error::{AwsError, code_of, describe};
use crate::sqs::SqsJobQueue;

/// Jobs due within this many seconds go to the queue with a delay instead
/// of a schedule (SQS delays a message by 15 minutes at most).
pub const QUEUE_HORIZON_SECONDS: i64 = crate::sqs::MAX_DELAY_SECONDS;
/// Fresh names tried after the first one is taken by another schedule.
const FRESH_NAMES: u32 = 3;

/// When the schedule of a job due at `due` is set to fire: the start of the
/// minute before the due time's minute. EventBridge Scheduler fires an
/// `at()` schedule within the minute it names (60 s precision), so the job
/// reaches the queue in `[due - 120 s, due - 1 s]`: never after its due time
/// because of the scheduler, and at most 2 minutes early (the runner waits
/// the rest on the queue, to the second).
pub fn fire_time(due: DateTime<Utc>) -> DateTime<Utc> {
    let minute = due
        .with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .unwrap_or(due);
    minute - TimeDelta::minutes(1)
}

/// A fresh schedule name for `job` firing at `fire_at`, generation `generation`
/// (≥ 1): derived from the tenant, run id, due time and fire time, so two
/// schedules share a name only if they deliver the same job at the same time.
pub fn fresh_name(job: &Job, fire_at: DateTime<Utc>, generation: u32) -> String {
    // FNV-1a 64, like `schedule_name`: stable across processes and versions.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let key = format!(
        "{}\0{}\0{}",
        job.tenant,
        job.run_id,
        job.due_at.to_rfc3339()
    );
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "run-{h:016x}-{}-g{generation}",
        fire_at.format("%Y%m%dT%H%M")
    )
}

/// Most delivery attempts EventBridge Scheduler allows.
pub const RETRY_ATTEMPTS: i32 = 185;
/// Longest EventBridge Scheduler keeps retrying a delivery (one day).
pub const RETRY_MAX_AGE_SECONDS: i32 = 86_400;

/// `at(YYYY-MM-DDThh:mm:ss)` in UTC. Sub-second times are rounded up, so a
/// schedule never fires before the job is due.
pub fn at_expression(t: DateTime<Utc>) -> String {
    let t = if t.nanosecond() > 0 {
        t.with_nanosecond(0).unwrap_or(t) + TimeDelta::seconds(1)
    } else {
        t
    };
    format!("at({})", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// Parse an `at(YYYY-MM-DDThh:mm:ss)` expression (as UTC).
pub fn parse_at_expression(expr: &str) -> Option<DateTime<Utc>> {
    let inner = expr.trim().strip_prefix("at(")?.strip_suffix(')')?;
    NaiveDateTime::parse_from_str(inner, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

/// A schedule as read back from EventBridge Scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledJob {
    /// Schedule name.
    pub name: String,
    /// When EventBridge Scheduler fires it (the `at()` expression).
    pub fire_at: DateTime<Utc>,
    /// The job it delivers (the target input).
    pub job: Job,
    /// The target's ARN (the robot-actions queue).
    pub target_arn: String,
    /// The target input as stored (the message body it sends).
    pub input: String,
}

/// EventBridge Scheduler adapter; see the module docs.
#[derive(Debug, Clone)]
pub struct EventBridgeScheduler {
    client: Client,
    group: String,
    target_arn: String,
    role_arn: String,
    dlq_arn: String,
    queue: SqsJobQueue,
}

impl EventBridgeScheduler {
    /// Schedules in `group` that send to `target_arn` (the robot-actions
    /// queue, which `queue` writes to directly for jobs due soon) as
    /// `role_arn`, with failed deliveries sent to the SQS queue `dlq_arn`.
    pub fn new(
        client: Client,
        group: impl Into<String>,
        target_arn: impl Into<String>,
        role_arn: impl Into<String>,
        dlq_arn: impl Into<String>,
        queue: SqsJobQueue,
    ) -> Self {
        EventBridgeScheduler {
            client,
            group: group.into(),
            target_arn: target_arn.into(),
            role_arn: role_arn.into(),
            dlq_arn: dlq_arn.into(),
            queue,
        }
    }

    /// The schedule group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Read one schedule; `None` if it does not exist or does not carry a job.
    pub async fn get(&self, name: &str) -> Result<Option<ScheduledJob>, AwsError> {
        let out = match self
            .client
            .get_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(AwsError::sdk("GetSchedule", e)),
        };
        let fire_at = out.schedule_expression().and_then(parse_at_expression);
        let input = out.target().and_then(|t| t.input()).map(str::to_owned);
        let job = input
            .as_deref()
            .and_then(|i| serde_json::from_str::<Job>(i).ok());
        match (fire_at, job, input) {
            (Some(fire_at), Some(job), Some(input)) => Ok(Some(ScheduledJob {
                name: name.to_owned(),
                fire_at,
                job,
                target_arn: out.target().map(|t| t.arn().to_owned()).unwrap_or_default(),
                input,
            })),
            _ => {
                warn!(
                    name,
                    "schedule without an at() expression or a job input; ignored"
                );
                Ok(None)
            }
        }
    }

    /// Every schedule of the group that carries a job (`ListSchedules` + one
    /// `GetSchedule` each), ordered by the job's due time, then name.
    pub async fn list_all(&self) -> Result<Vec<ScheduledJob>, AwsError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_schedules()
                .group_name(&self.group)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::sdk("ListSchedules", e))?;
            names.extend(
                out.schedules()
                    .iter()
                    .filter_map(|s| s.name().map(str::to_owned)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        let mut all = Vec::with_capacity(names.len());
        for name in names {
            if let Some(s) = self.get(&name).await? {
                all.push(s);
            }
        }
        all.sort_by(|a, b| (a.job.due_at, &a.name).cmp(&(b.job.due_at, &b.name)));
        Ok(all)
    }

    /// The schedules whose job is due at `now` (`job.due_at <= now`: fired at
    /// the end of their window at the latest), as (schedule name, job),
    /// earliest first. The
    /// schedules are left in place: [`EventBridgeScheduler::delete`] them once
    /// delivered. For tests: LocalStack stores schedules but never fires them.
    pub async fn list_due(&self, now: DateTime<Utc>) -> Result<Vec<(String, Job)>, AwsError> {
        Ok(self
            .list_all()
            .await?
            .into_iter()
            .filter(|s| s.job.due_at <= now)
            .map(|s| (s.name, s.job))
            .collect())
    }

    /// Delete a schedule by name; a missing schedule is fine.
    pub async fn delete(&self, name: &str) -> Result<(), AwsError> {
        match self
            .client
            .delete_schedule()
            .group_name(&self.group)
            .name(name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(AwsError::sdk("DeleteSchedule", e)),
        }
    }
}

impl EventBridgeScheduler {
    /// Create the schedule `name` delivering `job` at `fire_at`. `Ok(true)`:
    /// created, or provably there already (same job, same fire time, not
    /// fired yet); `Ok(false)`: the name is taken by another schedule.
    async fn create(
        &self,
        name: &str,
        job: &Job,
        fire_at: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let input = serde_json::to_string(job)
            .map_err(|e| PortError::Rejected(format!("job not serializable: {e}")))?;
        let target = Target::builder()
            .arn(&self.target_arn)
            .role_arn(&self.role_arn)
            .input(input)
            .retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(RETRY_ATTEMPTS)
                    .maximum_event_age_in_seconds(RETRY_MAX_AGE_SECONDS)
                    .build(),
            )
            .dead_letter_config(DeadLetterConfig::builder().arn(&self.dlq_arn).build())
            .build()
            .map_err(|e| PortError::Rejected(e.to_string()))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| PortError::Rejected(e.to_string()))?;
        let result = self
            .client
            .create_schedule()
            .name(name)
            .group_name(&self.group)
            .schedule_expression(at_expression(fire_at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match result {
            Ok(_) => {
                debug!(%name, due_at = %job.due_at, %fire_at, "schedule created");
                Ok(true)
            }
            Err(e) if code_of(&e) == Some("ConflictException") => {
                let existing = self
                    .get(name)
                    .await
                    .map_err(|e| PortError::Unavailable(e.to_string()))?;
                let now = self.queue.clock().now();
                let same = existing
                    .is_some_and(|s| s.job == *job && s.fire_at == fire_at && fire_at > now);
                debug!(%name, same, "schedule name taken");
                Ok(same)
            }
            Err(e) if code_of(&e) == Some("ValidationException") => Err(PortError::Rejected(
                format!("CreateSchedule {name}: {}", describe(&e)),
            )),
            Err(e) => Err(PortError::Unavailable(format!(
                "CreateSchedule {name}: {}",
                describe(&e)
            ))),
        }
    }
}

#[async_trait]
impl Scheduler for EventBridgeScheduler {
    async fn schedule(&self, job: Job) -> Result<(), PortError> {
        let now = self.queue.clock().now();
        if job.due_at - now <= TimeDelta::seconds(QUEUE_HORIZON_SECONDS) {
            // Due soon: the queue delays it to the second; no schedule.
            return self.queue.send(vec![job]).await;
        }
        let fire_at = fire_time(job.due_at);
        let first = job.schedule_name();
        if self.create(&first, &job, fire_at).await? {
            return Ok(());
        }
        for generation in 1..=FRESH_NAMES {
            let name = fresh_name(&job, fire_at, generation);
            if self.create(&name, &job, fire_at).await? {
                return Ok(());
            }
        }
        Err(PortError::Unavailable(format!(
            "CreateSchedule: every name for run {} is taken by other schedules",
            job.run_id
        )))
    }

    /// Deletes the run's first schedule (the one planning creates). A
    /// schedule under a fresh name (rare: a name clash) is left to fire; the
    /// runner finds its run final and does nothing.
    async fn cancel(&self, tenant: &str, run_id: &str) -> Result<(), PortError> {
        let name = schedule_name(tenant, run_id);
        self.delete(&name)
            .await
            .map_err(|e| PortError::Unavailable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn at_expressions() {
        let t = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(at_expression(t), "at(2026-03-04T05:06:07)");
        assert_eq!(parse_at_expression("at(2026-03-04T05:06:07)"), Some(t));
        let later = t + TimeDelta::milliseconds(1);
        assert_eq!(at_expression(later), "at(2026-03-04T05:06:08)");
        let end =
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap() + TimeDelta::nanoseconds(1);
        assert_eq!(at_expression(end), "at(2027-01-01T00:00:00)");
        assert_eq!(parse_at_expression("rate(5 minutes)"), None);
        assert_eq!(parse_at_expression("at(2026-03-04)"), None);
    }

    #[test]
    fn a_schedule_fires_in_the_minute_strictly_before_the_due_time() {
        let due = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        let fire = fire_time(due);
        assert_eq!(at_expression(fire), "at(2026-03-04T05:05:00)");
        // Scheduler fires anywhere in [fire, fire + 60 s): before due, by at most 2 min.
        let (first, last) = (fire, fire + TimeDelta::seconds(59));
        assert!(last < due && due - first <= TimeDelta::seconds(120));
        let on_the_minute = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 0).unwrap();
        assert_eq!(
            at_expression(fire_time(on_the_minute)),
            "at(2026-03-04T05:05:00)"
        );
        let subsecond = on_the_minute + TimeDelta::milliseconds(1);
        assert_eq!(fire_time(subsecond), fire_time(on_the_minute));
    }

    #[test]
    fn fresh_names_are_valid_and_differ_by_due_fire_time_and_generation() {
        let job = Job {
            tenant: "acme".into(),
            run_id: "item-1:3:robot-9".into(),
            item_id: "item-1".into(),
            visit: 3,
            due_at: Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap(),
            then: Vec::new(),
        };
        let fire = fire_time(job.due_at);
        let a = fresh_name(&job, fire, 1);
        assert!(a.len() <= 64, "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "{a}"
        );
        assert_ne!(a, job.schedule_name());
        assert_ne!(a, fresh_name(&job, fire, 2));
        assert_ne!(a, fresh_name(&job, fire + TimeDelta::minutes(1), 1));
        let later = Job {
            due_at: job.due_at + TimeDelta::hours(1),
            ..job.clone()
        };
        assert_ne!(a, fresh_name(&later, fire, 1));
        assert_eq!(a, fresh_name(&job.clone(), fire, 1), "deterministic");
    }
}
