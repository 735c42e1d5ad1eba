//! The MIME email of an outbound message, as both homes send it (SMTP on
//! the local server, SES raw email on AWS): `From` the configured sender,
//! `Subject`, the deterministic `Message-ID`
//! `<out.{outbound id}@{domain of the sender}>`
//! ([`crm_core::outbound::message_id`]; with the tenant's inbound address
//! id as a tag, `<out.{id}.{tag}@…>`, and that address as `Reply-To` when
//! incoming email is on), and a body that is plain text, or
//! `multipart/alternative` (a plain-text part derived from it, then the HTML)
//! when it looks like HTML. An email with files (the documents the robot
//! attached, [`crm_core::outbound::files`]) is `multipart/mixed`: that body
//! first, then one attachment part per file (base64, its content type, and
//! `Content-Disposition: attachment` with the file's name, RFC 2231-encoded
//! when it is not ASCII).

use std::time::SystemTime;

use crm_core::model::Outbound;
use crm_core::outbound::files::OutboundFile;
use crm_core::outbound::message_id::message_id_of;
use crm_core::ports::PortError;
use lettre::Message;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};

/// The email of `m` from `from`, and its `Message-ID`. An unusable
/// recipient address is a permanent failure.
pub fn compose(m: &Outbound, from: &Mailbox) -> Result<(Message, String), PortError> {
    compose_with_files(m, from, &[])
}

/// [`compose`] with `files` attached.
pub fn compose_with_files(
    m: &Outbound,
    from: &Mailbox,
    files: &[OutboundFile],
) -> Result<(Message, String), PortError> {
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
    let email = match (looks_like_html(&m.body), files.is_empty()) {
        (true, true) => builder.multipart(html_body(&m.body)),
        (false, true) => builder.singlepart(text_body(&m.body)),
        (html, false) => {
            let mixed = if html {
                MultiPart::mixed().multipart(html_body(&m.body))
            } else {
                MultiPart::mixed().singlepart(text_body(&m.body))
            };
            let mixed = files.iter().try_fold(mixed, |mixed, f| {
                Ok::<_, PortError>(mixed.singlepart(attachment(f)?))
            })?;
            builder.multipart(mixed)
        }
    };
    let email =
        email.map_err(|e| PortError::Rejected(format!("the email cannot be built: {e}")))?;
    Ok((email, id))
}

fn html_body(body: &str) -> MultiPart {
    MultiPart::alternative_plain_html(plain_text_of(body), body.to_string())
}

fn text_body(body: &str) -> SinglePart {
    SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
}

fn attachment(f: &OutboundFile) -> Result<SinglePart, PortError> {
    let content_type = ContentType::parse(&f.content_type).map_err(|e| {
        PortError::Rejected(format!(
            "attachment {}: content type '{}': {e}",
            f.file_name, f.content_type
        ))
    })?;
    Ok(Attachment::new(f.file_name.clone()).body(f.bytes.clone(), content_type))
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
    use crm_core::model::{Channel, OutboundStatus};
    use mail_parser::{MessageParser, MimeHeaders};

    fn outbound(body: &str) -> Outbound {
        Outbound {
            id: "email-1".into(),
            tenant: "acme".into(),
            channel: Channel::Email,
            to: "buyer@romashka.test".into(),
            from: None,
            subject: Some("Your invoice".into()),
            body: body.into(),
            reply_to: None,
            run_id: None,
            provider: None,
            item_id: Some("item-1".into()),
            to_client: true,
            status: OutboundStatus::Sending,
            at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            sent_at: None,
            attachments: vec!["doc-1".into(), "doc-2".into()],
            network: None,
            call: None,
            attempts: 1,
            last_error: None,
            provider_message_id: None,
            next_attempt_at: None,
        }
    }

    #[test]
    fn files_are_attached_after_the_body_with_their_names_types_and_bytes() {
        let pdf: Vec<u8> = (0..=255u8).cycle().take(5_000).collect();
        let files = [
            OutboundFile {
                file_name: "Счёт INV-2026-0001.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: pdf.clone(),
            },
            OutboundFile {
                file_name: "Act 7.docx".into(),
                content_type: crm_core::documents::FileFormat::Docx.content_type().into(),
                bytes: b"PK\x03\x04docx".to_vec(),
            },
        ];
        let from: Mailbox = "Shop <robots@shop.test>".parse().unwrap();
        for body in [
            "<p>The invoice is attached.</p>",
            "The invoice is attached.",
        ] {
            let (email, id) = compose_with_files(&outbound(body), &from, &files).unwrap();
            assert_eq!(id, "<out.email-1@shop.test>");
            let raw = email.formatted();
            let parsed = MessageParser::default()
                .parse(&raw)
                .expect("a MIME message");
            let root = parsed.root_part().content_type().unwrap();
            assert_eq!(
                (root.ctype(), root.subtype()),
                ("multipart", Some("mixed")),
                "{body}"
            );
            assert_eq!(
                parsed.body_text(0).unwrap().trim(),
                "The invoice is attached."
            );
            assert_eq!(parsed.attachment_count(), 2, "{body}");
            let a = parsed.attachment(0).unwrap();
            assert_eq!(a.attachment_name(), Some("Счёт INV-2026-0001.pdf"));
            let ct = a.content_type().unwrap();
            assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
            assert_eq!(a.contents(), pdf.as_slice());
            let b = parsed.attachment(1).unwrap();
            assert_eq!(b.attachment_name(), Some("Act 7.docx"));
            assert_eq!(b.contents(), b"PK\x03\x04docx");
        }
        // Without files the body is as before: no mixed wrapper.
        let (email, _) = compose(&outbound("<p>Hi</p>"), &from).unwrap();
        let raw = String::from_utf8(email.formatted()).unwrap();
        assert!(raw.contains("multipart/alternative") && !raw.contains("multipart/mixed"));
    }

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
