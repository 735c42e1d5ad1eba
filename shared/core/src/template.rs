//! Text templates: `{{path}}` placeholders inside robot settings.
//!
//! A [`Template`] is parsed once (when a robot is saved or loaded) into literal
//! segments and placeholder paths, and rendered many times against a
//! [`Resolve`] context ("the item as it is now", plus outputs of earlier
//! robots of the same visit). Values are turned into text by
//! [`format_value`].

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Longest text a robot may render from one template: 64 KiB. A robot whose
/// rendered text would be longer fails with the reason (rendering stops at
/// the limit, so a template cannot make the process allocate more).
pub const MAX_RENDERED_BYTES: usize = 64 * 1024;

/// Most placeholders one template may hold; more is refused (422) when the
/// robot is saved.
pub const MAX_PLACEHOLDERS: usize = 1_000;

/// A rendered text would exceed its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the rendered text would be longer than {limit} bytes")]
pub struct TooLong {
    /// The limit in bytes.
    pub limit: usize,
}

/// Looks up the value behind a placeholder path such as `title`,
/// `responsible.name`, `fields.budget` or `robot.r1.chat_id`.
///
/// Returning `None` means "no such value"; templates render it as an empty
/// string and conditions treat it as `null`.
pub trait Resolve {
    /// The value at `path`, or `None` when there is none.
    fn resolve(&self, path: &str) -> Option<Value>;
}

/// Dotted-path navigation into a JSON document: each `.`-separated segment
/// selects an object key, or an element when the current value is an array
/// and the segment is an index (`items.0.name`).
impl Resolve for Value {
    fn resolve(&self, path: &str) -> Option<Value> {
        lookup(self, path).cloned()
    }
}

/// Same navigation as for [`Value`], starting at the object's keys.
impl Resolve for serde_json::Map<String, Value> {
    fn resolve(&self, path: &str) -> Option<Value> {
        let (first, rest) = match path.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (path, None),
        };
        let value = self.get(first)?;
        match rest {
            Some(rest) => lookup(value, rest).cloned(),
            None => Some(value.clone()),
        }
    }
}

impl<T: Resolve + ?Sized> Resolve for &T {
    fn resolve(&self, path: &str) -> Option<Value> {
        (**self).resolve(path)
    }
}

fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(root, |current, segment| match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// A syntax error in a template source. Positions are 0-based character
/// offsets into the source.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without a matching `}}`.
    #[error("unclosed placeholder: `{{{{` at offset {position} has no matching `}}}}`")]
    Unclosed {
        /// Offset of the opening `{{`.
        position: usize,
    },
    /// `{{}}` or `{{   }}`.
    #[error("empty placeholder `{{{{}}}}` at offset {position}")]
    Empty {
        /// Offset of the opening `{{`.
        position: usize,
    },
    /// A character outside `[A-Za-z0-9_.-]` inside a placeholder.
    #[error(
        "invalid character {ch:?} in placeholder at offset {position} \
         (allowed: letters, digits, `_`, `.`, `-`)"
    )]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Offset of the offending character.
        position: usize,
    },
    /// A path such as `a..b`, `.a` or `a.`.
    #[error("invalid placeholder path `{path}` at offset {position}: empty path segment")]
    EmptySegment {
        /// The whole (trimmed) placeholder path.
        path: String,
        /// Offset of the opening `{{`.
        position: usize,
    },
}

impl TemplateError {
    /// The 0-based character offset the error is about.
    pub fn position(&self) -> usize {
        match self {
            Self::Unclosed { position }
            | Self::Empty { position }
            | Self::InvalidChar { position, .. }
            | Self::EmptySegment { position, .. } => *position,
        }
    }
}

/// One piece of a parsed template; ranges index into `Template::source`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(Range<usize>),
    Placeholder(Range<usize>),
}

/// A pre-parsed text template such as
/// `Deal {{title}} for {{amount}} {{currency}}`.
///
/// Placeholders are `{{path}}` with optional inner whitespace (`{{ title }}`);
/// a path consists of `[A-Za-z0-9_.-]`. Single braces are literal text, and
/// extra braces before a placeholder stay literal (`{{{x}}}` renders `{`, the
/// value of `x`, then `}`). There is no escape syntax.
///
/// Serializes as its source string; deserializing parses it and fails on a
/// syntax error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
    literal_len: usize,
    placeholder_count: usize,
}

/// Bytes reserved per placeholder when rendering.
const PLACEHOLDER_RESERVE: usize = 16;

impl Template {
    /// Parses `src`, rejecting unclosed `{{`, empty `{{}}` and invalid path
    /// characters.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        Self::parse_owned(src.to_owned())
    }

    fn parse_owned(source: String) -> Result<Template, TemplateError> {
        let bytes = source.as_bytes();
        let char_pos = |byte: usize| source[..byte].chars().count();
        let mut segments = Vec::new();
        let mut literal_len = 0;
        let mut placeholder_count = 0;
        let mut literal_start = 0;
        while let Some(found) = source[literal_start..].find("{{") {
            let mut open = literal_start + found;
            // Extra leading braces are literal text: `{{{x}}}` → `{`, {{x}}, `}`.
            while bytes.get(open + 2) == Some(&b'{') {
                open += 1;
            }
            let inner_start = open + 2;
            let inner_end = match source[inner_start..].find("}}") {
                Some(off) => inner_start + off,
                None => {
                    return Err(TemplateError::Unclosed {
                        position: char_pos(open),
                    });
                }
            };
            let inner = &source[inner_start..inner_end];
            if inner.contains("{{") {
                return Err(TemplateError::Unclosed {
                    position: char_pos(open),
                });
            }
            let path = inner.trim();
            if path.is_empty() {
                return Err(TemplateError::Empty {
                    position: char_pos(open),
                });
            }
            let path_start = inner_start + (inner.len() - inner.trim_start().len());
            if let Some((at, ch)) = path
                .char_indices()
                .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            {
                return Err(TemplateError::InvalidChar {
                    ch,
                    position: char_pos(path_start + at),
                });
            }
            if path.split('.').any(str::is_empty) {
                return Err(TemplateError::EmptySegment {
                    path: path.to_owned(),
                    position: char_pos(open),
                });
            }
            if open > literal_start {
                literal_len += open - literal_start;
                segments.push(Segment::Literal(literal_start..open));
            }
            segments.push(Segment::Placeholder(path_start..path_start + path.len()));
            placeholder_count += 1;
            literal_start = inner_end + 2;
        }
        if literal_start < source.len() {
            literal_len += source.len() - literal_start;
            segments.push(Segment::Literal(literal_start..source.len()));
        }
        Ok(Template {
            source,
            segments,
            literal_len,
            placeholder_count,
        })
    }

    /// The source text the template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The placeholder paths in order of appearance (duplicates included),
    /// trimmed of inner whitespace: `Hi {{ title }}` yields `title`.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Placeholder(range) => Some(&self.source[range.clone()]),
            Segment::Literal(_) => None,
        })
    }

    /// True when the template has no placeholders (renders to its source).
    pub fn is_literal(&self) -> bool {
        self.placeholder_count == 0
    }

    /// Renders the template: each placeholder is replaced by its resolved
    /// value formatted with [`format_value`]; a missing value renders as "".
    pub fn render(&self, ctx: &dyn Resolve) -> String {
        let mut out =
            String::with_capacity(self.literal_len + self.placeholder_count * PLACEHOLDER_RESERVE);
        for segment in &self.segments {
            match segment {
                Segment::Literal(range) => out.push_str(&self.source[range.clone()]),
                Segment::Placeholder(range) => {
                    if let Some(value) = ctx.resolve(&self.source[range.clone()]) {
                        write_value(&mut out, &value);
                    }
                }
            }
        }
        out
    }

    /// [`Self::render`], stopping as soon as the text grows past `limit`
    /// bytes.
    pub fn render_capped(&self, ctx: &dyn Resolve, limit: usize) -> Result<String, TooLong> {
        let reserve = self.literal_len + self.placeholder_count * PLACEHOLDER_RESERVE;
        let mut out = String::with_capacity(reserve.min(limit));
        for segment in &self.segments {
            match segment {
                Segment::Literal(range) => out.push_str(&self.source[range.clone()]),
                Segment::Placeholder(range) => {
                    if let Some(value) = ctx.resolve(&self.source[range.clone()]) {
                        write_value(&mut out, &value);
                    }
                }
            }
            if out.len() > limit {
                return Err(TooLong { limit });
            }
        }
        Ok(out)
    }

    /// [`Self::render_value`] within `limit` bytes (a lone placeholder's
    /// value is measured as the text it would render).
    pub fn render_value_capped(&self, ctx: &dyn Resolve, limit: usize) -> Result<Value, TooLong> {
        match self.segments.as_slice() {
            [Segment::Placeholder(range)] => {
                let v = ctx
                    .resolve(&self.source[range.clone()])
                    .unwrap_or(Value::Null);
                if value_len(&v) > limit {
                    return Err(TooLong { limit });
                }
                Ok(v)
            }
            _ => self.render_capped(ctx, limit).map(Value::String),
        }
    }

    /// The number of placeholders.
    pub fn placeholder_count(&self) -> usize {
        self.placeholder_count
    }

    /// Renders keeping the value's JSON type when the template is exactly one
    /// placeholder (`{{amount}}` → the number; `Null` when missing); anything
    /// else renders to a [`Value::String`].
    pub fn render_value(&self, ctx: &dyn Resolve) -> Value {
        match self.segments.as_slice() {
            [Segment::Placeholder(range)] => ctx
                .resolve(&self.source[range.clone()])
                .unwrap_or(Value::Null),
            _ => Value::String(self.render(ctx)),
        }
    }
}

/// The empty template (renders "").
impl Default for Template {
    fn default() -> Self {
        Template {
            source: String::new(),
            segments: Vec::new(),
            literal_len: 0,
            placeholder_count: 0,
        }
    }
}

impl FromStr for Template {
    type Err = TemplateError;

    fn from_str(src: &str) -> Result<Self, Self::Err> {
        Self::parse(src)
    }
}

/// Displays the source text.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// In a JSON Schema a template is a string with `"format": "template"`, so
/// that a form (and the catalogue's `templates` list) can tell which settings
/// take `{{placeholders}}`.
impl schemars::JsonSchema for Template {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Template".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "template",
            "description": "Text with {{placeholders}} of the item (e.g. {{title}}, {{responsible.name}}, {{robot.<id>.<output>}})"
        })
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        Template::parse_owned(source).map_err(serde::de::Error::custom)
    }
}

/// Formats a value the way templates insert it: strings as-is, numbers
/// without a useless `.0` (`15000.0` → `15000`, `12.5` → `12.5`), booleans as
/// `true`/`false`, `null` as "", arrays as their formatted elements joined
/// with ", ", objects as compact JSON.
pub fn format_value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// The length of a value as a template inserts it (strings without copying).
fn value_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        v => format_value(v).len(),
    }
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Number(n) => {
            // Writing into a String cannot fail.
            let _ = if let Some(i) = n.as_i64() {
                write!(out, "{i}")
            } else if let Some(u) = n.as_u64() {
                write!(out, "{u}")
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                // f64's Display prints integral values without ".0" and never
                // uses exponent notation; normalise -0 to 0.
                write!(out, "{}", if f == 0.0 { 0.0 } else { f })
            };
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
        }
        Value::Object(_) => {
            let _ = write!(out, "{v}");
        }
    }
}

/// The first string in `value` (depth first, in key order) that holds a
/// template syntax error, with its path under `prefix` (`settings.text`,
/// `settings.fields.note`, `settings.items[2]`). Used to name the field of a
/// syntax error that deserialization only reports as a message.
pub fn first_syntax_error(value: &Value, prefix: &str) -> Option<(String, TemplateError)> {
    match value {
        Value::String(s) if s.contains("{{") => {
            Template::parse(s).err().map(|e| (prefix.to_string(), e))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| first_syntax_error(v, &format!("{prefix}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| first_syntax_error(v, &format!("{prefix}.{k}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn deal() -> Value {
        json!({
            "id": "d-1",
            "title": "Big order",
            "amount": 15000.0,
            "currency": "EUR",
            "responsible": {"id": "u1", "name": "Anna", "email": null},
            "fields": {"budget": 12.5, "tags": ["vip", "new"], "vip": true, "meta": {"a": 1}},
            "robot": {"r1": {"chat_id": "chat-7"}},
            "items": [{"name": "first"}, {"name": "second"}]
        })
    }

    fn t(src: &str) -> Template {
        Template::parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }

    #[test]
    fn value_resolves_dotted_paths_and_indices() {
        let ctx = deal();
        assert_eq!(ctx.resolve("title"), Some(json!("Big order")));
        assert_eq!(ctx.resolve("responsible.name"), Some(json!("Anna")));
        assert_eq!(ctx.resolve("robot.r1.chat_id"), Some(json!("chat-7")));
        assert_eq!(ctx.resolve("items.1.name"), Some(json!("second")));
        assert_eq!(ctx.resolve("fields.tags.0"), Some(json!("vip")));
        assert_eq!(ctx.resolve("responsible.email"), Some(Value::Null));
        assert_eq!(ctx.resolve("nope"), None);
        assert_eq!(ctx.resolve("title.length"), None);
        assert_eq!(ctx.resolve("items.9.name"), None);
        assert_eq!(ctx.resolve("items.x"), None);
    }

    #[test]
    fn map_and_reference_resolve_like_value() {
        let ctx = deal();
        let map = ctx.as_object().unwrap().clone();
        assert_eq!(map.resolve("responsible.name"), Some(json!("Anna")));
        assert_eq!(map.resolve("title"), Some(json!("Big order")));
        assert_eq!(map.resolve("nope.x"), None);
        let by_ref: &dyn Resolve = &&ctx;
        assert_eq!(by_ref.resolve("fields.budget"), Some(json!(12.5)));
    }

    #[test]
    fn renders_the_spec_example() {
        let tpl = t("Deal {{title}} for {{amount}} {{currency}}, responsible {{responsible.name}}");
        assert_eq!(
            tpl.render(&deal()),
            "Deal Big order for 15000 EUR, responsible Anna"
        );
    }

    #[test]
    fn inner_whitespace_is_allowed() {
        let tpl = t("{{ title }}|{{\tamount\n}}");
        assert_eq!(tpl.render(&deal()), "Big order|15000");
        assert_eq!(tpl.placeholders().collect::<Vec<_>>(), ["title", "amount"]);
    }

    #[test]
    fn formats_values() {
        assert_eq!(format_value(&json!("text")), "text");
        assert_eq!(format_value(&json!(15000.0)), "15000");
        assert_eq!(format_value(&json!(12.5)), "12.5");
        assert_eq!(format_value(&json!(-3)), "-3");
        assert_eq!(format_value(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(format_value(&json!(-0.0)), "0");
        assert_eq!(format_value(&json!(0.1)), "0.1");
        assert_eq!(format_value(&json!(true)), "true");
        assert_eq!(format_value(&json!(false)), "false");
        assert_eq!(format_value(&Value::Null), "");
        assert_eq!(
            format_value(&json!(["vip", 2, 2.0, null, true])),
            "vip, 2, 2, , true"
        );
        assert_eq!(format_value(&json!([])), "");
        assert_eq!(
            format_value(&json!({"a": 1, "b": [1, "x"]})),
            r#"{"a":1,"b":[1,"x"]}"#
        );
        assert_eq!(format_value(&json!([{"a": 1}, [1, 2]])), r#"{"a":1}, 1, 2"#);
    }

    #[test]
    fn renders_every_value_kind() {
        let ctx = deal();
        assert_eq!(t("{{fields.budget}}").render(&ctx), "12.5");
        assert_eq!(t("{{fields.tags}}").render(&ctx), "vip, new");
        assert_eq!(t("{{fields.vip}}").render(&ctx), "true");
        assert_eq!(t("{{fields.meta}}").render(&ctx), r#"{"a":1}"#);
        assert_eq!(t("[{{responsible.email}}]").render(&ctx), "[]");
        assert_eq!(t("[{{fields.unknown}}]").render(&ctx), "[]");
        assert_eq!(t("chat {{robot.r1.chat_id}}").render(&ctx), "chat chat-7");
        assert_eq!(t("{{title}}{{title}}").render(&ctx), "Big orderBig order");
    }

    #[test]
    fn single_braces_are_literal() {
        let tpl = t(r#"{"a": 1} { x } }} {title}"#);
        assert!(tpl.is_literal());
        assert_eq!(tpl.render(&deal()), r#"{"a": 1} { x } }} {title}"#);
        assert_eq!(tpl.placeholders().count(), 0);
    }

    #[test]
    fn extra_braces_around_a_placeholder_stay_literal() {
        let tpl = t("{{{title}}}");
        assert_eq!(tpl.placeholders().collect::<Vec<_>>(), ["title"]);
        assert_eq!(tpl.render(&deal()), "{Big order}");
        assert_eq!(t("{{{{id}}").render(&deal()), "{{d-1");
    }

    #[test]
    fn unicode_literals_survive() {
        let tpl = t("Сделка «{{title}}» — {{amount}} ₽");
        assert_eq!(tpl.render(&deal()), "Сделка «Big order» — 15000 ₽");
    }

    #[test]
    fn parse_errors_name_problem_and_position() {
        assert_eq!(
            Template::parse("Hi {{title"),
            Err(TemplateError::Unclosed { position: 3 })
        );
        assert_eq!(
            Template::parse("{{a {{b}}"),
            Err(TemplateError::Unclosed { position: 0 })
        );
        assert_eq!(
            Template::parse("x{{}}"),
            Err(TemplateError::Empty { position: 1 })
        );
        assert_eq!(
            Template::parse("x{{   }}"),
            Err(TemplateError::Empty { position: 1 })
        );
        assert_eq!(
            Template::parse("{{ first name }}"),
            Err(TemplateError::InvalidChar {
                ch: ' ',
                position: 8
            })
        );
        assert_eq!(
            Template::parse("ё{{a/b}}"),
            Err(TemplateError::InvalidChar {
                ch: '/',
                position: 4
            })
        );
        assert_eq!(
            Template::parse("{{имя}}"),
            Err(TemplateError::InvalidChar {
                ch: 'и',
                position: 2
            })
        );
        assert_eq!(
            Template::parse("{{a..b}}"),
            Err(TemplateError::EmptySegment {
                path: "a..b".into(),
                position: 0
            })
        );
        assert!(Template::parse("{{.a}}").is_err());
        assert!(Template::parse("{{a.}}").is_err());
        let err = Template::parse("ok {{title").unwrap_err();
        assert_eq!(err.position(), 3);
        assert_eq!(
            err.to_string(),
            "unclosed placeholder: `{{` at offset 3 has no matching `}}`"
        );
        assert_eq!(
            Template::parse("{{}}").unwrap_err().to_string(),
            "empty placeholder `{{}}` at offset 0"
        );
        assert!(
            Template::parse("{{a b}}")
                .unwrap_err()
                .to_string()
                .contains("invalid character ' ' in placeholder at offset 3")
        );
    }

    #[test]
    fn path_charset_is_accepted() {
        let tpl = t("{{fields.UF_CRM_1-x.9}}");
        assert_eq!(
            tpl.placeholders().collect::<Vec<_>>(),
            ["fields.UF_CRM_1-x.9"]
        );
    }

    #[test]
    fn placeholders_in_order_with_duplicates() {
        let tpl = t("{{a}} {{b.c}} {{a}}");
        assert_eq!(tpl.placeholders().collect::<Vec<_>>(), ["a", "b.c", "a"]);
        assert!(!tpl.is_literal());
        assert!(t("").is_literal());
        assert_eq!(Template::default(), t(""));
        assert_eq!(t("").render(&deal()), "");
    }

    #[test]
    fn render_value_keeps_types_for_a_lone_placeholder() {
        let ctx = deal();
        assert_eq!(t("{{amount}}").render_value(&ctx), json!(15000.0));
        assert_eq!(t("{{ fields.budget }}").render_value(&ctx), json!(12.5));
        assert_eq!(t("{{fields.vip}}").render_value(&ctx), json!(true));
        assert_eq!(
            t("{{fields.tags}}").render_value(&ctx),
            json!(["vip", "new"])
        );
        assert_eq!(t("{{missing}}").render_value(&ctx), Value::Null);
        assert_eq!(t(" {{amount}}").render_value(&ctx), json!(" 15000"));
        assert_eq!(
            t("{{amount}}{{currency}}").render_value(&ctx),
            json!("15000EUR")
        );
        assert_eq!(t("plain").render_value(&ctx), json!("plain"));
        assert_eq!(t("").render_value(&ctx), json!(""));
    }

    #[test]
    fn serde_is_the_source_string() {
        let tpl = t("Hi {{ responsible.name }}");
        assert_eq!(
            serde_json::to_value(&tpl).unwrap(),
            json!("Hi {{ responsible.name }}")
        );
        let back: Template = serde_json::from_str(r#""Hi {{ responsible.name }}""#).unwrap();
        assert_eq!(back, tpl);
        assert_eq!(back.source(), "Hi {{ responsible.name }}");
        let err = serde_json::from_str::<Template>(r#""Hi {{name""#).unwrap_err();
        assert!(err.to_string().contains("unclosed placeholder"), "{err}");
        assert!(serde_json::from_str::<Template>("12").is_err());
    }

    #[test]
    fn from_str_and_display() {
        let tpl: Template = "a {{b}}".parse().unwrap();
        assert_eq!(tpl.to_string(), "a {{b}}");
        assert!("{{".parse::<Template>().is_err());
    }

    proptest! {
        #[test]
        fn literal_text_renders_to_itself(src in "[^{}]*") {
            let tpl = Template::parse(&src).unwrap();
            prop_assert!(tpl.is_literal());
            prop_assert_eq!(tpl.render(&Value::Null), src.clone());
            prop_assert_eq!(tpl.render_value(&Value::Null), Value::String(src));
        }

        #[test]
        fn placeholder_is_replaced_by_its_value(
            before in "[^{}]*",
            after in "[^{}]*",
            path in "[A-Za-z_][A-Za-z0-9_-]{0,8}(\\.[A-Za-z0-9_-]{1,8}){0,3}",
            text in "[^{}]*",
        ) {
            let src = format!("{before}{{{{ {path} }}}}{after}");
            let tpl = Template::parse(&src).unwrap();
            prop_assert_eq!(tpl.placeholders().collect::<Vec<_>>(), vec![path.as_str()]);
            let mut ctx = Value::String(text.clone());
            for segment in path.rsplit('.') {
                ctx = json!({ segment: ctx });
            }
            prop_assert_eq!(tpl.render(&ctx), format!("{before}{text}{after}"));
            prop_assert_eq!(tpl.source(), src.as_str());
        }

        #[test]
        fn parse_never_panics_and_serde_round_trips(src in "\\PC*") {
            if let Ok(tpl) = Template::parse(&src) {
                let json = serde_json::to_string(&tpl).unwrap();
                prop_assert_eq!(serde_json::from_str::<Template>(&json).unwrap(), tpl);
            }
        }

        #[test]
        fn integral_floats_format_without_fraction(i in -1_000_000_000i64..1_000_000_000) {
            prop_assert_eq!(format_value(&json!(i as f64)), i.to_string());
        }
    }
}
