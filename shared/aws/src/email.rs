//! The MIME email of an outbound message, as both homes send it (SMTP on
//! the local server, SES raw email on AWS): `From` the configured sender,
//! `Subject`, the deterministic `Message-ID`
//! `<out.{outbound id}@{domain of the sender}>`
//! ([`crm_core::outbound::message_id`]; with the tenant's inbound address
//! id as a tag, `<out.{id}.{tag}@…>`, and that address as `Reply-To` when
//! incoming email is on), and a body that is plain text, or
//! `multipart/alternative` (a plain-text part derived from it, then the HTML)
//! when it looks like HTML.

use std::time::SystemTime;

use crm_core::model::Outbound;
use crm_core::outbound::message_id::message_id_of;
use crm_core::ports::PortError;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};

/// The email of `m` from `from`, and its `Message-ID`. An unusable
/// recipient address is a permanent failure.
pub fn compose(m: &Outbound, from: &Mailbox) -> Result<(Message, String), PortError> {
    let to: Mailbox = m.to.parse().map_err(|e| {
        PortError::Rejected(format!(
            "the recipient '{}' is not an email address: {e}",
            m.to
        ))
    })?;
    let id = message_id_of(m, from.email.as_ref());
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(m.subject.clone().unwrap_or_default())
        .message_id(Some(id.clone()))
        .date(SystemTime::from(m.at));
    if let Some(reply_to) = m
        .reply_to
        .as_deref()
        .and_then(|a| a.parse::<Mailbox>().ok())
    {
        builder = builder.reply_to(reply_to);
    }
    let email = if looks_like_html(&m.body) {
        builder.multipart(MultiPart::alternative_plain_html(
            plain_text_of(&m.body),
            m.body.clone(),
        ))
    } else {
        builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(m.body.clone()),
        )
    };
    let email =
        email.map_err(|e| PortError::Rejected(format!("the email cannot be built: {e}")))?;
    Ok((email, id))
}

/// Does the body look like HTML (a robot's HTML email, or one whose links
/// the tracking rewrote)?
pub fn looks_like_html(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    [
        "<html", "<body", "<p>", "<p ", "<br", "<div", "<a ", "<table", "<span", "<img",
    ]
    .iter()
    .any(|t| lower.contains(t))
}

/// A plain-text rendering of an HTML body: tags dropped (a line break for
/// `<br>`, `<p>`, `<div>`, `<tr>`, `<li>`), the common entities decoded,
/// blank runs collapsed; `<head>`, `<style>` and `<script>` left out.
pub fn plain_text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(open) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&rest[..open]);
        }
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[open + 1..open + close].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        match skip_until {
            Some(end) if tag.starts_with('/') && name == end => skip_until = None,
            Some(_) => {}
            None => match name.as_str() {
                "head" | "style" | "script" if !tag.starts_with('/') => {
                    skip_until = Some(match name.as_str() {
                        "head" => "head",
                        "style" => "style",
                        _ => "script",
                    })
                }
                "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" => out.push('\n'),
                _ => {}
            },
        }
        rest = &rest[open + close + 1..];
    }
    if skip_until.is_none() {
        out.push_str(rest);
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let lines: Vec<String> = decoded
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let mut text = String::new();
    let mut blank = true;
    for l in lines {
        if l.is_empty() {
            if !blank {
                text.push('\n');
            }
            blank = true;
        } else {
            text.push_str(&l);
            text.push('\n');
            blank = false;
        }
    }
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_recognised_and_turned_into_text() {
        assert!(looks_like_html("<p>Hello</p>"));
        assert!(!looks_like_html("Price < 5 and > 3"));
        let text = plain_text_of(
            "<html><head><style>p{}</style></head><body><p>Hello &amp; welcome</p>\
             <p>See <a href=\"https://x.test\">the offer</a></p></body></html>",
        );
        assert_eq!(text, "Hello & welcome\n\nSee the offer");
    }
}
