//! A duration histogram with fixed log-scale buckets, additive (so that day
//! and shard documents merge by adding) and signed (so that an item's
//! earlier total can be taken out when its re-entry replaces it).
//!
//! Values are milliseconds. Bucket 0 holds values below 1 ms; bucket `i ≥ 1`
//! holds `[1.1^(i-1), 1.1^i)` ms and is reported as its geometric middle
//! `1.1^(i-½)`, so a reported median or p90 is within ±4.9 % of a value of
//! the data (`√1.1 − 1`). 1 ms to 400 days is about 260 buckets; a document
//! stores only the buckets in use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Ratio between the bounds of one bucket.
pub const BUCKET_RATIO: f64 = 1.1;

/// Largest relative error of a reported quantile: `√1.1 − 1` ≈ 4.881 %.
pub const MAX_RELATIVE_ERROR: f64 = 0.0489;

/// Counts per bucket (bucket index → count; buckets at 0 are not kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Histogram(BTreeMap<u16, i64>);

/// The bucket of a value in milliseconds.
pub fn bucket_of(ms: i64) -> u16 {
    if ms < 1 {
        return 0;
    }
    // Values are at most ~1e13 ms, far below what f64 holds exactly.
    #[allow(clippy::cast_precision_loss)]
    let b = 1.0 + ((ms as f64).ln() / BUCKET_RATIO.ln()).floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let b = b.clamp(1.0, f64::from(u16::MAX)) as u16;
    b
}

/// The value a bucket is reported as, in milliseconds.
pub fn bucket_value(bucket: u16) -> f64 {
    if bucket == 0 {
        0.0
    } else {
        BUCKET_RATIO.powf(f64::from(bucket) - 0.5)
    }
}

impl Histogram {
    /// Count `ms` once (`sign` 1) or take it out (`sign` -1).
    pub fn add(&mut self, ms: i64, sign: i64) {
        let e = self.0.entry(bucket_of(ms)).or_insert(0);
        *e += sign;
        if *e == 0 {
            self.0.remove(&bucket_of(ms));
        }
    }

    /// Add every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (b, c) in &other.0 {
            let e = self.0.entry(*b).or_insert(0);
            *e += c;
            if *e == 0 {
                self.0.remove(b);
            }
        }
    }

    /// How many values it holds.
    pub fn count(&self) -> i64 {
        self.0.values().sum()
    }

    /// Nothing counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `q` quantile (0 < q ≤ 1) in milliseconds by nearest rank: the
    /// value of rank ⌈q·n⌉; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n <= 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let rank = ((q * n as f64).ceil() as i64).clamp(1, n);
        let mut seen = 0;
        for (b, c) in &self.0 {
            seen += c;
            if seen >= rank {
                return Some(bucket_value(*b));
            }
        }
        self.0.keys().last().map(|b| bucket_value(*b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_reported_within_the_stated_error() {
        let mut v: i64 = 1;
        while v < 40_000_000_000 {
            let got = bucket_value(bucket_of(v));
            #[allow(clippy::cast_precision_loss)]
            let err = (got - v as f64).abs() / v as f64;
            assert!(err <= MAX_RELATIVE_ERROR + 1e-9, "{v} ms reported as {got}");
            v = v * 13 / 10 + 1;
        }
        assert_eq!(bucket_value(bucket_of(0)), 0.0);
    }

    #[test]
    fn quantiles_by_nearest_rank_and_removal_undoes_an_add() {
        let mut h = Histogram::default();
        for s in [10, 20, 30, 40, 50, 60, 70, 80, 90, 100] {
            h.add(s * 1000, 1);
        }
        let near = |got: Option<f64>, want: f64| {
            let got = got.unwrap();
            assert!(
                (got - want).abs() / want <= MAX_RELATIVE_ERROR,
                "{got} vs {want}"
            );
        };
        near(h.quantile(0.5), 50_000.0);
        near(h.quantile(0.9), 90_000.0);
        near(h.quantile(1.0), 100_000.0);
        let before = h.clone();
        h.add(5, 1);
        h.add(5, -1);
        assert_eq!(h, before);
        assert_eq!(h.count(), 10);
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
