//! The three reports, read from the aggregates: a report reads one document
//! per stage, UTC day and shard — `stages × days × SHARDS` documents (`× 1`
//! per responsible), whatever the number of items. The robots report reads
//! the stages' robot documents, and adds each listed robot's own documents
//! of before issue #11's change (`robots × days × SHARDS`).

use chrono::NaiveDate;
use serde::Serialize;

use super::aggregate::{Aggregate, SHARDS, responsible_key, robot_key, robot_stage_key, stage_key};
use super::histogram::Histogram;
use super::period::Period;
use super::robot_counts::RobotCounts;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::model::{Pipeline, Semantic, User};
use crate::ports::DocKey;
use crate::robots::Robot;

/// Most keys read in one `get_many` call.
const READ_CHUNK: usize = 100;

/// What a report is asked for.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub pipeline_id: String,
    pub period: Period,
    /// Time in stage of this responsible's items only.
    pub responsible_id: Option<String>,
}

/// The period a report covers (UTC days).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReportPeriod {
    pub pipeline_id: String,
    /// First UTC day (`YYYY-MM-DD`).
    pub from: String,
    /// Last UTC day, inclusive.
    pub to: String,
    /// The time zone the period was asked in (aggregates are per UTC day).
    pub tz: String,
}

/// Time in one stage.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StageTimeRow {
    pub stage_id: String,
    pub name: String,
    pub semantic: Semantic,
    /// Items whose time in the stage (summed over their visits) ended in
    /// the period.
    pub count: i64,
    /// Visits of the stage that ended in the period (re-entries included).
    pub visits: i64,
    pub mean_seconds: Option<f64>,
    /// Within ±4.9 % (log-scale histogram).
    pub median_seconds: Option<f64>,
    /// Within ±4.9 % (log-scale histogram).
    pub p90_seconds: Option<f64>,
    pub total_seconds: f64,
}

/// `GET /v1/reports/stage-time`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct StageTimeReport {
    #[serde(flatten)]
    pub period: ReportPeriod,
    pub responsible_id: Option<String>,
    pub stages: Vec<StageTimeRow>,
}

/// Count, mean and median of durations.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DurationStats {
    pub count: i64,
    pub mean_seconds: Option<f64>,
    pub median_seconds: Option<f64>,
}

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConversionRow {
    pub stage_id: String,
    pub name: String,
    pub semantic: Semantic,
    /// Entries into the stage in the period (re-entries included).
    pub entered: i64,
    /// `entered` as a percentage of the previous funnel stage's (the
    /// stages in pipeline order, failure stages left out); `null` for the
    /// first stage, failure stages, or when the previous had none.
    pub conversion_percent: Option<f64>,
}

/// `GET /v1/reports/conversion`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ConversionReport {
    #[serde(flatten)]
    pub period: ReportPeriod,
    pub stages: Vec<ConversionRow>,
    /// Entries into success stages.
    pub success: i64,
    /// Entries into failure stages.
    pub failure: i64,
    /// Processing time: creation → entry into a success stage.
    pub processing_time: DurationStats,
}

/// Runs of one robot by final status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RunCounts {
    pub done: i64,
    pub skipped: i64,
    pub cancelled: i64,
    pub failed: i64,
    pub loop_stopped: i64,
}

/// How late a delayed robot ran (finished − due).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Lateness {
    pub count: i64,
    pub p50_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
}

/// One robot's activity.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RobotRow {
    pub robot_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub robot_type: String,
    pub stage_id: String,
    pub runs: RunCounts,
    pub total: i64,
    pub lateness: Lateness,
    /// The robot was deleted (it is listed for the periods it ran in, under
    /// the name it had).
    pub deleted: bool,
}

/// `GET /v1/reports/robots`.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RobotReport {
    #[serde(flatten)]
    pub period: ReportPeriod,
    pub robots: Vec<RobotRow>,
}

#[allow(clippy::cast_precision_loss)]
fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[allow(clippy::cast_precision_loss)]
fn mean_seconds(sum_ms: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| sum_ms as f64 / n as f64 / 1000.0)
}

fn q_seconds(h: &Histogram, q: f64) -> Option<f64> {
    h.quantile(q).map(|ms| (ms / 10.0).round() / 100.0)
}

impl Engine {
    async fn report_pipeline(
        &self,
        tenant: &str,
        q: &ReportQuery,
    ) -> Result<(Pipeline, ReportPeriod)> {
        let (pipeline, _) = self
            .must::<Pipeline>(tenant, "pipeline", &q.pipeline_id)
            .await?;
        let period = ReportPeriod {
            pipeline_id: q.pipeline_id.clone(),
            from: q.period.from.to_string(),
            to: q.period.to.to_string(),
            tz: q.period.tz.clone(),
        };
        Ok((pipeline, period))
    }

    /// The merged aggregate of each group of keys.
    async fn read_merged(&self, groups: &[Vec<DocKey>]) -> Result<Vec<Aggregate>> {
        let keys: Vec<DocKey> = groups.iter().flatten().cloned().collect();
        let mut docs = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(READ_CHUNK) {
            docs.extend(self.ports.store.get_many(chunk).await?);
        }
        let mut docs = docs.into_iter();
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let mut agg = Aggregate::default();
            for d in docs.by_ref().take(g.len()).flatten() {
                let a: Aggregate = serde_json::from_value(d.body)
                    .map_err(|e| EngineError::Corrupt(format!("{}: {e}", d.key)))?;
                agg.merge(&a);
            }
            out.push(agg);
        }
        Ok(out)
    }

    fn stage_keys(
        &self,
        tenant: &str,
        q: &ReportQuery,
        stage: &str,
        days: &[NaiveDate],
    ) -> Vec<DocKey> {
        let p = q.pipeline_id.as_str();
        match &q.responsible_id {
            Some(r) => days
                .iter()
                .map(|d| responsible_key(tenant, p, r, stage, *d))
                .collect(),
            None => days
                .iter()
                .flat_map(|d| (0..SHARDS).map(move |s| stage_key(tenant, p, stage, *d, s)))
                .collect(),
        }
    }

    /// Time in stage per stage of the pipeline.
    pub async fn report_stage_time(
        &self,
        tenant: &str,
        q: &ReportQuery,
    ) -> Result<StageTimeReport> {
        let (pipeline, period) = self.report_pipeline(tenant, q).await?;
        if let Some(r) = &q.responsible_id
            && self.load::<User>(tenant, r).await?.is_none()
        {
            return Err(EngineError::invalid(
                "responsible_id",
                format!("unknown user '{r}'"),
            ));
        }
        let days = q.period.days();
        let groups: Vec<Vec<DocKey>> = pipeline
            .stages
            .iter()
            .map(|s| self.stage_keys(tenant, q, &s.id, &days))
            .collect();
        let aggs = self.read_merged(&groups).await?;
        let stages = pipeline
            .stages
            .iter()
            .zip(aggs)
            .map(|(s, a)| StageTimeRow {
                stage_id: s.id.clone(),
                name: s.name.clone(),
                semantic: s.semantic,
                count: a.items,
                visits: a.visits,
                mean_seconds: mean_seconds(a.time_ms, a.items),
                median_seconds: q_seconds(&a.time, 0.5),
                p90_seconds: q_seconds(&a.time, 0.9),
                total_seconds: seconds(a.time_ms),
            })
            .collect();
        Ok(StageTimeReport {
            period,
            responsible_id: q.responsible_id.clone(),
            stages,
        })
    }

    /// Entries per stage, the funnel, and the processing time.
    pub async fn report_conversion(
        &self,
        tenant: &str,
        q: &ReportQuery,
    ) -> Result<ConversionReport> {
        let (pipeline, period) = self.report_pipeline(tenant, q).await?;
        let q = ReportQuery {
            responsible_id: None,
            ..q.clone()
        };
        let days = q.period.days();
        let groups: Vec<Vec<DocKey>> = pipeline
            .stages
            .iter()
            .map(|s| self.stage_keys(tenant, &q, &s.id, &days))
            .collect();
        let aggs = self.read_merged(&groups).await?;
        let mut stages = Vec::new();
        let mut previous: Option<i64> = None;
        let (mut success, mut failure) = (0, 0);
        let mut won = Aggregate::default();
        for (s, a) in pipeline.stages.iter().zip(&aggs) {
            let mut conversion_percent = None;
            match s.semantic {
                Semantic::Failure => failure += a.entered,
                _ => {
                    #[allow(clippy::cast_precision_loss)]
                    if let Some(p) = previous.filter(|p| *p > 0) {
                        conversion_percent =
                            Some((a.entered as f64 * 10_000.0 / p as f64).round() / 100.0);
                    }
                    previous = Some(a.entered);
                }
            }
            if s.semantic == Semantic::Success {
                success += a.entered;
                won.age_ms += a.age_ms;
                won.age.merge(&a.age);
            }
            stages.push(ConversionRow {
                stage_id: s.id.clone(),
                name: s.name.clone(),
                semantic: s.semantic,
                entered: a.entered,
                conversion_percent,
            });
        }
        let n = won.age.count();
        Ok(ConversionReport {
            period,
            stages,
            success,
            failure,
            processing_time: DurationStats {
                count: n,
                mean_seconds: mean_seconds(won.age_ms, n),
                median_seconds: q_seconds(&won.age, 0.5),
            },
        })
    }

    /// Runs per robot of the pipeline by status, and delayed robots' lateness.
    pub async fn report_robots(&self, tenant: &str, q: &ReportQuery) -> Result<RobotReport> {
        let (pipeline, period) = self.report_pipeline(tenant, q).await?;
        let mut robots: Vec<Robot> = self.list(tenant, &q.pipeline_id).await?;
        robots.sort_by_key(|r| r.order);
        let live = robots.len();
        let gone = super::deleted_robots::deleted_since(
            self.ports.store.as_ref(),
            tenant,
            &q.pipeline_id,
            q.period.from,
        )
        .await?;
        let gone: Vec<Robot> = gone
            .into_iter()
            .filter(|g| !robots.iter().any(|r| r.id == g.id))
            .collect();
        robots.extend(gone);
        let days = q.period.days();
        let p = q.pipeline_id.as_str();
        // The robots' documents of every stage a listed robot is (or was
        // deleted) in and of every stage of the pipeline, merged: a robot
        // counts wherever it is found (one moved to another stage keeps what
        // it ran before). Then each robot's own documents (written before
        // issue #11's change), added.
        let mut stages: Vec<&str> = pipeline.stages.iter().map(|s| s.id.as_str()).collect();
        for r in &robots {
            if !stages.contains(&r.stage_id.as_str()) {
                stages.push(&r.stage_id);
            }
        }
        let by_stage: Vec<DocKey> = stages
            .iter()
            .flat_map(|st| {
                days.iter().flat_map(move |d| {
                    (0..SHARDS).map(move |s| robot_stage_key(tenant, p, st, *d, s))
                })
            })
            .collect();
        let mut groups: Vec<Vec<DocKey>> = vec![by_stage];
        groups.extend(robots.iter().map(|r| {
            days.iter()
                .flat_map(|d| (0..SHARDS).map(move |s| robot_key(tenant, p, &r.id, *d, s)))
                .collect()
        }));
        let mut aggs = self.read_merged(&groups).await?.into_iter();
        let by_stage = aggs.next().unwrap_or_default();
        let counts: Vec<RobotCounts> = robots
            .iter()
            .zip(aggs)
            .map(|(r, own)| {
                let mut c = by_stage.robot(&r.id);
                c.merge(&own.robot(&r.id));
                c
            })
            .collect();
        let rows = robots
            .iter()
            .zip(counts)
            .enumerate()
            // A deleted robot only where it ran in the period.
            .filter(|(i, (_, a))| *i < live || !a.runs.is_empty())
            .map(|(i, (r, a))| {
                let n = |s: &str| a.runs.get(s).copied().unwrap_or(0);
                RobotRow {
                    robot_id: r.id.clone(),
                    name: r.name.clone(),
                    robot_type: r.action.api_type(),
                    stage_id: r.stage_id.clone(),
                    runs: RunCounts {
                        done: n("done"),
                        skipped: n("skipped"),
                        cancelled: n("cancelled"),
                        failed: n("failed"),
                        loop_stopped: n("loop_stopped"),
                    },
                    total: a.runs.values().sum(),
                    lateness: Lateness {
                        count: a.late.count(),
                        p50_seconds: q_seconds(&a.late, 0.5),
                        p99_seconds: q_seconds(&a.late, 0.99),
                    },
                    deleted: i >= live,
                }
            })
            .collect();
        Ok(RobotReport {
            period,
            robots: rows,
        })
    }
}

impl Engine {
    /// A report query from the request's parameters (the period checked:
    /// 422 naming `from`, `to` or `tz`; the default `to` is today, UTC, by
    /// the engine's clock).
    pub fn report_query(
        &self,
        pipeline_id: String,
        from: Option<&str>,
        to: Option<&str>,
        tz: Option<&str>,
        responsible_id: Option<String>,
    ) -> Result<ReportQuery> {
        let period = Period::parse(from, to, tz, self.now().date_naive())?;
        Ok(ReportQuery {
            pipeline_id,
            period,
            responsible_id: responsible_id.filter(|r| !r.is_empty()),
        })
    }
}
