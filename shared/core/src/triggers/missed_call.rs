//! `missed_call`: a call from the client was missed. No settings: any event of the type matches.

super::settings_less!(MissedCall, "A call from the client was missed", Outside, ClientCommunication);
