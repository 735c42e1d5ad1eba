//! The client index: an item's client phone (digits only) and email
//! (lower case) as keys, so that an event naming a client finds its items.
use crate::model::{Client, ClientRef};

fn normalize_phone(p: &str) -> String {
    p.chars().filter(char::is_ascii_digit).collect()
}

/// Client index keys of an item's contacts.
pub(crate) fn client_keys(c: &Client) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(p) = &c.phone {
        let n = normalize_phone(p);
        if !n.is_empty() {
            keys.push(format!("phone:{n}"));
        }
    }
    if let Some(e) = &c.email {
        let e = e.trim().to_lowercase();
        if !e.is_empty() {
            keys.push(format!("email:{e}"));
        }
    }
    keys
}

/// Client index keys an event identifies its item by.
pub(crate) fn client_ref_keys(c: &ClientRef) -> Vec<String> {
    client_keys(&Client {
        name: None,
        phone: c.phone.clone(),
        email: c.email.clone(),
        ..Client::default()
    })
}
