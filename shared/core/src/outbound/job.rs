//! The timer of a message's next attempt is a [`Job`] through the
//! [`crate::ports::Scheduler`] (on AWS an EventBridge schedule or a delayed
//! SQS message to the robot runner), told apart from robot runs by its run
//! id: `~outbound:{outbound id}` (`~` is never in a run id).

use chrono::{DateTime, Utc};

use crate::model::Outbound;
use crate::ports::Job;

const PREFIX: &str = "~outbound:";

/// The job that makes the next attempt of `m` at `at`.
pub fn job_for(m: &Outbound, at: DateTime<Utc>) -> Job {
    Job {
        tenant: m.tenant.clone(),
        run_id: format!("{PREFIX}{}", m.id),
        item_id: m.item_id.clone().unwrap_or_default(),
        visit: 0,
        due_at: at,
        then: Vec::new(),
    }
}

/// The outbound id of a message job (`None`: a robot run's job).
pub fn outbound_of(job: &Job) -> Option<&str> {
    job.run_id.strip_prefix(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_job_names_its_message_and_a_run_job_does_not() {
        let job = Job {
            tenant: "t".into(),
            run_id: "~outbound:email-7".into(),
            item_id: "item-1".into(),
            visit: 0,
            due_at: "2026-12-01T10:00:00Z".parse().unwrap(),
            then: Vec::new(),
        };
        assert_eq!(outbound_of(&job), Some("email-7"));
        let run = Job {
            run_id: "item-1:1:r-1".into(),
            ..job
        };
        assert_eq!(outbound_of(&run), None);
    }
}
