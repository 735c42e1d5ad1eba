//! Sales reports (issue #13): time in stage, conversion, robot activity.
//!
//! Reports are never computed by scanning items at read time. Aggregates
//! ([`aggregate::Aggregate`]) are kept up to date as visits end and runs
//! finish, per tenant, pipeline, stage, UTC day and shard (a stage's robots
//! share one document: [`robot_counts`]), and per responsible; a report
//! reads `stages × days × SHARDS` documents.
//!
//! Exactness ([`commit`]): the counts are written in the same store
//! transaction as what they count —
//! - a visit's counts with the deletion of the item change's outbox record
//!   (the stage-change step, from the outbox / the DynamoDB stream): a
//!   record processed twice finds itself deleted and counts nothing;
//! - a robot run's counts with its final run record (every flow that makes a
//!   run final: runner, visit end, robot deletion, a cleared date field),
//!   through the engine's store wrapper [`commit::TallyStore`].
//!
//! Time in stage is per item, summed over its visits: the item keeps its
//! total per stage (`stage_time`), and counts once, on the UTC day it last
//! left the stage (a re-entry takes its earlier total out of the day it was
//! counted on). Quantiles come from a log-scale histogram ([`histogram`]):
//! within ±4.9 %; counts, sums and means are exact.

pub mod aggregate;
pub mod commit;
pub mod csv;
pub mod deleted_robots;
pub mod facts;
pub mod histogram;
pub mod period;
pub mod query;
pub mod robot_counts;
pub mod tally;

pub use aggregate::{Aggregate, Deltas, SHARDS};
pub use commit::{TallyStore, commit, tally_store};
pub use facts::{StageTimes, StageTotal, VisitFacts};
pub use period::{MAX_PERIOD_DAYS, Period};
pub use query::{ConversionReport, ReportQuery, RobotReport, StageTimeReport};
