//! The trigger types without settings share this shape: any event of the
//! type matches. Each type still has a file of its own (one line).

/// `settings_less!(Type, "description", Outside | Engine, Group)`: a
/// settings-less trigger type.
macro_rules! settings_less {
    ($ty:ident, $description:literal, $raised_by:ident, $group:ident) => {
        /// Settings of a trigger type without settings: `{}` only.
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Default,
            serde::Serialize,
            serde::Deserialize,
            schemars::JsonSchema,
        )]
        #[serde(deny_unknown_fields)]
        pub struct $ty {}

        impl super::TriggerType for $ty {
            const DESCRIPTION: &'static str = $description;
            const RAISED_BY: super::RaisedBy = super::RaisedBy::$raised_by;
            const GROUP: crate::catalogue::Group = crate::catalogue::Group::$group;
        }
    };
}

pub(crate) use settings_less;
