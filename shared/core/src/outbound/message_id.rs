//! The deterministic `Message-ID` of a robot's email:
//! `<out.{outbound id}@{domain of the From address}>`. Every attempt of one
//! message carries the same id, so a receiver de-duplicates a rare second
//! copy, and a reply (its `In-Reply-To`/`References`) names the message it
//! answers.

/// The `Message-ID` header value (with its angle brackets) of outbound
/// message `outbound_id` sent from `from` (`Name <a@b>` or `a@b`).
pub fn message_id(outbound_id: &str, from: &str) -> String {
    format!("<out.{outbound_id}@{}>", domain_of(from))
}

/// The outbound id a `Message-ID` (or an `In-Reply-To` naming it) was
/// made for, if it has the form of [`message_id`].
pub fn outbound_id_of(message_id: &str) -> Option<&str> {
    let inner = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, _) = inner.rsplit_once('@')?;
    local.strip_prefix("out.").filter(|id| !id.is_empty())
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
}
