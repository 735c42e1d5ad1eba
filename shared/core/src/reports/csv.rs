//! The reports as CSV (RFC 4180: comma-separated, CRLF line ends, a header
//! row; a field with a comma, quote or line break is quoted). A text field
//! that starts with `=`, `+`, `-` or `@` gets a leading `'` so that a
//! spreadsheet does not run it as a formula. Empty = no value.

use super::query::{ConversionReport, RobotReport, StageTimeReport};

fn text(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push_str("\r\n");
    for r in rows {
        out.push_str(&r.join(","));
        out.push_str("\r\n");
    }
    out
}

fn semantic(s: crate::model::Semantic) -> String {
    crate::reports::tally::status_name_of(&s)
}

/// `stage_id,name,semantic,count,visits,mean_seconds,median_seconds,p90_seconds,total_seconds`
pub fn stage_time_csv(r: &StageTimeReport) -> String {
    table(
        &[
            "stage_id",
            "name",
            "semantic",
            "count",
            "visits",
            "mean_seconds",
            "median_seconds",
            "p90_seconds",
            "total_seconds",
        ],
        r.stages
            .iter()
            .map(|s| {
                vec![
                    text(&s.stage_id),
                    text(&s.name),
                    semantic(s.semantic),
                    s.count.to_string(),
                    s.visits.to_string(),
                    num(s.mean_seconds),
                    num(s.median_seconds),
                    num(s.p90_seconds),
                    s.total_seconds.to_string(),
                ]
            })
            .collect(),
    )
}

/// `stage_id,name,semantic,entered,conversion_percent`, then the totals as
/// rows `_success`, `_failure` (entered) and `_processing_time`
/// (count in `entered`, mean and median seconds in the last columns).
pub fn conversion_csv(r: &ConversionReport) -> String {
    let mut rows: Vec<Vec<String>> = r
        .stages
        .iter()
        .map(|s| {
            vec![
                text(&s.stage_id),
                text(&s.name),
                semantic(s.semantic),
                s.entered.to_string(),
                num(s.conversion_percent),
                String::new(),
                String::new(),
            ]
        })
        .collect();
    let total = |id: &str, n: i64| vec![id.into(), String::new(), String::new(), n.to_string()];
    let mut success = total("_success", r.success);
    success.extend([String::new(), String::new(), String::new()]);
    let mut failure = total("_failure", r.failure);
    failure.extend([String::new(), String::new(), String::new()]);
    let mut time = total("_processing_time", r.processing_time.count);
    time.extend([
        String::new(),
        num(r.processing_time.mean_seconds),
        num(r.processing_time.median_seconds),
    ]);
    rows.extend([success, failure, time]);
    table(
        &[
            "stage_id",
            "name",
            "semantic",
            "entered",
            "conversion_percent",
            "mean_seconds",
            "median_seconds",
        ],
        rows,
    )
}

/// `robot_id,name,type,stage_id,done,skipped,cancelled,failed,loop_stopped,total,late_count,late_p50_seconds,late_p99_seconds,deleted`
pub fn robots_csv(r: &RobotReport) -> String {
    table(
        &[
            "robot_id",
            "name",
            "type",
            "stage_id",
            "done",
            "skipped",
            "cancelled",
            "failed",
            "loop_stopped",
            "total",
            "late_count",
            "late_p50_seconds",
            "late_p99_seconds",
            "deleted",
        ],
        r.robots
            .iter()
            .map(|b| {
                vec![
                    text(&b.robot_id),
                    text(&b.name),
                    text(&b.robot_type),
                    text(&b.stage_id),
                    b.runs.done.to_string(),
                    b.runs.skipped.to_string(),
                    b.runs.cancelled.to_string(),
                    b.runs.failed.to_string(),
                    b.runs.loop_stopped.to_string(),
                    b.total.to_string(),
                    b.lateness.count.to_string(),
                    num(b.lateness.p50_seconds),
                    num(b.lateness.p99_seconds),
                    b.deleted.to_string(),
                ]
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(text("New orders"), "New orders");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=SUM(A1)"), "'=SUM(A1)");
    }
}
