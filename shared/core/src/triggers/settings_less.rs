//! The trigger types without settings: any event of the type matches.

use serde::{Deserialize, Serialize};

use super::{RaisedBy, TriggerType};

macro_rules! settings_less {
    ($($(#[$doc:meta])* $ty:ident: $description:literal, $raised_by:ident;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
            #[serde(deny_unknown_fields)]
            pub struct $ty {}

            impl TriggerType for $ty {
                const DESCRIPTION: &'static str = $description;
                const RAISED_BY: RaisedBy = RaisedBy::$raised_by;
            }
        )+
    };
}

settings_less! {
    /// `email_read`
    EmailRead: "The client opened an email", Outside;
    /// `incoming_email`
    IncomingEmail: "An email came from the client", Outside;
    /// `incoming_call`
    IncomingCall: "The client called", Outside;
    /// `missed_call`
    MissedCall: "A call from the client was missed", Outside;
    /// `site_visit`
    SiteVisit: "The client visited the site", Outside;
    /// `client_returned`
    ClientReturned: "The client came back (a repeat inquiry)", Outside;
    /// `invoice_paid`
    InvoicePaid: "The client paid the invoice", Outside;
    /// `responsible_changed`
    ResponsibleChanged: "The item's responsible changed", Engine;
}
