//! `incoming_email`: an email came from the client. No settings: any event of the type matches.

super::settings_less!(IncomingEmail, "An email came from the client", Outside, ClientCommunication);
