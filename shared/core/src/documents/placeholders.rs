//! The `{Placeholder}` fields of document templates (the reference
//! product's convention) and their values for an item.
//!
//! A placeholder is `{Name}` with a name from [`PLACEHOLDERS`], or
//! `{Field:<key>}` for the item's custom field `<key>`. Text in braces that
//! does not look like a name (`{ }`, `{1,2}`, JSON) is left alone; a
//! name-like one that is unknown is refused at upload.

use chrono::NaiveDate;
use serde_json::Value;

use super::amount_words::{amount_in_words_en, amount_in_words_ru};
use crate::model::{Item, Pipeline, User};

/// Longest placeholder name.
pub const MAX_PLACEHOLDER: usize = 64;

/// The prefix of custom-field placeholders: `{Field:budget}`.
pub const FIELD_PREFIX: &str = "Field:";

/// Every placeholder with what it is replaced by.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("Title", "the item's title"),
    ("Amount", "the amount in figures, `25 000.00`"),
    (
        "AmountInWords",
        "the amount in Russian words with the currency's units (RUB, USD, EUR; other codes after the words)",
    ),
    (
        "AmountInWordsEn",
        "the amount in English words with the currency's units",
    ),
    ("Currency", "the currency code, `RUB`"),
    ("Stage", "the name of the item's stage"),
    ("Pipeline", "the name of the item's pipeline"),
    ("Responsible", "the responsible employee's name"),
    ("ResponsibleEmail", "the responsible employee's email"),
    ("ResponsiblePhone", "the responsible employee's phone"),
    ("Client", "the client's name"),
    ("ClientPhone", "the client's phone"),
    ("ClientEmail", "the client's email"),
    (
        "Date",
        "today's date in the responsible's time zone (UTC without one), `02.12.2026`",
    ),
    (
        "DocumentNumber",
        "the number the numbering rule gave (empty without one)",
    ),
    ("ItemId", "the item's id"),
    (
        "Field:<key>",
        "the item's custom field `<key>` (a date as `dd.mm.yyyy`, a list joined by `, `)",
    ),
];

/// Is `name` a placeholder name a template may use?
pub fn is_known(name: &str) -> bool {
    match name.strip_prefix(FIELD_PREFIX) {
        Some(key) => !key.is_empty() && key.chars().all(|c| name_char(c) && c != ':'),
        None => PLACEHOLDERS
            .iter()
            .any(|(n, _)| *n == name && !n.contains('<')),
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

/// The placeholders of a text: (byte start, byte end, name) of every
/// `{Name}` whose name starts with a letter and holds letters, digits and
/// `_ - . :`.
pub fn scan(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find('{') {
        let start = i + off;
        let rest = &text[start + 1..];
        let end = rest.find('}');
        if let Some(end) = end {
            let name = &rest[..end];
            let first = name.chars().next();
            if first.is_some_and(|c| c.is_ascii_alphabetic())
                && name.len() <= MAX_PLACEHOLDER
                && name.chars().all(name_char)
            {
                out.push((start, start + 1 + end + 1, name.to_string()));
                i = start + 1 + end + 1;
                continue;
            }
        }
        i = start + 1;
        if i >= bytes.len() {
            break;
        }
    }
    out
}

/// What the placeholders of one document are filled with.
pub struct Values<'a> {
    pub item: &'a Item,
    pub pipeline: &'a Pipeline,
    pub responsible: Option<&'a User>,
    pub number: Option<&'a str>,
    pub today: NaiveDate,
}

/// `25000.5` → `25 000.50`.
pub fn format_amount(amount: f64) -> String {
    let cents = (amount.abs() * 100.0).round() as u64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    let minus = if amount < 0.0 && cents > 0 { "-" } else { "" };
    format!("{minus}{grouped}.{:02}", cents % 100)
}

fn field_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => d.format("%d.%m.%Y").to_string(),
            Err(_) => s.clone(),
        },
        Value::Array(a) => a.iter().map(field_text).collect::<Vec<_>>().join(", "),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        other => other.to_string(),
    }
}

impl Values<'_> {
    /// The text of a placeholder (`None`: not a placeholder name).
    pub fn get(&self, name: &str) -> Option<String> {
        let item = self.item;
        let opt = |s: &Option<String>| s.clone().unwrap_or_default();
        if let Some(key) = name.strip_prefix(FIELD_PREFIX) {
            return Some(item.fields.get(key).map(field_text).unwrap_or_default());
        }
        Some(match name {
            "Title" => item.title.clone(),
            "Amount" => format_amount(item.amount),
            "AmountInWords" => amount_in_words_ru(item.amount, &item.currency),
            "AmountInWordsEn" => amount_in_words_en(item.amount, &item.currency),
            "Currency" => item.currency.clone(),
            "Stage" => self
                .pipeline
                .stage(&item.stage_id)
                .map_or_else(|| item.stage_id.clone(), |s| s.name.clone()),
            "Pipeline" => self.pipeline.name.clone(),
            "Responsible" => self
                .responsible
                .map_or_else(|| item.responsible_id.clone(), |u| u.name.clone()),
            "ResponsibleEmail" => self
                .responsible
                .and_then(|u| u.email.clone())
                .unwrap_or_default(),
            "ResponsiblePhone" => self
                .responsible
                .and_then(|u| u.phone.clone())
                .unwrap_or_default(),
            "Client" => opt(&item.client.name),
            "ClientPhone" => opt(&item.client.phone),
            "ClientEmail" => opt(&item.client.email),
            "Date" => self.today.format("%d.%m.%Y").to_string(),
            "DocumentNumber" => self.number.unwrap_or_default().to_string(),
            "ItemId" => item.id.clone(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_name_like_braces_are_placeholders() {
        let found: Vec<String> =
            scan("Invoice {DocumentNumber} for {Client}; {Field:budget} { } {1,2} {\"a\":1}")
                .into_iter()
                .map(|p| p.2)
                .collect();
        assert_eq!(found, ["DocumentNumber", "Client", "Field:budget"]);
        assert!(is_known("Field:budget") && is_known("AmountInWords"));
        assert!(!is_known("Field:") && !is_known("Clinet") && !is_known("Field:<key>"));
    }

    #[test]
    fn amounts_are_grouped_by_thousands() {
        assert_eq!(format_amount(25000.0), "25 000.00");
        assert_eq!(format_amount(1234567.891), "1 234 567.89");
        assert_eq!(format_amount(12.5), "12.50");
        assert_eq!(format_amount(-999.0), "-999.00");
    }
}
