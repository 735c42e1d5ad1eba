//! What `add_to_audience` and `remove_from_audience` share: the checks of
//! their settings and the change they hand to the audiences port (through
//! the outbox, after the run commits; one outbox record per run id).

use super::prelude::*;
use crate::audiences::{
    AudienceChange, AudienceOp, HashedContacts, MAX_AUDIENCE_ID_LEN, NETWORKS, valid_audience_id,
};
use crate::model::OutboxRecord;

/// `settings.network` and `settings.audience_id`.
pub(crate) fn check(cx: &mut Check<'_>, network: &str, audience_id: &str) {
    if !NETWORKS.contains(&network) {
        cx.err(
            "settings.network",
            format!("must be one of {}", NETWORKS.join(", ")),
        );
    }
    if !valid_audience_id(audience_id) {
        cx.err(
            "settings.audience_id",
            format!("must be 1 to {MAX_AUDIENCE_ID_LEN} of A-Z a-z 0-9 _ - ."),
        );
    }
}

/// The run's effect: the audience change, queued in the outbox.
pub(crate) fn perform(
    cx: &RunContext<'_>,
    op: AudienceOp,
    network: &str,
    audience_id: &str,
) -> ActionResult {
    let Some(contacts) = HashedContacts::of(&cx.item.client) else {
        return fail("the client has neither a phone nor an email");
    };
    let what: Vec<&str> = [
        contacts.phone_sha256.as_ref().map(|_| "phone"),
        contacts.email_sha256.as_ref().map(|_| "email"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let change = AudienceChange {
        tenant: cx.tenant.to_string(),
        run_id: cx.run.id.clone(),
        op,
        network: network.to_string(),
        audience_id: audience_id.to_string(),
        item_id: cx.item.id.clone(),
        contacts,
        at: cx.now,
    };
    let write = cx.engine.outbox_write(
        cx.tenant,
        &format!("audience|{}", cx.run.id),
        &OutboxRecord::Audience(change),
    );
    let verb = match op {
        AudienceOp::Add => "added to",
        AudienceOp::Remove => "removed from",
    };
    Ok(Effect::done(vec![write]).note(format!(
        "the client {verb} {network} audience '{audience_id}' ({} SHA-256-hashed)",
        what.join(" and ")
    )))
}
