//! `client_returned`: the client came back (a repeat inquiry). No settings: any event of the type matches.

super::settings_less!(ClientReturned, "The client came back (a repeat inquiry)", Outside, ClientCommunication);
