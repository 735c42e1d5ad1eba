//! [`Scheduler`] on EventBridge Scheduler: one one-time schedule per delayed
//! robot run, named [`Job::schedule_name`], that invokes the robot-runner
//! Lambda with the [`Job`] JSON as its input and deletes itself afterwards.

use async_trait::async_trait;
use aws_sdk_scheduler::Client;
use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, Target,
};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Timelike, Utc};
use crm_core::ports::{Job, PortError, Scheduler, schedule_name};
use tracing::{debug, warn};

use crate::error::{AwsError, code_of, describe};

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
}

/// EventBridge Scheduler adapter; see the module docs.
#[derive(Debug, Clone)]
pub struct EventBridgeScheduler {
    client: Client,
    group: String,
    target_arn: String,
    role_arn: String,
    dlq_arn: String,
}

impl EventBridgeScheduler {
    /// Schedules in `group` that invoke `target_arn` (the robot-runner Lambda)
    /// as `role_arn`, with failed deliveries sent to the SQS queue `dlq_arn`.
    pub fn new(
        client: Client,
        group: impl Into<String>,
        target_arn: impl Into<String>,
        role_arn: impl Into<String>,
        dlq_arn: impl Into<String>,
    ) -> Self {
        EventBridgeScheduler {
            client,
            group: group.into(),
            target_arn: target_arn.into(),
            role_arn: role_arn.into(),
            dlq_arn: dlq_arn.into(),
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
        let job = out
            .target()
            .and_then(|t| t.input())
            .and_then(|i| serde_json::from_str::<Job>(i).ok());
        match (fire_at, job) {
            (Some(fire_at), Some(job)) => Ok(Some(ScheduledJob {
                name: name.to_owned(),
                fire_at,
                job,
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

    /// The schedules whose job is due at `now` (`job.due_at <= now`, like the
    /// in-memory scheduler), as (schedule name, job), earliest first. The
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

#[async_trait]
impl Scheduler for EventBridgeScheduler {
    async fn schedule(&self, job: Job) -> Result<(), PortError> {
        let name = job.schedule_name();
        let input = serde_json::to_string(&job)
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
            .name(&name)
            .group_name(&self.group)
            .schedule_expression(at_expression(job.due_at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .target(target)
            .action_after_completion(ActionAfterCompletion::Delete)
            .send()
            .await;
        match result {
            Ok(_) => {
                debug!(%name, due_at = %job.due_at, "schedule created");
                Ok(())
            }
            // Same name = same (tenant, run): it is already scheduled.
            Err(e) if code_of(&e) == Some("ConflictException") => {
                debug!(%name, "schedule already exists");
                Ok(())
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
}
