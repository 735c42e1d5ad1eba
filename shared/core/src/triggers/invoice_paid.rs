//! `invoice_paid`: the client paid the invoice. No settings: any event of the type matches.

super::settings_less!(InvoicePaid, "The client paid the invoice", Outside, Payments);
