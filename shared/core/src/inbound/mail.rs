//! An incoming email as the matcher needs it, parsed from its raw MIME with
//! Stalwart's `mail-parser`: the sender's address, the `Message-ID`s it
//! answers, its subject and the start of its text. Sizes are bounded: a
//! message over [`MAX_MAIL_BYTES`] is refused, the text is cut at
//! [`MAX_SNIPPET_CHARS`], the subject at [`MAX_SUBJECT_CHARS`], and at most
//! [`MAX_REFERENCES`] referenced ids are kept.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// The largest raw message taken (bytes); larger ones are refused.
pub const MAX_MAIL_BYTES: usize = 10 * 1024 * 1024;
/// The longest text snippet put into the event (characters).
pub const MAX_SNIPPET_CHARS: usize = 1_000;
/// The longest subject put into the event (characters).
pub const MAX_SUBJECT_CHARS: usize = 300;
/// Most `In-Reply-To`/`References` ids looked at (the newest are last in
/// `References`; the reply's own `In-Reply-To` first).
pub const MAX_REFERENCES: usize = 20;
/// The longest `Message-ID` kept (characters); longer ones are replaced by
/// a hash of the message.
const MAX_ID_CHARS: usize = 250;

/// Why a raw message is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    #[error("the message is {0} bytes; at most {MAX_MAIL_BYTES} are taken")]
    TooLarge(usize),
    #[error("the message cannot be parsed as an email")]
    Unparsable,
}

/// A delivery status notification (a bounce report, `multipart/report;
/// report-type=delivery-status`) about one of the messages we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The `Message-ID` of the message it reports on.
    pub original_message_id: String,
    /// `Action: failed` (a permanent failure); delays and relays are not.
    pub failed: bool,
    /// The `Status:` and `Diagnostic-Code:` lines, for the record.
    pub detail: String,
}

/// The parts of an incoming email the matcher uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMail {
    /// The `From` address, trimmed and in lower case (empty when none).
    pub from: String,
    /// The `Message-ID` (without angle brackets), or `sha256:{hex}` of the
    /// raw bytes when it has none: what makes a second delivery a repeat.
    pub message_id: String,
    /// `In-Reply-To` then `References` (newest first), without brackets.
    pub references: Vec<String>,
    pub subject: String,
    /// The plain text (or the HTML's text), cut at [`MAX_SNIPPET_CHARS`].
    pub snippet: String,
    /// Set when the email is a delivery status notification.
    pub report: Option<DeliveryReport>,
}

/// Parse `raw` (the bytes as received, headers and body).
pub fn parse(raw: &[u8]) -> Result<IncomingMail, MailError> {
    if raw.len() > MAX_MAIL_BYTES {
        return Err(MailError::TooLarge(raw.len()));
    }
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or(MailError::Unparsable)?;
    if msg.headers().is_empty() {
        return Err(MailError::Unparsable);
    }
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .unwrap_or_default();
    let message_id = msg
        .message_id()
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_ID_CHARS)
        .map_or_else(|| format!("sha256:{}", sha256_hex(raw)), str::to_string);
    let mut references = ids(msg.in_reply_to());
    let mut older = ids(msg.references());
    older.reverse();
    references.extend(older);
    references.dedup();
    references.truncate(MAX_REFERENCES);
    let report = delivery_report(&msg);
    Ok(IncomingMail {
        from,
        message_id,
        references,
        subject: cut(msg.subject().unwrap_or_default().trim(), MAX_SUBJECT_CHARS),
        snippet: cut(
            msg.body_text(0).as_deref().unwrap_or_default().trim(),
            MAX_SNIPPET_CHARS,
        ),
        report,
    })
}

/// The ids of a `Message-ID`-list header (one id or several).
fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    let list: Vec<&str> = match (v.as_text_list(), v.as_text()) {
        (Some(l), _) => l.iter().map(|s| s.as_ref()).collect(),
        (None, Some(t)) => vec![t],
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|s| s.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID_CHARS)
        .map(str::to_string)
        .collect()
}

/// The report of a `multipart/report` delivery status notification: the
/// original message's id from its `message/rfc822` (or
/// `text/rfc822-headers`) part and the outcome from its
/// `message/delivery-status` part.
fn delivery_report(msg: &mail_parser::Message<'_>) -> Option<DeliveryReport> {
    let root = msg.content_type()?;
    let is_report = root.ctype().eq_ignore_ascii_case("multipart")
        && root
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"));
    if !is_report {
        return None;
    }
    let mut original = None;
    let mut status = None;
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (ct.ctype().to_ascii_lowercase().as_str(), sub.as_str()) {
            ("message", "rfc822") | ("message", "global") => {
                if let PartType::Message(m) = &part.body {
                    original = original.or_else(|| m.message_id().map(str::to_string));
                }
            }
            ("text", "rfc822-headers") => {
                // The part ends without the line break before the boundary:
                // end its last header, and the header block.
                let mut headers = part.contents().to_vec();
                headers.extend_from_slice(b"\r\n\r\n");
                original = original.or_else(|| {
                    MessageParser::default()
                        .parse(&headers)
                        .and_then(|m| m.message_id().map(str::to_string))
                });
            }
            ("message", "delivery-status") | ("message", "global-delivery-status") => {
                status = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            _ => {}
        }
    }
    let original_message_id = original?;
    let status = status.unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect::<Vec<_>>()
    };
    let failed = field("Action")
        .iter()
        .any(|a| a.eq_ignore_ascii_case("failed"));
    let detail = field("Status")
        .into_iter()
        .chain(field("Diagnostic-Code"))
        .collect::<Vec<_>>()
        .join("; ");
    Some(DeliveryReport {
        original_message_id,
        failed,
        detail: cut(&detail, MAX_SUBJECT_CHARS),
    })
}

/// `s` cut at `max` characters (on a character boundary).
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_string(),
        None => s.to_string(),
    }
}

fn sha256_hex(raw: &[u8]) -> String {
    Sha256::digest(raw)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = "From: \"Ivan Petrov\" <Buyer@Romashka.test>\r\n\
To: in_0123456789abcdef0123456789abcdef@in.shop.test\r\n\
Subject: =?UTF-8?B?0J/RgNC40LLQtdGC?= again\r\n\
Message-ID: <reply-1@romashka.test>\r\n\
In-Reply-To: <out.email-1.in_0123456789abcdef0123456789abcdef@shop.test>\r\n\
References: <older@x.test> <out.email-1.in_0123456789abcdef0123456789abcdef@shop.test>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Yes, we take the offer.\r\n\
> quoted text\r\n";

    #[test]
    fn a_reply_is_read_with_its_references_newest_first() {
        let m = parse(REPLY.as_bytes()).unwrap();
        assert_eq!(m.from, "buyer@romashka.test");
        assert_eq!(m.message_id, "reply-1@romashka.test");
        assert_eq!(m.subject, "Привет again");
        assert!(m.snippet.starts_with("Yes, we take the offer."), "{m:?}");
        assert_eq!(
            m.references,
            [
                "out.email-1.in_0123456789abcdef0123456789abcdef@shop.test",
                "older@x.test"
            ]
        );
        assert_eq!(m.report, None);
    }

    #[test]
    fn sizes_are_bounded() {
        let big = vec![b'a'; MAX_MAIL_BYTES + 1];
        assert_eq!(parse(&big), Err(MailError::TooLarge(MAX_MAIL_BYTES + 1)));
        let long = format!(
            "From: a@b.test\r\nSubject: {}\r\n\r\n{}",
            "s".repeat(1000),
            "я".repeat(5000)
        );
        let m = parse(long.as_bytes()).unwrap();
        assert_eq!(m.subject.chars().count(), MAX_SUBJECT_CHARS);
        assert_eq!(m.snippet.chars().count(), MAX_SNIPPET_CHARS);
        assert!(m.message_id.starts_with("sha256:"), "no Message-ID: a hash");
        assert_eq!(m.message_id, parse(long.as_bytes()).unwrap().message_id);
    }

    #[test]
    fn a_delivery_status_notification_names_the_original_message() {
        let dsn = "From: MAILER-DAEMON@mx.test\r\n\
To: robots@shop.test\r\n\
Subject: Undelivered Mail Returned to Sender\r\n\
Message-ID: <dsn-1@mx.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\
\r\n\
--B\r\n\
Content-Type: text/plain\r\n\
\r\n\
Your message could not be delivered.\r\n\
--B\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; mx.test\r\n\
\r\n\
Final-Recipient: rfc822; nobody@romashka.test\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
--B\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n\
From: robots@shop.test\r\n\
Subject: Your offer\r\n\
Message-ID: <out.email-9.in_0123456789abcdef0123456789abcdef@shop.test>\r\n\
--B--\r\n";
        let m = parse(dsn.as_bytes()).unwrap();
        let r = m.report.expect("a report");
        assert_eq!(
            r.original_message_id,
            "out.email-9.in_0123456789abcdef0123456789abcdef@shop.test"
        );
        assert!(r.failed);
        assert!(r.detail.contains("5.1.1"), "{r:?}");
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(parse(b""), Err(MailError::Unparsable));
    }
}
