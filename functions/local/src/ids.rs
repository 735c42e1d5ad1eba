//! Fresh ids that stay unique across restarts of the process.

use crm_core::ports::IdGen;

/// `{prefix}-{16 random hex digits}`: 64 random bits per id, so ids made by
/// different runs of the process (which share the data directory) do not
/// collide in practice (a collision needs ~4 billion ids of one prefix for a
/// one-in-two chance).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdGen for RandomIds {
    fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}-{:016x}", rand::random::<u64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_have_the_prefix_and_differ() {
        let ids = RandomIds;
        let set: HashSet<String> = (0..10_000).map(|_| ids.next_id("item")).collect();
        assert_eq!(set.len(), 10_000);
        assert!(set.iter().all(|i| i.starts_with("item-") && i.len() == 21));
    }
}
