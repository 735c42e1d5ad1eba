//! `site_visit`: the client visited the site. No settings: any event of the type matches.

super::settings_less!(SiteVisit, "The client visited the site", Outside, ClientCommunication);
