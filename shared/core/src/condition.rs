//! Conditions of robots and triggers (API.md "Conditions").
//!
//! A condition is a leaf `{"field": "amount", "op": "gt", "value": 10000}` or
//! a group `{"all": [...]}` (AND) / `{"any": [...]}` (OR); groups nest.
//! Fields use the template placeholder paths (`amount`, `stage.id`,
//! `fields.<key>`, …) and are looked up through [`Resolve`]; a missing field
//! is `null`.
//!
//! # Comparing values
//!
//! Two values are compared, in this order of precedence:
//! 1. `null` on either side: not comparable (ordering operators are false;
//!    `eq` is true only for `null` vs `null`).
//! 2. numbers or numeric strings on both sides (`"10000"` vs `10000`):
//!    numerically; integers exactly, otherwise as `f64`.
//! 3. strings on both sides that both parse as RFC 3339 date-times or as dates
//!    (`YYYY-MM-DD`): as instants. A date-time compared with a date is
//!    compared by its calendar date in its own offset, so
//!    `2026-05-01T23:00:00+03:00` equals `2026-05-01`.
//! 4. other strings: exactly for `eq`/`ne`, lexicographically (by code
//!    point) for `gt`/`gte`/`lt`/`lte`.
//! 5. booleans on both sides: `false < true`.
//!
//! Any other pair (e.g. an array and a number) is not ordered; `eq` then
//! falls back to structural JSON equality.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::template::{Resolve, format_value};

/// A condition operator. Serialized in snake_case (`not_in`, `not_empty`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (see the module docs for coercions).
    Eq,
    /// Not equal: always the negation of [`Op::Eq`].
    Ne,
    /// Greater than; false when the values are not comparable.
    Gt,
    /// Greater than or equal; false when the values are not comparable.
    Gte,
    /// Less than; false when the values are not comparable.
    Lt,
    /// Less than or equal; false when the values are not comparable.
    Lte,
    /// The item value (or, if it is an array, any of its elements) equals an
    /// element of the list given as value.
    In,
    /// Negation of [`Op::In`].
    NotIn,
    /// Strings (and numbers/booleans, as text): case-insensitive substring.
    /// Arrays: membership, comparing strings case-insensitively.
    /// `null` and objects contain nothing.
    Contains,
    /// Negation of [`Op::Contains`].
    NotContains,
    /// True for a missing field, `null`, `""`, `[]` and `{}`.
    Empty,
    /// Negation of [`Op::Empty`].
    NotEmpty,
    /// `[a, b]`: `a ≤ v ≤ b` inclusive (numbers or instants, or any other
    /// comparable pair); false when `v` is not comparable with both bounds.
    Between,
}

impl Op {
    /// Every operator, in declaration order.
    pub const ALL: [Op; 13] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::NotContains,
        Op::Empty,
        Op::NotEmpty,
        Op::Between,
    ];

    /// The wire name (`eq`, `not_in`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::Empty => "empty",
            Op::NotEmpty => "not_empty",
            Op::Between => "between",
        }
    }

    /// Applies the operator to the item's value `actual` and the condition's
    /// `operand` (the leaf's `value`). Total: never panics, whatever the
    /// shapes; each `not_x`/`ne` is exactly the negation of its positive
    /// operator.
    pub fn matches(self, actual: &Value, operand: &Value) -> bool {
        match self {
            Op::Eq => values_equal(actual, operand),
            Op::Ne => !values_equal(actual, operand),
            Op::Gt => compare(actual, operand) == Some(Ordering::Greater),
            Op::Gte => matches!(
                compare(actual, operand),
                Some(Ordering::Greater | Ordering::Equal)
            ),
            Op::Lt => compare(actual, operand) == Some(Ordering::Less),
            Op::Lte => matches!(
                compare(actual, operand),
                Some(Ordering::Less | Ordering::Equal)
            ),
            Op::In => is_in(actual, operand),
            Op::NotIn => !is_in(actual, operand),
            Op::Contains => contains(actual, operand),
            Op::NotContains => !contains(actual, operand),
            Op::Empty => is_empty(actual),
            Op::NotEmpty => !is_empty(actual),
            Op::Between => between(actual, operand),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A condition tree.
///
/// Serializes as `{"all": [...]}`, `{"any": [...]}` or
/// `{"field", "op", "value"}` (a `null` value is omitted). Deserializing
/// rejects unknown keys, mixed group/leaf keys and leaves without `field` or
/// `op`; a missing `value` is `null`.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
#[schemars(deny_unknown_fields)]
pub enum Condition {
    /// AND: true when every child is true (an empty list is true, but
    /// [`Condition::validate`] rejects it).
    All {
        /// The children.
        all: Vec<Condition>,
    },
    /// OR: true when at least one child is true (an empty list is false, but
    /// [`Condition::validate`] rejects it).
    Any {
        /// The children.
        any: Vec<Condition>,
    },
    /// `field op value`, evaluated with [`Op::matches`].
    Leaf {
        /// A placeholder path such as `amount` or `fields.budget`.
        field: String,
        /// The operator.
        op: Op,
        /// The operand; `null` when absent.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        value: Value,
    },
}

impl Condition {
    /// A leaf condition `field op value`.
    pub fn leaf(field: impl Into<String>, op: Op, value: Value) -> Self {
        Condition::Leaf {
            field: field.into(),
            op,
            value,
        }
    }

    /// An AND group.
    pub fn all(children: Vec<Condition>) -> Self {
        Condition::All { all: children }
    }

    /// An OR group.
    pub fn any(children: Vec<Condition>) -> Self {
        Condition::Any { any: children }
    }

    /// Checks the condition when a robot or trigger is saved: every field must
    /// satisfy `known_field`, every group must be non-empty, and each
    /// operator's value must have the right shape:
    /// `eq`/`ne` need a non-null value; `gt`/`gte`/`lt`/`lte`/`contains`/
    /// `not_contains` a string, number or boolean; `in`/`not_in` an array;
    /// `between` an array of two such scalars; `empty`/`not_empty` no value.
    /// Returns the first problem found (depth first).
    pub fn validate(&self, known_field: &dyn Fn(&str) -> bool) -> Result<(), ConditionError> {
        self.validate_at(known_field, &mut String::from("$"))
    }

    fn validate_at(
        &self,
        known_field: &dyn Fn(&str) -> bool,
        at: &mut String,
    ) -> Result<(), ConditionError> {
        match self {
            Condition::All { all } => validate_group("all", all, known_field, at),
            Condition::Any { any } => validate_group("any", any, known_field, at),
            Condition::Leaf { field, op, value } => {
                if !known_field(field) {
                    return Err(ConditionError::UnknownField {
                        field: field.clone(),
                    });
                }
                validate_operand(field, *op, value)
            }
        }
    }

    /// Evaluates the condition against the item as it is now. `all` needs
    /// every child to be true, `any` at least one; a leaf resolves its field
    /// (missing → `null`) and applies [`Op::matches`].
    pub fn evaluate(&self, ctx: &dyn Resolve) -> bool {
        match self {
            Condition::All { all } => all.iter().all(|c| c.evaluate(ctx)),
            Condition::Any { any } => any.iter().any(|c| c.evaluate(ctx)),
            Condition::Leaf { field, op, value } => {
                let actual = ctx.resolve(field).unwrap_or(Value::Null);
                op.matches(&actual, value)
            }
        }
    }

    /// A short account of why the condition is false for `ctx` (for the run
    /// log): the first leaf that failed, with the value it saw, each value
    /// cut to a few dozen characters — never a copy of the whole condition.
    pub fn why_false(&self, ctx: &dyn Resolve) -> String {
        match self {
            Condition::All { all } => match all.iter().find(|c| !c.evaluate(ctx)) {
                Some(c) => c.why_false(ctx),
                None => "true".to_string(),
            },
            Condition::Any { any } => match any.first() {
                Some(first) if any.len() == 1 => first.why_false(ctx),
                Some(first) => format!(
                    "none of {} alternatives held (first: {})",
                    any.len(),
                    first.why_false(ctx)
                ),
                None => "an empty 'any' group".to_string(),
            },
            Condition::Leaf { field, op, value } => {
                let actual = ctx.resolve(field).unwrap_or(Value::Null);
                let operand = if value.is_null() {
                    String::new()
                } else {
                    format!(" {}", short(value))
                };
                format!(
                    "{} {op}{operand} was false ({} is {})",
                    short_str(field),
                    short_str(field),
                    short(&actual)
                )
            }
        }
    }
}

/// A JSON value cut to at most 40 characters.
fn short(v: &Value) -> String {
    short_str(&v.to_string())
}

/// A text cut to at most 40 characters.
fn short_str(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let cut: String = s.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

fn validate_group(
    group: &'static str,
    children: &[Condition],
    known_field: &dyn Fn(&str) -> bool,
    at: &mut String,
) -> Result<(), ConditionError> {
    let parent_len = at.len();
    at.push('.');
    at.push_str(group);
    if children.is_empty() {
        return Err(ConditionError::EmptyGroup {
            group,
            at: at.clone(),
        });
    }
    let group_len = at.len();
    for (i, child) in children.iter().enumerate() {
        at.truncate(group_len);
        at.push('[');
        at.push_str(&i.to_string());
        at.push(']');
        child.validate_at(known_field, at)?;
    }
    at.truncate(parent_len);
    Ok(())
}

fn validate_operand(field: &str, op: Op, value: &Value) -> Result<(), ConditionError> {
    let expected = match op {
        Op::Eq | Op::Ne if value.is_null() => "a value",
        Op::Gt | Op::Gte | Op::Lt | Op::Lte | Op::Contains | Op::NotContains
            if !is_scalar(value) =>
        {
            "a string, number or boolean"
        }
        Op::In | Op::NotIn if !value.is_array() => "an array of values",
        Op::Between
            if !matches!(value.as_array(), Some(bounds) if bounds.len() == 2
                && bounds.iter().all(is_scalar)) =>
        {
            "an array of two bounds [from, to]"
        }
        Op::Empty | Op::NotEmpty if !value.is_null() => {
            return Err(ConditionError::UnexpectedValue {
                field: field.to_owned(),
                op,
                got: describe(value),
            });
        }
        _ => return Ok(()),
    };
    Err(ConditionError::InvalidValue {
        field: field.to_owned(),
        op,
        expected,
        got: describe(value),
    })
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "no value".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(items) => format!("an array of {} element(s)", items.len()),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// Why a condition was rejected by [`Condition::validate`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// The field is not a known placeholder path.
    #[error("unknown field `{field}` in condition")]
    UnknownField {
        /// The field path.
        field: String,
    },
    /// The operator's value has the wrong shape.
    #[error("condition `{field} {op}`: expected {expected}, got {got}")]
    InvalidValue {
        /// The field path.
        field: String,
        /// The operator.
        op: Op,
        /// What the operator needs.
        expected: &'static str,
        /// What was given.
        got: String,
    },
    /// `empty`/`not_empty` with a value.
    #[error("condition `{field} {op}` takes no value, got {got}")]
    UnexpectedValue {
        /// The field path.
        field: String,
        /// The operator.
        op: Op,
        /// What was given.
        got: String,
    },
    /// An `all`/`any` group without children.
    #[error("empty `{group}` group at {at}: a group needs at least one condition")]
    EmptyGroup {
        /// `"all"` or `"any"`.
        group: &'static str,
        /// Location of the group in the condition tree, e.g. `$.all[1].any`.
        at: String,
    },
}

impl ConditionError {
    /// The field path the error is about (`None` for an empty group).
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::UnknownField { field }
            | Self::InvalidValue { field, .. }
            | Self::UnexpectedValue { field, .. } => Some(field),
            Self::EmptyGroup { .. } => None,
        }
    }

    /// Where in the condition the problem is: the field path for leaf
    /// errors, the tree location (`$.all[1].any`) for an empty group.
    pub fn path(&self) -> &str {
        match self {
            Self::UnknownField { field }
            | Self::InvalidValue { field, .. }
            | Self::UnexpectedValue { field, .. } => field,
            Self::EmptyGroup { at, .. } => at,
        }
    }
}

const EXPECTING: &str = "a condition object: a leaf {\"field\", \"op\", \"value\"} \
                         or a group {\"all\": [...]} / {\"any\": [...]}";

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ConditionVisitor)
    }
}

struct ConditionVisitor;

fn set_once<T, E: de::Error>(slot: &mut Option<T>, key: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(key));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> Visitor<'de> for ConditionVisitor {
    type Value = Condition;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Condition, A::Error> {
        let mut all = None;
        let mut any = None;
        let mut field = None;
        let mut op = None;
        let mut value = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "all" => set_once(&mut all, "all", map.next_value::<Vec<Condition>>()?)?,
                "any" => set_once(&mut any, "any", map.next_value::<Vec<Condition>>()?)?,
                "field" => set_once(&mut field, "field", map.next_value::<String>()?)?,
                "op" => set_once(&mut op, "op", map.next_value::<Op>()?)?,
                "value" => set_once(&mut value, "value", map.next_value::<Value>()?)?,
                other => {
                    return Err(de::Error::custom(format_args!(
                        "unknown key `{other}` in condition; expected `field`, `op` and \
                         `value` for a leaf, or `all` / `any` for a group"
                    )));
                }
            }
        }
        let is_leaf = field.is_some() || op.is_some() || value.is_some();
        match (all, any) {
            (Some(_), Some(_)) => Err(de::Error::custom(
                "a condition group has either `all` or `any`, not both; nest groups instead",
            )),
            (Some(_), None) | (None, Some(_)) if is_leaf => Err(de::Error::custom(
                "a condition is either a group (`all`/`any`) or a leaf \
                 (`field`/`op`/`value`), not both",
            )),
            (Some(all), None) => Ok(Condition::All { all }),
            (None, Some(any)) => Ok(Condition::Any { any }),
            (None, None) if !is_leaf => Err(de::Error::custom(format_args!(
                "empty condition object; expected {EXPECTING}"
            ))),
            (None, None) => Ok(Condition::Leaf {
                field: field.ok_or_else(|| de::Error::missing_field("field"))?,
                op: op.ok_or_else(|| de::Error::missing_field("op"))?,
                value: value.unwrap_or(Value::Null),
            }),
        }
    }
}

/// A number, integral ones exactly.
#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .map(|i| Num::Int(i.into()))
                .or_else(|| n.as_u64().map(|u| Num::Int(u.into())))
                .or_else(|| n.as_f64().map(Num::Float)),
            Value::String(s) => {
                let s = s.trim();
                if let Ok(i) = s.parse::<i128>() {
                    return Some(Num::Int(i));
                }
                // Only plain decimal notation: rejects "inf", "NaN", "infinity".
                let plain = s
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
                s.parse::<f64>()
                    .ok()
                    .filter(|f| plain && f.is_finite())
                    .map(Num::Float)
            }
            _ => None,
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn cmp(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

/// A point in time: a full RFC 3339 date-time or a calendar date.
#[derive(Clone, Copy)]
enum Moment {
    DateTime(DateTime<FixedOffset>),
    Date(NaiveDate),
}

impl Moment {
    fn parse(s: &str) -> Option<Moment> {
        let s = s.trim();
        if s.len() == 10 {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(Moment::Date)
        } else {
            DateTime::parse_from_rfc3339(s).ok().map(Moment::DateTime)
        }
    }

    fn cmp(self, other: Moment) -> Ordering {
        match (self, other) {
            (Moment::DateTime(a), Moment::DateTime(b)) => a.cmp(&b),
            (Moment::Date(a), Moment::Date(b)) => a.cmp(&b),
            (Moment::DateTime(a), Moment::Date(b)) => a.date_naive().cmp(&b),
            (Moment::Date(a), Moment::DateTime(b)) => a.cmp(&b.date_naive()),
        }
    }
}

/// Orders two values (see the module docs); `None` when not comparable.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    if let (Some(x), Some(y)) = (Num::of(a), Num::of(b)) {
        return x.cmp(y);
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => match (Moment::parse(x), Moment::parse(y)) {
            (Some(x), Some(y)) => Some(x.cmp(y)),
            _ => Some(x.as_str().cmp(y.as_str())),
        },
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match compare(a, b) {
        Some(ordering) => ordering == Ordering::Equal,
        None => a == b,
    }
}

/// Equality used for membership: [`values_equal`], plus case-insensitive
/// equality of strings.
fn member_equal(element: &Value, needle: &Value) -> bool {
    values_equal(element, needle)
        || matches!((element, needle), (Value::String(x), Value::String(y))
            if x.to_lowercase() == y.to_lowercase())
}

fn is_in(actual: &Value, list: &Value) -> bool {
    let list = match list {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    match actual {
        Value::Array(elements) => elements
            .iter()
            .any(|e| list.iter().any(|l| values_equal(e, l))),
        _ => list.iter().any(|l| values_equal(actual, l)),
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Array(elements) => elements.iter().any(|e| member_equal(e, needle)),
        Value::String(_) | Value::Number(_) | Value::Bool(_) if is_scalar(needle) => {
            let haystack = format_value(haystack).to_lowercase();
            haystack.contains(&format_value(needle).to_lowercase())
        }
        _ => false,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Number(_) | Value::Bool(_) => false,
    }
}

fn between(actual: &Value, bounds: &Value) -> bool {
    match bounds.as_array().map(Vec::as_slice) {
        Some([low, high]) => {
            matches!(compare(low, actual), Some(Ordering::Less | Ordering::Equal))
                && matches!(
                    compare(actual, high),
                    Some(Ordering::Less | Ordering::Equal)
                )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_false_condition_is_explained_by_its_failing_leaf_in_a_few_words() {
        let item = json!({"amount": 5000, "title": "x".repeat(500)});
        let c: Condition = serde_json::from_value(json!({"all": [
            {"field": "title", "op": "not_empty"},
            {"field": "amount", "op": "gt", "value": 10000},
        ]}))
        .unwrap();
        assert!(!c.evaluate(&item));
        assert_eq!(
            c.why_false(&item),
            "amount gt 10000 was false (amount is 5000)"
        );
        let long: Condition = serde_json::from_value(
            json!({"field": "title", "op": "eq", "value": "y".repeat(5000)}),
        )
        .unwrap();
        let why = long.why_false(&item);
        assert!(why.chars().count() < 120, "{why}");
    }
    use proptest::prelude::*;
    use serde_json::json;

    fn deal() -> Value {
        json!({
            "title": "Design project for ACME",
            "amount": 15000,
            "amount_text": "15000.50",
            "currency": "EUR",
            "stage": {"id": "new"},
            "responsible": {"id": "u1", "name": "Anna"},
            "created_at": "2026-05-01T11:44:00+03:00",
            "fields": {
                "budget": "10000",
                "deadline": "2026-05-20",
                "tags": ["VIP", "wholesale"],
                "scores": [1, 5, 9],
                "vip": true,
                "empty_text": "",
                "empty_list": [],
                "empty_obj": {},
                "nothing": null,
                "meta": {"a": 1},
                "long_id": "12345678901234567890"
            }
        })
    }

    fn leaf(field: &str, op: Op, value: Value) -> Condition {
        Condition::leaf(field, op, value)
    }

    fn check(field: &str, op: Op, value: Value) -> bool {
        leaf(field, op, value).evaluate(&deal())
    }

    fn parse(json: &str) -> Result<Condition, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn api_examples_round_trip() {
        for (src, expected) in [
            (
                r#"{"field": "amount", "op": "gt", "value": 10000}"#,
                leaf("amount", Op::Gt, json!(10000)),
            ),
            (
                r#"{"field": "title", "op": "contains", "value": "design project"}"#,
                leaf("title", Op::Contains, json!("design project")),
            ),
        ] {
            let cond = parse(src).unwrap();
            assert_eq!(cond, expected);
            let back = serde_json::to_value(&cond).unwrap();
            assert_eq!(back, serde_json::from_str::<Value>(src).unwrap());
            assert_eq!(serde_json::from_value::<Condition>(back).unwrap(), cond);
        }
        assert!(check("amount", Op::Gt, json!(10000)));
        assert!(check("title", Op::Contains, json!("design project")));
    }

    #[test]
    fn nested_groups_round_trip() {
        let src = json!({"all": [
            {"field": "amount", "op": "between", "value": [1000, 20000]},
            {"any": [
                {"field": "stage.id", "op": "in", "value": ["new", "won"]},
                {"field": "fields.tags", "op": "contains", "value": "vip"},
                {"field": "fields.nothing", "op": "empty"}
            ]}
        ]});
        let cond: Condition = serde_json::from_value(src.clone()).unwrap();
        assert_eq!(
            cond,
            Condition::all(vec![
                leaf("amount", Op::Between, json!([1000, 20000])),
                Condition::any(vec![
                    leaf("stage.id", Op::In, json!(["new", "won"])),
                    leaf("fields.tags", Op::Contains, json!("vip")),
                    leaf("fields.nothing", Op::Empty, Value::Null),
                ]),
            ])
        );
        assert_eq!(serde_json::to_value(&cond).unwrap(), src);
        assert!(cond.evaluate(&deal()));
    }

    #[test]
    fn ops_use_snake_case() {
        for op in Op::ALL {
            let json = serde_json::to_value(op).unwrap();
            assert_eq!(json, json!(op.as_str()));
            assert_eq!(serde_json::from_value::<Op>(json).unwrap(), op);
            assert_eq!(op.to_string(), op.as_str());
        }
        assert_eq!(serde_json::to_value(Op::NotIn).unwrap(), json!("not_in"));
        assert_eq!(
            serde_json::to_value(Op::NotContains).unwrap(),
            json!("not_contains")
        );
        assert_eq!(
            serde_json::to_value(Op::NotEmpty).unwrap(),
            json!("not_empty")
        );
    }

    #[test]
    fn explicit_null_value_is_accepted() {
        assert_eq!(
            parse(r#"{"field": "title", "op": "empty", "value": null}"#).unwrap(),
            leaf("title", Op::Empty, Value::Null)
        );
        assert_eq!(
            serde_json::to_string(&leaf("title", Op::Empty, Value::Null)).unwrap(),
            r#"{"field":"title","op":"empty"}"#
        );
    }

    #[test]
    fn bad_input_gives_understandable_errors() {
        let msg = |src: &str| parse(src).unwrap_err().to_string();
        assert!(msg(r#"{"field": "a", "op": "gt", "valu": 1}"#).contains("unknown key `valu`"));
        assert!(
            msg(r#"{"field": "a", "op": "greater", "value": 1}"#)
                .contains("unknown variant `greater`")
        );
        assert!(msg(r#"{"op": "gt", "value": 1}"#).contains("missing field `field`"));
        assert!(msg(r#"{"field": "a", "value": 1}"#).contains("missing field `op`"));
        assert!(msg(r#"{"all": [], "any": []}"#).contains("either `all` or `any`"));
        assert!(msg(r#"{"all": [], "field": "a"}"#).contains("either a group"));
        assert!(msg("{}").contains("empty condition object"));
        assert!(msg(r#""amount > 5""#).contains("expected a condition object"));
        assert!(
            msg(r#"{"all": {"field": "a"}}"#).contains("invalid type: map, expected a sequence")
        );
        assert!(
            msg(r#"{"field": 5, "op": "eq"}"#)
                .contains("invalid type: integer `5`, expected a string")
        );
        assert!(
            msg(r#"{"field": "a", "field": "b", "op": "eq"}"#).contains("duplicate field `field`")
        );
        // Errors inside nested groups surface too.
        assert!(
            msg(r#"{"any": [{"all": [{"field": "a", "op": "nope"}]}]}"#)
                .contains("unknown variant `nope`")
        );
    }

    #[test]
    fn groups_evaluate() {
        let t = leaf("amount", Op::Gt, json!(1));
        let f = leaf("amount", Op::Lt, json!(1));
        let ctx = deal();
        assert!(Condition::all(vec![t.clone(), t.clone()]).evaluate(&ctx));
        assert!(!Condition::all(vec![t.clone(), f.clone()]).evaluate(&ctx));
        assert!(Condition::any(vec![f.clone(), t.clone()]).evaluate(&ctx));
        assert!(!Condition::any(vec![f.clone(), f.clone()]).evaluate(&ctx));
        assert!(Condition::all(vec![]).evaluate(&ctx));
        assert!(!Condition::any(vec![]).evaluate(&ctx));
        let nested = Condition::any(vec![
            f.clone(),
            Condition::all(vec![t.clone(), Condition::any(vec![t])]),
        ]);
        assert!(nested.evaluate(&ctx));
    }

    #[test]
    fn eq_and_ne_with_coercions() {
        assert!(check("amount", Op::Eq, json!(15000)));
        assert!(check("amount", Op::Eq, json!(15000.0)));
        assert!(check("amount", Op::Eq, json!("15000")));
        assert!(check("fields.budget", Op::Eq, json!(10000)));
        assert!(check("fields.budget", Op::Eq, json!("10000.0")));
        assert!(check("currency", Op::Eq, json!("EUR")));
        assert!(
            !check("currency", Op::Eq, json!("eur")),
            "eq on strings is exact"
        );
        assert!(check("currency", Op::Ne, json!("eur")));
        assert!(check("fields.vip", Op::Eq, json!(true)));
        assert!(!check("fields.vip", Op::Eq, json!("true")));
        assert!(check("fields.meta", Op::Eq, json!({"a": 1})));
        assert!(check("fields.tags", Op::Eq, json!(["VIP", "wholesale"])));
        // Long integer ids are compared exactly, not through f64.
        assert!(!check(
            "fields.long_id",
            Op::Eq,
            json!("12345678901234567891")
        ));
        assert!(check(
            "fields.long_id",
            Op::Eq,
            json!("12345678901234567890")
        ));
        // Dates and date-times.
        assert!(check("created_at", Op::Eq, json!("2026-05-01T08:44:00Z")));
        assert!(check("created_at", Op::Eq, json!("2026-05-01")));
        assert!(check("fields.deadline", Op::Eq, json!("2026-05-20")));
        // Null handling.
        assert!(check("missing", Op::Eq, Value::Null));
        assert!(check("fields.nothing", Op::Eq, Value::Null));
        assert!(!check("missing", Op::Eq, json!("")));
        assert!(check("missing", Op::Ne, json!("x")));
        assert!(!check("missing", Op::Ne, Value::Null));
        // Incomparable kinds are unequal.
        assert!(!check("title", Op::Eq, json!(5)));
        assert!(check("title", Op::Ne, json!(5)));
    }

    #[test]
    fn ordering_operators() {
        assert!(check("amount", Op::Gt, json!(10000)));
        assert!(check("amount", Op::Gt, json!("10000")));
        assert!(!check("amount", Op::Gt, json!(15000)));
        assert!(check("amount", Op::Gte, json!(15000)));
        assert!(check("amount", Op::Lt, json!(15000.5)));
        assert!(check("amount", Op::Lte, json!(15000)));
        assert!(!check("amount", Op::Lt, json!(15000)));
        assert!(check("amount_text", Op::Gt, json!(15000)));
        // Numeric strings compare numerically, not lexicographically.
        assert!(check("fields.budget", Op::Gt, json!("9000")));
        assert!(check("fields.budget", Op::Lt, json!(1e5)));
        // Strings lexicographically.
        assert!(check("currency", Op::Gt, json!("ABC")));
        assert!(check("currency", Op::Lt, json!("USD")));
        assert!(check("currency", Op::Gte, json!("EUR")));
        // Instants, across offsets and against dates.
        assert!(check("created_at", Op::Gt, json!("2026-05-01T08:00:00Z")));
        assert!(check("created_at", Op::Lt, json!("2026-05-01T09:00:00Z")));
        assert!(check("created_at", Op::Gt, json!("2026-04-30")));
        assert!(check("created_at", Op::Lt, json!("2026-05-02")));
        assert!(check("created_at", Op::Lte, json!("2026-05-01")));
        assert!(check("fields.deadline", Op::Gt, json!("2026-05-19")));
        assert!(check(
            "fields.deadline",
            Op::Lt,
            json!("2026-06-01T00:00:00+03:00")
        ));
        // Booleans.
        assert!(check("fields.vip", Op::Gt, json!(false)));
        assert!(!check("fields.vip", Op::Lt, json!(false)));
        // Null and incomparable kinds are never ordered.
        for op in [Op::Gt, Op::Gte, Op::Lt, Op::Lte] {
            assert!(!check("missing", op, json!(1)), "{op}");
            assert!(!check("fields.nothing", op, json!("a")), "{op}");
            assert!(!check("title", op, json!(1)), "{op}");
            assert!(!check("fields.vip", op, json!(1)), "{op}");
            assert!(!check("fields.tags", op, json!("a")), "{op}");
            assert!(!check("amount", op, Value::Null), "{op}");
        }
    }

    #[test]
    fn non_finite_words_are_not_numbers() {
        let ctx = json!({"a": "inf", "b": "NaN"});
        assert!(!leaf("a", Op::Gt, json!(1)).evaluate(&ctx));
        assert!(leaf("a", Op::Eq, json!("inf")).evaluate(&ctx));
        assert!(
            leaf("b", Op::Gt, json!("A")).evaluate(&ctx),
            "lexicographic"
        );
    }

    #[test]
    fn in_and_not_in() {
        assert!(check("stage.id", Op::In, json!(["new", "won"])));
        assert!(!check("stage.id", Op::In, json!(["won", "lost"])));
        assert!(check("stage.id", Op::NotIn, json!(["won", "lost"])));
        assert!(check("amount", Op::In, json!(["15000", 1])));
        assert!(check("fields.tags", Op::In, json!(["wholesale", "retail"])));
        assert!(!check("fields.tags", Op::In, json!(["retail"])));
        assert!(check("fields.tags", Op::NotIn, json!(["retail"])));
        assert!(check("fields.scores", Op::In, json!([9])));
        assert!(!check("stage.id", Op::In, json!([])));
        assert!(check("stage.id", Op::NotIn, json!([])));
        assert!(!check("missing", Op::In, json!(["a"])));
        assert!(check("missing", Op::NotIn, json!(["a"])));
        assert!(!check("fields.empty_list", Op::In, json!(["a"])));
        // A non-array operand behaves as a one-element list.
        assert!(check("stage.id", Op::In, json!("new")));
    }

    #[test]
    fn contains_and_not_contains() {
        assert!(check("title", Op::Contains, json!("design PROJECT")));
        assert!(check("title", Op::Contains, json!("acme")));
        assert!(!check("title", Op::Contains, json!("globex")));
        assert!(check("title", Op::NotContains, json!("globex")));
        assert!(!check("title", Op::NotContains, json!("Design")));
        // Arrays: membership, strings case-insensitively.
        assert!(check("fields.tags", Op::Contains, json!("vip")));
        assert!(check("fields.tags", Op::Contains, json!("VIP")));
        assert!(!check("fields.tags", Op::Contains, json!("vi")));
        assert!(check("fields.tags", Op::NotContains, json!("retail")));
        assert!(check("fields.scores", Op::Contains, json!(5)));
        assert!(check("fields.scores", Op::Contains, json!("5")));
        assert!(!check("fields.empty_list", Op::Contains, json!("a")));
        // Numbers as text.
        assert!(check("amount", Op::Contains, json!("500")));
        assert!(check("amount", Op::Contains, json!(150)));
        // Unicode case folding.
        let ctx = json!({"title": "Сделка ВАЖНАЯ"});
        assert!(leaf("title", Op::Contains, json!("важная")).evaluate(&ctx));
        // Missing / objects contain nothing.
        assert!(!check("missing", Op::Contains, json!("a")));
        assert!(check("missing", Op::NotContains, json!("a")));
        assert!(!check("fields.meta", Op::Contains, json!("a")));
    }

    #[test]
    fn empty_and_not_empty() {
        for field in [
            "missing",
            "fields.nothing",
            "fields.empty_text",
            "fields.empty_list",
            "fields.empty_obj",
        ] {
            assert!(check(field, Op::Empty, Value::Null), "{field}");
            assert!(!check(field, Op::NotEmpty, Value::Null), "{field}");
        }
        for field in [
            "title",
            "amount",
            "fields.tags",
            "fields.vip",
            "fields.meta",
        ] {
            assert!(!check(field, Op::Empty, Value::Null), "{field}");
            assert!(check(field, Op::NotEmpty, Value::Null), "{field}");
        }
        let ctx = json!({"zero": 0, "no": false});
        assert!(leaf("zero", Op::NotEmpty, Value::Null).evaluate(&ctx));
        assert!(leaf("no", Op::NotEmpty, Value::Null).evaluate(&ctx));
    }

    #[test]
    fn between_is_inclusive() {
        assert!(check("amount", Op::Between, json!([10000, 20000])));
        assert!(check("amount", Op::Between, json!([15000, 15000])));
        assert!(check("amount", Op::Between, json!(["14999.5", "15000"])));
        assert!(!check("amount", Op::Between, json!([15001, 20000])));
        assert!(!check("amount", Op::Between, json!([20000, 10000])));
        assert!(check("fields.budget", Op::Between, json!([9999, 10000])));
        assert!(check(
            "created_at",
            Op::Between,
            json!(["2026-05-01", "2026-05-01"])
        ));
        assert!(check(
            "created_at",
            Op::Between,
            json!(["2026-05-01T08:44:00Z", "2026-05-01T08:44:00Z"])
        ));
        assert!(!check(
            "created_at",
            Op::Between,
            json!(["2026-05-02", "2026-05-31"])
        ));
        assert!(check(
            "fields.deadline",
            Op::Between,
            json!(["2026-05-01", "2026-05-31"])
        ));
        assert!(!check("missing", Op::Between, json!([1, 2])));
        assert!(!check("title", Op::Between, json!([1, 2])));
        assert!(!check("amount", Op::Between, json!([1])));
        assert!(!check("amount", Op::Between, json!(5)));
    }

    #[test]
    fn validation_accepts_good_conditions() {
        let known = |f: &str| !f.starts_with("unknown");
        let cond: Condition = serde_json::from_value(json!({"all": [
            {"field": "amount", "op": "gt", "value": 10000},
            {"field": "title", "op": "contains", "value": "x"},
            {"field": "title", "op": "eq", "value": ["a"]},
            {"any": [
                {"field": "stage.id", "op": "not_in", "value": []},
                {"field": "amount", "op": "between", "value": ["1", 2]},
                {"field": "title", "op": "not_empty"},
                {"field": "fields.vip", "op": "lte", "value": true}
            ]}
        ]}))
        .unwrap();
        assert_eq!(cond.validate(&known), Ok(()));
    }

    #[test]
    fn validation_errors() {
        let known = |f: &str| !f.starts_with("unknown");
        let err = |c: Condition| c.validate(&known).unwrap_err();

        let e = err(leaf("unknown.x", Op::Eq, json!(1)));
        assert_eq!(
            e,
            ConditionError::UnknownField {
                field: "unknown.x".into()
            }
        );
        assert_eq!(e.to_string(), "unknown field `unknown.x` in condition");
        assert_eq!(e.field(), Some("unknown.x"));

        for (op, value) in [
            (Op::Eq, Value::Null),
            (Op::Ne, Value::Null),
            (Op::Gt, Value::Null),
            (Op::Gte, json!([1])),
            (Op::Lt, json!({"a": 1})),
            (Op::Lte, Value::Null),
            (Op::Contains, Value::Null),
            (Op::NotContains, json!(["a"])),
            (Op::In, json!("a")),
            (Op::NotIn, Value::Null),
            (Op::Between, json!([1])),
            (Op::Between, json!([1, 2, 3])),
            (Op::Between, json!([1, null])),
            (Op::Between, json!(5)),
        ] {
            let e = err(leaf("amount", op, value.clone()));
            let is_expected = matches!(
                &e,
                ConditionError::InvalidValue { field, op: o, .. } if field == "amount" && *o == op
            );
            assert!(is_expected, "{op} {value}: {e:?}");
            assert_eq!(e.path(), "amount");
        }
        assert_eq!(
            err(leaf("amount", Op::In, json!("a"))).to_string(),
            "condition `amount in`: expected an array of values, got string \"a\""
        );
        assert_eq!(
            err(leaf("amount", Op::Between, json!([1]))).to_string(),
            "condition `amount between`: expected an array of two bounds [from, to], \
             got an array of 1 element(s)"
        );

        for op in [Op::Empty, Op::NotEmpty] {
            let e = err(leaf("title", op, json!("")));
            assert_eq!(
                e,
                ConditionError::UnexpectedValue {
                    field: "title".into(),
                    op,
                    got: "string \"\"".into()
                }
            );
            assert_eq!(e.field(), Some("title"));
        }
        assert_eq!(
            err(leaf("title", Op::Empty, json!(0))).to_string(),
            "condition `title empty` takes no value, got number 0"
        );

        let e = err(Condition::all(vec![]));
        assert_eq!(
            e,
            ConditionError::EmptyGroup {
                group: "all",
                at: "$.all".into()
            }
        );
        assert_eq!(e.field(), None);
        assert_eq!(e.path(), "$.all");

        let nested = Condition::all(vec![
            leaf("amount", Op::Gt, json!(1)),
            Condition::any(vec![
                leaf("title", Op::Empty, Value::Null),
                Condition::any(vec![]),
            ]),
        ]);
        let e = err(nested);
        assert_eq!(e.path(), "$.all[1].any[1].any");
        assert_eq!(
            e.to_string(),
            "empty `any` group at $.all[1].any[1].any: a group needs at least one condition"
        );

        // The first problem wins, depth first; unknown field is checked before shape.
        let e = err(Condition::any(vec![
            leaf("amount", Op::Gt, json!(1)),
            Condition::all(vec![leaf("unknown_a", Op::In, json!(1))]),
            leaf("unknown_b", Op::Eq, json!(1)),
        ]));
        assert_eq!(
            e,
            ConditionError::UnknownField {
                field: "unknown_a".into()
            }
        );
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-zA-Z ]{0,6}".prop_map(Value::from),
            (-1000i32..1000).prop_map(|i| Value::from(i.to_string())),
            (-100f64..100.0).prop_map(|f| Value::from(f.to_string())),
            (2000i32..2030, 1u32..13, 1u32..29)
                .prop_map(|(y, m, d)| Value::from(format!("{y:04}-{m:02}-{d:02}"))),
            (0u32..24, 0u32..60, -12i32..13).prop_map(|(h, m, o)| Value::from(format!(
                "2026-05-01T{h:02}:{m:02}:00{}{:02}:00",
                if o < 0 { '-' } else { '+' },
                o.abs()
            ))),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => scalar(),
            1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
            1 => prop::collection::vec(("[a-c]", scalar()), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop::sample::select(Op::ALL.to_vec())
    }

    fn condition() -> impl Strategy<Value = Condition> {
        let leaf = ("[a-z]{1,5}(\\.[a-z]{1,5})?", op(), value())
            .prop_map(|(field, op, value)| Condition::leaf(field, op, value));
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Condition::all),
                prop::collection::vec(inner, 0..4).prop_map(Condition::any),
            ]
        })
    }

    /// Values without floats, which do not survive a JSON text round trip bit-exactly.
    fn json_safe(c: &Condition) -> bool {
        fn safe(v: &Value) -> bool {
            match v {
                Value::Number(n) => !n.is_f64(),
                Value::Array(items) => items.iter().all(safe),
                Value::Object(map) => map.values().all(safe),
                _ => true,
            }
        }
        match c {
            Condition::All { all: children } | Condition::Any { any: children } => {
                children.iter().all(json_safe)
            }
            Condition::Leaf { value, .. } => safe(value),
        }
    }

    proptest! {
        #[test]
        fn negated_ops_are_negations(actual in value(), operand in value()) {
            for (pos, neg) in [
                (Op::Eq, Op::Ne),
                (Op::In, Op::NotIn),
                (Op::Contains, Op::NotContains),
                (Op::Empty, Op::NotEmpty),
            ] {
                prop_assert_eq!(neg.matches(&actual, &operand), !pos.matches(&actual, &operand));
                let ctx = json!({"f": actual.clone()});
                prop_assert_eq!(
                    leaf("f", neg, operand.clone()).evaluate(&ctx),
                    !leaf("f", pos, operand.clone()).evaluate(&ctx)
                );
            }
        }

        #[test]
        fn eq_is_symmetric_and_ordering_consistent(a in value(), b in value()) {
            prop_assert_eq!(Op::Eq.matches(&a, &b), Op::Eq.matches(&b, &a));
            prop_assert_eq!(Op::Gt.matches(&a, &b), Op::Lt.matches(&b, &a));
            prop_assert_eq!(Op::Gte.matches(&a, &b), Op::Lte.matches(&b, &a));
            if Op::Gt.matches(&a, &b) || Op::Lt.matches(&a, &b) {
                prop_assert!(Op::Ne.matches(&a, &b));
            }
        }

        #[test]
        fn between_matches_gte_and_lte(v in scalar(), low in scalar(), high in scalar()) {
            prop_assert_eq!(
                Op::Between.matches(&v, &json!([low.clone(), high.clone()])),
                Op::Gte.matches(&v, &low) && Op::Lte.matches(&v, &high)
            );
        }

        #[test]
        fn serde_round_trip(cond in condition()) {
            prop_assume!(json_safe(&cond));
            let text = serde_json::to_string(&cond).unwrap();
            prop_assert_eq!(serde_json::from_str::<Condition>(&text).unwrap(), cond);
        }

        #[test]
        fn validate_and_evaluate_never_panic(cond in condition(), ctx in value()) {
            let _ = cond.validate(&|_| true);
            let _ = cond.evaluate(&ctx);
        }
    }
}
