//! A Bitrix call's parameters, from whichever encoding the caller used:
//! the query string (GET, and the incoming-webhook "track" URL), a JSON body,
//! or a form body with PHP-style arrays (`params[KEY]=…`, `fields[A][B]=…`,
//! `list[]=…`). Query and body are merged (the body wins). Keys are
//! case-insensitive: every key is kept lower-cased.

use serde_json::{Map, Value};

/// Why parameters cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// The JSON body is not a JSON object.
    #[error("the body is not a JSON object: {0}")]
    Json(String),
    /// The form or query nests deeper than [`MAX_DEPTH`] or has a malformed key.
    #[error("parameter '{0}' is malformed or nested too deep")]
    Key(String),
}

/// Deepest PHP-style nesting accepted (`a[b][c]…`).
pub const MAX_DEPTH: usize = 8;

/// The parameters of a call, keys lower-cased.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub Map<String, Value>);

impl Params {
    /// Parameters from the raw query string and the body (as its
    /// `Content-Type` says: JSON, or form-encoded; an empty body adds none).
    pub fn read(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Params, ParamsError> {
        let mut out = Map::new();
        if let Some(q) = query {
            merge(&mut out, form(q.as_bytes())?);
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            let ct = content_type.unwrap_or("").to_ascii_lowercase();
            let from_body = if ct.starts_with("application/x-www-form-urlencoded") {
                form(body)?
            } else if ct.starts_with("application/json")
                || ct.is_empty()
                || body.first() == Some(&b'{')
            {
                json(body)?
            } else {
                form(body)?
            };
            merge(&mut out, from_body);
        }
        Ok(Params(out))
    }

    /// The value of `key` (lower-case), if present and not null.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// `key` as text: strings as they are, numbers written out.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// `key` as an integer (a JSON number or a decimal string).
    pub fn integer(&self, key: &str) -> Option<Result<i64, ()>> {
        let v = self.get(key)?;
        Some(match v {
            Value::Number(n) => n.as_i64().ok_or(()),
            Value::String(s) => s.trim().parse().map_err(|_| ()),
            _ => Err(()),
        })
    }
}

fn merge(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        into.insert(k, v);
    }
}

fn json(body: &[u8]) -> Result<Map<String, Value>, ParamsError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(lower_keys(m)),
        Ok(_) => Err(ParamsError::Json("expected an object".into())),
        Err(e) => Err(ParamsError::Json(e.to_string())),
    }
}

/// Lower-cases every key, at every depth.
fn lower_keys(m: Map<String, Value>) -> Map<String, Value> {
    m.into_iter()
        .map(|(k, v)| (k.to_lowercase(), lower_value(v)))
        .collect()
}

fn lower_value(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(lower_keys(m)),
        Value::Array(a) => Value::Array(a.into_iter().map(lower_value).collect()),
        other => other,
    }
}

/// A form-encoded string with PHP-style array keys.
fn form(raw: &[u8]) -> Result<Map<String, Value>, ParamsError> {
    let mut root = Value::Object(Map::new());
    for (key, value) in form_urlencoded::parse(raw) {
        if key.is_empty() {
            continue;
        }
        let path = key_path(&key).ok_or_else(|| ParamsError::Key(key.to_string()))?;
        insert(&mut root, &path, Value::String(value.into_owned()))
            .map_err(|()| ParamsError::Key(key.to_string()))?;
    }
    match root {
        Value::Object(m) => Ok(m),
        _ => unreachable!("the root stays an object"),
    }
}

/// `fields[A][b]` → `["fields", "a", "b"]`; `list[]` → `["list", ""]`
/// (append). `None` for an unclosed bracket or too deep a key. A key
/// without brackets is itself; text after the last `]` is ignored (as PHP
/// does).
fn key_path(key: &str) -> Option<Vec<String>> {
    let (base, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if base.is_empty() {
        return None;
    }
    let mut path = vec![base.to_lowercase()];
    while let Some(stripped) = rest.strip_prefix('[') {
        let end = stripped.find(']')?;
        path.push(stripped[..end].to_lowercase());
        rest = &stripped[end + 1..];
        if path.len() > MAX_DEPTH + 1 {
            return None;
        }
    }
    Some(path)
}

/// Puts `value` at `path` under `node` (objects; `""` appends to an array).
fn insert(node: &mut Value, path: &[String], value: Value) -> Result<(), ()> {
    let (head, tail) = path.split_first().ok_or(())?;
    if head.is_empty() {
        if !node.is_array() {
            if node.as_object().is_some_and(Map::is_empty) {
                *node = Value::Array(Vec::new());
            } else {
                return Err(());
            }
        }
        let arr = node.as_array_mut().ok_or(())?;
        if tail.is_empty() {
            arr.push(value);
            return Ok(());
        }
        arr.push(Value::Object(Map::new()));
        let last = arr.last_mut().ok_or(())?;
        return insert(last, tail, value);
    }
    let obj = node.as_object_mut().ok_or(())?;
    if tail.is_empty() {
        obj.insert(head.clone(), value);
        return Ok(());
    }
    let child = obj
        .entry(head.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !(child.is_object() || child.is_array()) {
        *child = Value::Object(Map::new());
    }
    insert(child, tail, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(q: Option<&str>, ct: Option<&str>, body: &str) -> Value {
        Value::Object(Params::read(q, ct, body.as_bytes()).unwrap().0)
    }

    #[test]
    fn query_strings_are_read_with_lower_case_keys() {
        assert_eq!(
            read(Some("target=DEAL_57&CODE=xyz&bx24_request_id=1"), None, ""),
            json!({"target": "DEAL_57", "code": "xyz", "bx24_request_id": "1"})
        );
    }

    #[test]
    fn php_arrays_nest() {
        assert_eq!(
            read(
                None,
                Some("application/x-www-form-urlencoded"),
                "params[CODE]=a&fields[A][B]=x%20y&list[]=1&list[]=2"
            ),
            json!({"params": {"code": "a"}, "fields": {"a": {"b": "x y"}}, "list": ["1", "2"]})
        );
    }

    #[test]
    fn json_bodies_are_lower_cased_and_merged_over_the_query() {
        assert_eq!(
            read(
                Some("code=q&x=1"),
                Some("application/json"),
                r#"{"CODE":"b","Owner_Id":5}"#
            ),
            json!({"code": "b", "x": "1", "owner_id": 5})
        );
    }

    #[test]
    fn bad_bodies_and_keys_are_errors() {
        assert!(Params::read(None, Some("application/json"), b"[1]").is_err());
        assert!(Params::read(None, Some("application/json"), b"{").is_err());
        assert!(Params::read(Some("a[b=1"), None, b"").is_err());
        assert!(Params::read(Some("[x]=1"), None, b"").is_err());
        let deep = format!("a{}=1", "[x]".repeat(MAX_DEPTH + 1));
        assert!(Params::read(Some(&deep), None, b"").is_err());
    }

    #[test]
    fn typed_reads() {
        let p = Params::read(
            Some("n=12&s=x"),
            Some("application/json"),
            br#"{"m": 7, "z": null}"#,
        )
        .unwrap();
        assert_eq!(p.integer("n"), Some(Ok(12)));
        assert_eq!(p.integer("m"), Some(Ok(7)));
        assert_eq!(p.integer("s"), Some(Err(())));
        assert_eq!(p.integer("z"), None);
        assert_eq!(p.text("m").as_deref(), Some("7"));
    }
}

/// The parameters of the served methods (documentation: keys are
/// case-insensitive, others are ignored; form bodies and query strings
/// carry the same keys).
#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct BitrixParams {
    /// `crm.automation.trigger`: `DEAL_<id>`, `LEAD_<id>`, `QUOTE_<id>`,
    /// `SMART_INVOICE_<id>` or `DYNAMIC_<type>_<id>`.
    #[serde(default)]
    pub target: Option<String>,
    /// The trigger code (`[a-z0-9.\-_]`, at most 64): the `code` of a
    /// `webhook` trigger.
    #[serde(default, rename = "CODE")]
    pub code: Option<String>,
    /// `crm.automation.trigger.add`: the code's name.
    #[serde(default, rename = "NAME")]
    pub name: Option<String>,
    /// `crm.automation.trigger.execute`: 1 lead, 2 deal, 7 quote, 31 smart
    /// invoice, 128+ dynamic type.
    #[serde(default, rename = "OWNER_TYPE_ID")]
    pub owner_type_id: Option<i64>,
    /// `crm.automation.trigger.execute`: the item's id.
    #[serde(default, rename = "OWNER_ID")]
    pub owner_id: Option<String>,
}
