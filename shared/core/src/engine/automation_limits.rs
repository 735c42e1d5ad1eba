//! How many robots (or triggers) a pipeline and each of its stages may
//! have. Every stage change reads the pipeline's robots and plans one run
//! per robot of the stage, every event reads its triggers, and the robots
//! report reads per robot: without a bound, one tenant's pipeline could make
//! each of these as slow and as large as it liked. 50 per stage is also the
//! most a visit job carries and a reorder moves in one write.

use super::Automation;
use crate::error::FieldError;

/// Most robots (or triggers) on one stage.
pub const MAX_PER_STAGE: usize = 50;
/// Most robots (or triggers) in one pipeline.
pub const MAX_PER_PIPELINE: usize = 500;

/// What saving `a` among `siblings` (the pipeline's others of its kind, as
/// stored; `a` itself among them when it is replaced) would exceed.
pub(crate) fn limit_errors<A: Automation>(a: &A, siblings: &[A]) -> Vec<FieldError> {
    let others: Vec<&A> = siblings.iter().filter(|s| s.id() != a.id()).collect();
    // A replacement that stays where it is adds nothing (a pipeline over a
    // limit from before it existed keeps working).
    let was = siblings.iter().find(|s| s.id() == a.id());
    let mut errors = Vec::new();
    if was.is_none() && others.len() >= MAX_PER_PIPELINE {
        errors.push(FieldError {
            field: "pipeline_id".into(),
            message: format!(
                "pipeline '{}' already has {} {}s, the most a pipeline can have",
                a.pipeline_id(),
                MAX_PER_PIPELINE,
                A::WHAT
            ),
        });
    }
    let on_stage = others
        .iter()
        .filter(|s| s.stage_id() == a.stage_id())
        .count();
    if was.is_none_or(|w| w.stage_id() != a.stage_id()) && on_stage >= MAX_PER_STAGE {
        errors.push(FieldError {
            field: "stage_id".into(),
            message: format!(
                "stage '{}' already has {} {}s, the most a stage can have",
                a.stage_id(),
                MAX_PER_STAGE,
                A::WHAT
            ),
        });
    }
    errors
}
