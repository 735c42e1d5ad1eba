//! Numbering rules ("numerators"): `INV-{YYYY}-{NUMBER}` with date parts, a
//! start, a step, zero padding, and a reset per year, month, day or never.
//!
//! A rule's last number is kept in a counter document
//! (`counter/numerator:{id}`): a document takes the next number with a
//! conditional write of the counter in the same transaction as the document
//! record and the robot run's final record. Two runs that take a number at
//! once cannot both commit (the loser re-reads and takes the next one), and
//! a run that does not commit takes no number: numbers are unique and
//! gap-free per rule.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Longest numbering template.
pub const MAX_NUMBER_TEMPLATE: usize = 100;
/// Most zero padding.
pub const MAX_PADDING: u32 = 20;
/// Largest start and step.
pub const MAX_START: u64 = 1_000_000_000_000;

/// When the sequence starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    Never,
    Year,
    Month,
    Day,
}

/// The settings of a numbering rule as a client sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumeratorBody {
    pub name: String,
    /// `{NUMBER}` (required, once) and date parts `{YYYY}`, `{YY}`, `{MM}`,
    /// `{DD}` (the date in the responsible's time zone) around any text,
    /// e.g. `INV-{YYYY}-{NUMBER}`.
    pub template: String,
    /// The first number (default 1).
    #[serde(default = "one")]
    pub start: u64,
    /// The increment (default 1).
    #[serde(default = "one")]
    pub step: u64,
    /// Zero padding of `{NUMBER}` (`4`: `0007`; default 0 = none).
    #[serde(default)]
    pub padding: u32,
    /// When the sequence starts again at `start` (default `never`).
    #[serde(default = "never")]
    pub reset: Reset,
}

fn one() -> u64 {
    1
}
fn never() -> Reset {
    Reset::Never
}

/// A stored numbering rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Numerator {
    pub id: String,
    #[serde(flatten)]
    pub rule: NumeratorBody,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// The stored state of a rule: the period of the last number and the number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NumberCounter {
    pub period: String,
    pub last: u64,
}

const TOKENS: &[&str] = &["NUMBER", "YYYY", "YY", "MM", "DD"];

fn tokens(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(s) = rest.find('{') {
        let after = &rest[s + 1..];
        match after.find('}') {
            Some(e) => {
                out.push(&after[..e]);
                rest = &after[e + 1..];
            }
            None => {
                out.push(after);
                break;
            }
        }
    }
    out
}

impl NumeratorBody {
    /// The problems of a rule (empty: valid).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| {
            errors.push(FieldError {
                field: field.into(),
                message,
            })
        };
        if self.name.trim().is_empty() || self.name.len() > 200 {
            err("name", "must be 1 to 200 characters".into());
        }
        if self.template.is_empty() || self.template.len() > MAX_NUMBER_TEMPLATE {
            err(
                "template",
                format!("must be 1 to {MAX_NUMBER_TEMPLATE} characters"),
            );
        }
        let toks = tokens(&self.template);
        let unknown: Vec<&str> = toks
            .iter()
            .copied()
            .filter(|t| !TOKENS.contains(t))
            .collect();
        if !unknown.is_empty() {
            err(
                "template",
                format!(
                    "unknown part(s) {}; known: {{NUMBER}}, {{YYYY}}, {{YY}}, {{MM}}, {{DD}}",
                    unknown
                        .iter()
                        .map(|t| format!("{{{t}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        } else if toks.iter().filter(|t| **t == "NUMBER").count() != 1 {
            err("template", "must hold {NUMBER} exactly once".into());
        }
        if self.start > MAX_START {
            err("start", format!("must be at most {MAX_START}"));
        }
        if self.step == 0 || self.step > MAX_START {
            err("step", format!("must be 1 to {MAX_START}"));
        }
        if self.padding > MAX_PADDING {
            err("padding", format!("must be 0 to {MAX_PADDING}"));
        }
        errors
    }

    /// The period a number taken on the day of `now` belongs to ("" for
    /// `never`). `now` is a local date or time: the caller picks the zone
    /// (the documents use the responsible's, see [`super::local_day`]).
    pub fn period(&self, now: impl Datelike) -> String {
        match self.reset {
            Reset::Never => String::new(),
            Reset::Year => format!("{:04}", now.year()),
            Reset::Month => format!("{:04}-{:02}", now.year(), now.month()),
            Reset::Day => format!("{:04}-{:02}-{:02}", now.year(), now.month(), now.day()),
        }
    }

    /// The number that follows `counter` at `now`, and the counter after it.
    pub fn next(&self, counter: Option<&NumberCounter>, now: impl Datelike) -> NumberCounter {
        let period = self.period(now);
        match counter {
            // A period never goes back: items of responsibles in zones still
            // in the previous day or year go on with the counter (numbers stay
            // unique per rule).
            Some(c) if c.period >= period => NumberCounter {
                period: c.period.clone(),
                last: c.last.saturating_add(self.step),
            },
            _ => NumberCounter {
                period,
                last: self.start,
            },
        }
    }

    /// The number `n` taken at `now` as text.
    pub fn format(&self, n: u64, now: impl Datelike) -> String {
        let width = self.padding as usize;
        self.template
            .replace("{NUMBER}", &format!("{n:0width$}"))
            .replace("{YYYY}", &format!("{:04}", now.year()))
            .replace("{YY}", &format!("{:02}", now.year() % 100))
            .replace("{MM}", &format!("{:02}", now.month()))
            .replace("{DD}", &format!("{:02}", now.day()))
    }
}

/// The counter document's id of a rule.
pub fn counter_id(numerator_id: &str) -> String {
    format!("numerator:{numerator_id}")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn rule(template: &str, reset: Reset) -> NumeratorBody {
        NumeratorBody {
            name: "Invoices".into(),
            template: template.into(),
            start: 1,
            step: 1,
            padding: 4,
            reset,
        }
    }

    #[test]
    fn numbers_are_padded_dated_and_restart_each_year() {
        let r = rule("INV-{YYYY}-{NUMBER}", Reset::Year);
        let dec = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 0).unwrap();
        let jan = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 1).unwrap();
        let a = r.next(None, dec);
        let b = r.next(Some(&a), dec);
        assert_eq!(
            (r.format(a.last, dec), r.format(b.last, dec)),
            ("INV-2026-0001".into(), "INV-2026-0002".into())
        );
        let c = r.next(Some(&b), jan);
        assert_eq!(r.format(c.last, jan), "INV-2027-0001");
        let never = rule("{NUMBER}", Reset::Never);
        let n = never.next(
            Some(&NumberCounter {
                period: String::new(),
                last: 41,
            }),
            jan,
        );
        assert_eq!(n.last, 42);
        let stepped = NumeratorBody {
            start: 100,
            step: 10,
            padding: 0,
            ..rule("A{YY}{MM}{DD}/{NUMBER}", Reset::Day)
        };
        let s1 = stepped.next(None, jan);
        let s2 = stepped.next(Some(&s1), jan);
        assert_eq!(stepped.format(s2.last, jan), "A270101/110");
        // A date before the counter's period (another zone) goes on counting.
        let back = r.next(Some(&c), dec);
        assert_eq!((back.period.as_str(), back.last), ("2027", 2));
    }

    #[test]
    fn a_rule_needs_number_once_and_known_parts() {
        let fields = |t: &str| -> Vec<String> {
            rule(t, Reset::Never)
                .validate()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert!(fields("INV-{NUMBER}").is_empty());
        assert_eq!(fields("INV-{YEAR}-{NUMBER}"), ["template"]);
        assert_eq!(fields("INV-{YYYY}"), ["template"]);
        assert_eq!(fields("{NUMBER}{NUMBER}"), ["template"]);
        let bad = NumeratorBody {
            step: 0,
            padding: 99,
            ..rule("{NUMBER}", Reset::Month)
        };
        let f: Vec<String> = bad.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(f, ["step", "padding"]);
    }
}
