//! `email_read`: the client opened an email. No settings: any event of the type matches.

super::settings_less!(EmailRead, "The client opened an email", Outside, ClientCommunication);
