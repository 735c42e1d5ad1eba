//! `incoming_call`: the client called. No settings: any event of the type matches.

super::settings_less!(IncomingCall, "The client called", Outside, ClientCommunication);
