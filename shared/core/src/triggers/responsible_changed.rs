//! `responsible_changed`: the item's responsible changed. No settings: any event of the type matches.

super::settings_less!(ResponsibleChanged, "The item's responsible changed", Engine, ItemManagement);
