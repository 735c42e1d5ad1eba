//! The deterministic `Message-ID` of a robot's email:
//! `<out.{outbound id}@{domain of the From address}>`. Every attempt of one
//! message carries the same id, so a receiver de-duplicates a rare second
//! copy, and a reply (its `In-Reply-To`/`References`) names the message it
//! answers.
//!
//! An email to the client when incoming email is on carries the tenant's
//! inbound address id as a tag: `<out.{outbound id}.{tag}@{domain}>` (the
//! tag is the local part of its `Reply-To`, `in_` and 32 hex digits), so a
//! reply or a bounce that names the message finds its tenant with one read
//! ([`crate::inbound`]). Outbound ids have no `.`.

/// The `Message-ID` header value (with its angle brackets) of outbound
/// message `outbound_id` sent from `from` (`Name <a@b>` or `a@b`).
pub fn message_id(outbound_id: &str, from: &str) -> String {
    format!("<out.{outbound_id}@{}>", domain_of(from))
}

/// The `Message-ID` of message `m` sent from `from`: tagged with the
/// tenant's inbound address id when the message has a `Reply-To` address.
pub fn message_id_of(m: &crate::model::Outbound, from: &str) -> String {
    match m.reply_to.as_deref().and_then(|a| a.split_once('@')) {
        Some((tag, _)) if !tag.is_empty() => {
            format!("<out.{}.{tag}@{}>", m.id, domain_of(from))
        }
        _ => message_id(&m.id, from),
    }
}

/// The outbound id and the tag (if any) of one of our `Message-ID`s.
pub fn reference_of(message_id: &str) -> Option<(&str, Option<&str>)> {
    let inner = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, _) = inner.rsplit_once('@')?;
    let rest = local.strip_prefix("out.")?;
    let (id, tag) = match rest.split_once('.') {
        Some((id, tag)) => (id, Some(tag).filter(|t| !t.is_empty())),
        None => (rest, None),
    };
    (!id.is_empty()).then_some((id, tag))
}

/// The outbound id a `Message-ID` (or an `In-Reply-To` naming it) was
/// made for, if it has the form of [`message_id`].
pub fn outbound_id_of(message_id: &str) -> Option<&str> {
    reference_of(message_id).map(|(id, _)| id)
}

fn domain_of(from: &str) -> &str {
    let addr = from
        .rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'));
    addr.rsplit_once('@')
        .map_or("localhost", |(_, d)| d.trim())
        .trim_end_matches('>')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_built_from_the_record_and_the_senders_domain_and_parses_back() {
        assert_eq!(
            message_id("email-42", "CRM <robots@shop.example>"),
            "<out.email-42@shop.example>"
        );
        assert_eq!(message_id("email-1", "a@b.test"), "<out.email-1@b.test>");
        assert_eq!(message_id("email-1", "nobody"), "<out.email-1@localhost>");
        assert_eq!(
            outbound_id_of("<out.email-42@shop.example>"),
            Some("email-42")
        );
        assert_eq!(outbound_id_of("<abc@shop.example>"), None);
    }

    fn outbound(id: &str) -> crate::model::Outbound {
        crate::model::Outbound {
            id: id.into(),
            tenant: "t".into(),
            channel: crate::model::Channel::Email,
            to: "c@x.test".into(),
            from: None,
            subject: None,
            body: "hi".into(),
            provider: None,
            item_id: Some("item-1".into()),
            to_client: true,
            status: crate::model::OutboundStatus::Queued,
            at: "2026-12-01T10:00:00Z".parse().unwrap(),
            sent_at: None,
            attachments: Vec::new(),
            network: None,
            call: None,
            attempts: 0,
            last_error: None,
            provider_message_id: None,
            next_attempt_at: None,
            reply_to: None,
            run_id: None,
        }
    }

    #[test]
    fn a_tagged_id_names_the_message_and_the_tenants_inbound_address() {
        let tag = "in_0123456789abcdef0123456789abcdef";
        let m = crate::model::Outbound {
            reply_to: Some(format!("{tag}@in.shop.example")),
            ..outbound("email-7")
        };
        let id = message_id_of(&m, "robots@shop.example");
        assert_eq!(id, format!("<out.email-7.{tag}@shop.example>"));
        assert_eq!(reference_of(&id), Some(("email-7", Some(tag))));
        assert_eq!(outbound_id_of(&id), Some("email-7"));
        let plain = crate::model::Outbound {
            reply_to: None,
            ..m
        };
        assert_eq!(
            message_id_of(&plain, "robots@shop.example"),
            "<out.email-7@shop.example>"
        );
        assert_eq!(
            reference_of("<out.email-7@shop.example>"),
            Some(("email-7", None))
        );
        assert_eq!(reference_of("<out.@x>"), None);
    }
}
