//! Metrics as CloudWatch Embedded Metric Format (EMF) lines.
//!
//! A Lambda function's stdout goes to CloudWatch Logs; a line that is an EMF
//! object is also turned into metrics, with no API call and no extra
//! latency. The robot runner writes one line per job outcome:
//!
//! ```json
//! {"_aws":{"Timestamp":1764660000000,"CloudWatchMetrics":[{"Namespace":"CrmAutomation",
//!   "Dimensions":[["Function","Status"],["Function"]],"Metrics":[{"Name":"Runs","Unit":"Count"},
//!   {"Name":"LatenessMs","Unit":"Milliseconds"}]}]},
//!  "Function":"robot-runner","Status":"done","Runs":1,"LatenessMs":840}
//! ```
//!
//! `Runs` counts outcomes by `Status` (a run's final status — `done`,
//! `failed`, `skipped`, `cancelled` — or what happened to a job that did not
//! finish a run: `already_finished`, `rescheduled`, `claimed`, `waiting`,
//! `unknown`). `LatenessMs` (finished runs only) is the finish time minus the
//! time the job was due: how late the delayed-robot path delivered.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The CloudWatch namespace of the engine's metrics.
pub const NAMESPACE: &str = "CrmAutomation";
/// The metric counting job outcomes.
pub const RUNS: &str = "Runs";
/// The metric of a finished run's lateness, in milliseconds.
pub const LATENESS_MS: &str = "LatenessMs";

/// One job outcome, as a metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMetric {
    /// The function that reports it (`Function` dimension).
    pub function: String,
    /// The outcome (`Status` dimension).
    pub status: String,
    /// Finish time minus due time, for a run finished now.
    pub lateness_ms: Option<i64>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl RunMetric {
    /// The EMF object of this outcome.
    pub fn to_emf(&self) -> Value {
        let mut metrics = vec![json!({"Name": RUNS, "Unit": "Count"})];
        if self.lateness_ms.is_some() {
            metrics.push(json!({"Name": LATENESS_MS, "Unit": "Milliseconds"}));
        }
        let mut line = json!({
            "_aws": {
                "Timestamp": self.at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    // By status, and per function across statuses (what
                    // the template's lateness alarm reads).
                    "Dimensions": [["Function", "Status"], ["Function"]],
                    "Metrics": metrics,
                }],
            },
            "Function": self.function,
            "Status": self.status,
            RUNS: 1,
        });
        if let Some(ms) = self.lateness_ms {
            line[LATENESS_MS] = json!(ms);
        }
        line
    }

    /// Write the EMF line to stdout (one line; CloudWatch Logs extracts the
    /// metrics from the function's log stream).
    pub fn emit(&self) {
        println!("{}", self.to_emf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The rules of the EMF specification ("Specification: Embedded metric
    /// format", CloudWatch User Guide) for the root node: `_aws` with an
    /// integer `Timestamp` (ms since the epoch) and `CloudWatchMetrics`, an
    /// array of directives each with a `Namespace`, `Dimensions` (an array
    /// of dimension sets, each an array of at most 30 names that are string
    /// members of the root) and `Metrics` (`Name` a number member of the
    /// root, `Unit` a CloudWatch unit).
    /// Objects the specification defines hold no other members.
    fn assert_valid_emf(v: &Value) {
        let aws = &v["_aws"];
        let only = |o: &Value, allowed: &[&str]| {
            let o = o.as_object().expect("an object");
            assert!(o.keys().all(|k| allowed.contains(&k.as_str())), "{o:?}");
        };
        only(aws, &["Timestamp", "CloudWatchMetrics"]);
        assert!(aws["Timestamp"].is_i64(), "{v}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert!(!directives.is_empty());
        for d in directives {
            only(d, &["Namespace", "Dimensions", "Metrics"]);
            assert!(d["Namespace"].as_str().is_some_and(|n| !n.is_empty()));
            for set in d["Dimensions"].as_array().expect("dimension sets") {
                let set = set.as_array().expect("a dimension set");
                assert!(!set.is_empty() && set.len() <= 30);
                for name in set {
                    let name = name.as_str().expect("dimension name");
                    assert!(
                        v[name].is_string(),
                        "dimension {name} is a root string: {v}"
                    );
                }
            }
            let metrics = d["Metrics"].as_array().expect("metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for m in metrics {
                only(m, &["Name", "Unit", "StorageResolution"]);
                let name = m["Name"].as_str().expect("metric name");
                assert!(v[name].is_number(), "metric {name} is a root number: {v}");
                assert!(
                    ["Count", "Milliseconds"].contains(&m["Unit"].as_str().unwrap_or("")),
                    "{m}"
                );
            }
        }
    }

    #[test]
    fn a_finished_run_reports_its_status_and_lateness() {
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap();
        let m = RunMetric {
            function: "robot-runner".into(),
            status: "done".into(),
            lateness_ms: Some(840),
            at,
        };
        let v = m.to_emf();
        assert_valid_emf(&v);
        assert_eq!(v["_aws"]["Timestamp"], at.timestamp_millis());
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "CrmAutomation"
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function", "Status"], ["Function"]])
        );
        assert_eq!(
            (&v["Function"], &v["Status"], &v["Runs"], &v["LatenessMs"]),
            (
                &json!("robot-runner"),
                &json!("done"),
                &json!(1),
                &json!(840)
            )
        );
        // One line: CloudWatch Logs reads one event per line.
        assert!(!v.to_string().contains('\n'));
    }

    #[test]
    fn an_outcome_without_a_run_reports_no_lateness() {
        let m = RunMetric {
            function: "robot-runner".into(),
            status: "rescheduled".into(),
            lateness_ms: None,
            at: Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).unwrap(),
        };
        let v = m.to_emf();
        assert_valid_emf(&v);
        assert!(v.get("LatenessMs").is_none());
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "Runs", "Unit": "Count"}])
        );
    }
}
