//! Hourly and daily aggregates of check results: counts by outcome and cause,
//! and a log-bucket latency histogram that merges exactly and gives percentiles.
//! Both keep only the counts that are not zero: the writer holds an hour and
//! a day of every monitor, and a healthy one touches one cause and a handful
//! of buckets, so a rollup is some 200 bytes instead of 450.

use super::leb128;
use crate::monitor::Cause;

/// Histogram buckets; bucket `i` holds latencies up to `GROWTH^i` µs,
/// so 80 buckets of +25% reach about 45 s with at most 12% error.
const BUCKETS: usize = 80;
const GROWTH: f64 = 1.25;

/// Counts by index (a bucket, a cause code), only those above zero, in
/// index order. Equal counts give equal values, as the dense arrays this
/// replaces did, and the encoding is theirs byte for byte.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Sparse(Vec<(u8, u32)>);

impl Sparse {
    /// Adds `n` at `index`, saturating.
    fn add(&mut self, index: u8, n: u32) {
        match self.0.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) => self.0[at].1 = self.0[at].1.saturating_add(n),
            Err(at) if n > 0 => self.insert(at, index, n),
            Err(_) => {}
        }
    }

    fn insert(&mut self, at: usize, index: u8, n: u32) {
        if self.0.is_empty() {
            // An hour usually counts one cause: room for one, not four.
            self.0.reserve_exact(1);
        }
        self.0.insert(at, (index, n));
    }

    /// Sets the count at `index`; 0 removes it.
    fn set(&mut self, index: u8, n: u32) {
        match self.0.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(at) if n > 0 => self.0[at].1 = n,
            Ok(at) => {
                self.0.remove(at);
            }
            Err(at) if n > 0 => self.insert(at, index, n),
            Err(_) => {}
        }
    }

    fn get(&self, index: u8) -> u32 {
        self.0
            .binary_search_by_key(&index, |(i, _)| *i)
            .map_or(0, |at| self.0[at].1)
    }

    fn merge(&mut self, other: &Sparse) {
        for &(index, n) in &other.0 {
            self.add(index, n);
        }
    }

    /// (index, LEB128 count) for each count, in index order.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 3);
        for &(index, count) in &self.0 {
            out.push(index);
            leb128::push(&mut out, count);
        }
        out
    }

    /// The inverse of [`Sparse::encode`] for indices below `len`; garbage
    /// decodes to what it can, a repeated index keeps its last count.
    fn decode(bytes: &[u8], len: usize) -> Self {
        let mut counts = Sparse::default();
        counts.decode_into(bytes, len);
        counts
    }

    /// Sets the counts an encoding holds, leaving the others.
    fn decode_into(&mut self, bytes: &[u8], len: usize) {
        let mut iter = bytes.iter();
        while let Some(index) = iter.next() {
            let value = leb128::read(&mut iter).unwrap_or(0);
            if usize::from(*index) < len {
                self.set(*index, value);
            }
        }
    }
}

/// A log-scale latency histogram of [`BUCKETS`] fixed buckets, of which
/// only those counted are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Sparse,
}

impl Histogram {
    fn bucket(latency_us: u64) -> u8 {
        if latency_us <= 1 {
            return 0;
        }
        let index = ((latency_us as f64).ln() / GROWTH.ln()).ceil() as usize;
        index.min(BUCKETS - 1) as u8
    }

    /// Counts one latency.
    pub fn record(&mut self, latency_us: u64) {
        self.counts.add(Self::bucket(latency_us), 1);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        self.counts.merge(&other.counts);
    }

    /// The latency (µs) at percentile `p` (0-100): the geometric middle of
    /// the bucket it falls in; 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        let total: u64 = self.counts.0.iter().map(|(_, c)| u64::from(*c)).sum();
        if total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for &(index, count) in &self.counts.0 {
            seen += u64::from(count);
            if seen >= rank {
                if index == 0 {
                    return 1;
                }
                let upper = GROWTH.powi(i32::from(index));
                return (upper / GROWTH.sqrt()).round() as u64;
            }
        }
        0
    }

    /// Whether no latency was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.0.is_empty()
    }

    /// Sparse encoding: (bucket index, LEB128 count) for non-empty buckets.
    pub fn encode(&self) -> Vec<u8> {
        self.counts.encode()
    }

    /// The inverse of [`Histogram::encode`]; garbage decodes to what it can.
    pub fn decode(bytes: &[u8]) -> Self {
        Self {
            counts: Sparse::decode(bytes, BUCKETS),
        }
    }
}

/// Checks counted by cause, only the causes seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CauseCounts(Sparse);

/// The aggregate of one monitor over one hour or day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    /// Checks counted.
    pub total: u32,
    /// Checks that count as up: cause `ok` and the degraded causes
    /// ([`Cause::counts_as_up`]), so uptime counts a slow answer or an
    /// expiring certificate as up.
    pub ok: u32,
    /// Failed checks (neither up nor unknown).
    pub failed: u32,
    /// Checks with cause `unknown`.
    pub unknown: u32,
    /// Checks that ended in a 5xx cause.
    pub n5xx: u32,
    /// Count per cause; see [`Rollup::by_cause`].
    pub causes: CauseCounts,
    /// Latency of completed checks.
    pub histogram: Histogram,
}

impl Rollup {
    /// Counts one check.
    pub fn record(&mut self, cause: Cause, latency_us: u64) {
        self.total += 1;
        match cause {
            Cause::Unknown => self.unknown += 1,
            cause if cause.counts_as_up() => self.ok += 1,
            _ => self.failed += 1,
        }
        if cause.is_5xx() {
            self.n5xx += 1;
        }
        self.causes.0.add(cause.code(), 1);
        if cause != Cause::Unknown {
            self.histogram.record(latency_us);
        }
    }

    /// Adds another rollup (e.g. hours into a day).
    pub fn merge(&mut self, other: &Rollup) {
        self.total += other.total;
        self.ok += other.ok;
        self.failed += other.failed;
        self.unknown += other.unknown;
        self.n5xx += other.n5xx;
        self.causes.0.merge(&other.causes.0);
        self.histogram.merge(&other.histogram);
    }

    /// The checks counted with `cause`.
    pub fn cause_count(&self, cause: Cause) -> u32 {
        self.causes.0.get(cause.code())
    }

    /// Each cause counted, with its count, in [`Cause::ALL`] order.
    pub fn by_cause(&self) -> impl Iterator<Item = (Cause, u32)> + '_ {
        (self.causes.0.0.iter()).filter_map(|&(code, n)| Some((Cause::from_code(code)?, n)))
    }

    /// Splits `ok` and `failed` again by the cause counts, for rollups
    /// stored before degraded causes counted as up (they were in `failed`).
    /// Left as stored when the cause counts do not add up to them (gap time
    /// is `unknown` and has no cause, so it never stands in the way).
    pub fn recount(&mut self) {
        let (mut up, mut failed) = (0u32, 0u32);
        for (cause, count) in self.by_cause() {
            match cause {
                Cause::Unknown => {}
                cause if cause.counts_as_up() => up = up.saturating_add(count),
                _ => failed = failed.saturating_add(count),
            }
        }
        if u64::from(up) + u64::from(failed) == u64::from(self.ok) + u64::from(self.failed) {
            self.ok = up;
            self.failed = failed;
        }
    }

    /// Sparse encoding of the cause counts.
    pub fn encode_causes(&self) -> Vec<u8> {
        self.causes.0.encode()
    }

    /// Rebuilds cause counts from [`Rollup::encode_causes`].
    pub fn decode_causes(&mut self, bytes: &[u8]) {
        self.causes.0.decode_into(bytes, Cause::ALL.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_land_within_a_bucket() {
        let mut h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(us * 1000); // 1..1000 ms
        }
        let p50 = h.percentile(50.0) as f64;
        let p99 = h.percentile(99.0) as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.15, "p50 {p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() < 0.15, "p99 {p99}");
        assert_eq!(Histogram::default().percentile(50.0), 0);
    }

    #[test]
    fn encodings_round_trip_and_merge_adds() {
        let mut a = Rollup::default();
        a.record(Cause::Ok, 1200);
        a.record(Cause::Http502, 800);
        for _ in 0..300 {
            a.record(Cause::Ok, 5_000_000);
        }
        let h = Histogram::decode(&a.histogram.encode());
        assert_eq!(h, a.histogram);
        let mut causes = Rollup::default();
        causes.decode_causes(&a.encode_causes());
        assert_eq!(causes.causes, a.causes);
        assert_eq!(causes.cause_count(Cause::Http502), 1);
        let mut b = a.clone();
        b.merge(&a);
        assert_eq!(b.total, 2 * a.total);
        assert_eq!(b.n5xx, 2);
        assert_eq!(b.failed, 2);
    }

    #[test]
    fn degraded_checks_count_as_up() {
        let mut r = Rollup::default();
        r.record(Cause::TlsExpiring, 1000);
        r.record(Cause::TooSlow, 9000);
        r.record(Cause::DomainExpiring, 1000);
        r.record(Cause::Http502, 1000);
        r.record(Cause::Unknown, 0);
        assert_eq!((r.total, r.ok, r.failed, r.unknown), (5, 3, 1, 1));
    }

    #[test]
    fn rollups_stored_with_degraded_as_failed_are_recounted() {
        // As an older hopwatch stored a day: 10 tls_expiring checks in
        // `failed`, one 502, and gap time as unknown without a cause.
        let mut r = Rollup::default();
        for _ in 0..10 {
            r.record(Cause::TlsExpiring, 1000);
        }
        r.record(Cause::Http502, 1000);
        r.ok = 0;
        r.failed = 11;
        r.total += 5;
        r.unknown += 5;
        r.recount();
        assert_eq!((r.total, r.ok, r.failed, r.unknown), (16, 10, 1, 5));
        // Cause counts that do not match (garbage) leave the totals alone.
        let mut odd = Rollup {
            total: 3,
            ok: 1,
            failed: 2,
            ..Rollup::default()
        };
        odd.causes.0.set(Cause::TooSlow.code(), 7);
        odd.recount();
        assert_eq!((odd.ok, odd.failed), (1, 2));
    }

    /// The dense arrays these rollups kept before, as they encoded and
    /// read percentiles: what is on disk was written this way.
    mod dense {
        use super::super::{BUCKETS, GROWTH, Histogram, leb128};

        pub fn record(counts: &mut [u32; BUCKETS], latency_us: u64) {
            let index = usize::from(Histogram::bucket(latency_us));
            counts[index] = counts[index].saturating_add(1);
        }

        pub fn encode(counts: &[u32]) -> Vec<u8> {
            let mut out = Vec::new();
            for (index, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                out.push(index as u8);
                leb128::push(&mut out, *count);
            }
            out
        }

        pub fn percentile(counts: &[u32; BUCKETS], p: f64) -> u64 {
            let total: u64 = counts.iter().map(|c| u64::from(*c)).sum();
            if total == 0 {
                return 0;
            }
            let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (index, count) in counts.iter().enumerate() {
                seen += u64::from(*count);
                if seen >= rank {
                    if index == 0 {
                        return 1;
                    }
                    let upper = GROWTH.powi(index as i32);
                    return (upper / GROWTH.sqrt()).round() as u64;
                }
            }
            0
        }
    }

    #[test]
    fn the_encoding_on_disk_is_bucket_then_leb128_count() {
        let mut histogram = Histogram::default();
        histogram.record(1);
        for _ in 0..200 {
            histogram.record(1_000);
        }
        // 1 µs is bucket 0; 1 ms is bucket 31 (1.25^31 ≈ 1,009); 200 is
        // 0xC8 0x01 in LEB128.
        assert_eq!(histogram.encode(), [0, 1, 31, 0xC8, 0x01]);
        assert_eq!(Histogram::decode(&[0, 1, 31, 0xC8, 0x01]), histogram);
    }

    proptest::proptest! {
        /// Only the non-zero buckets are kept now: the same latencies give
        /// the same bytes on disk and the same percentiles as the dense
        /// histogram did, and blobs it wrote read back whole.
        #[test]
        fn sparse_histograms_match_the_dense_ones(
            latencies in proptest::collection::vec(0u64..120_000_000, 0..400),
            repeat in 1u32..300,
        ) {
            let mut dense = [0u32; BUCKETS];
            let mut sparse = Histogram::default();
            for _ in 0..repeat {
                for us in &latencies {
                    dense::record(&mut dense, *us);
                    sparse.record(*us);
                }
            }
            let old_blob = dense::encode(&dense);
            proptest::prop_assert_eq!(sparse.encode(), old_blob.clone());
            proptest::prop_assert_eq!(Histogram::decode(&old_blob), sparse.clone());
            for p in [0.0, 1.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0] {
                proptest::prop_assert_eq!(sparse.percentile(p), dense::percentile(&dense, p));
            }
            proptest::prop_assert_eq!(sparse.is_empty(), dense.iter().all(|c| *c == 0));
        }
    }

    #[test]
    fn blobs_written_by_the_dense_arrays_decode() {
        // An hour as the dense arrays stored it: 3,590 checks around 2 ms
        // (2,400 in bucket 34, 1,190 in bucket 35), 10 of 5 s (bucket 70);
        // causes ok and http_502.
        let histogram = [34, 0xe0, 0x12, 35, 0xa6, 0x09, 70, 10];
        let h = Histogram::decode(&histogram);
        assert_eq!(h.percentile(50.0), 1_764);
        assert_eq!(h.percentile(99.9), 5_435_580);
        assert_eq!(h.encode(), histogram);
        let ok = Cause::Ok.code();
        let bad = Cause::Http502.code();
        let causes = [ok, 0x86, 0x1c, bad, 10];
        let mut r = Rollup::default();
        r.decode_causes(&causes);
        assert_eq!(r.cause_count(Cause::Ok), 3_590);
        assert_eq!(r.cause_count(Cause::Http502), 10);
        assert_eq!(r.cause_count(Cause::Timeout), 0);
        assert_eq!(r.encode_causes(), causes);
        // Out-of-range indices and zero counts leave nothing behind.
        assert!(Histogram::decode(&[80, 5, 3, 0]).is_empty());
    }

    #[test]
    fn a_rollup_is_small() {
        // Five counters and two vectors; the counts live on the heap, a
        // handful of 8-byte pairs for a healthy monitor.
        assert!(
            std::mem::size_of::<Rollup>() <= 72,
            "{}",
            std::mem::size_of::<Rollup>()
        );
        let mut r = Rollup::default();
        for us in 1_500..2_500 {
            r.record(Cause::Ok, us);
        }
        assert!(r.histogram.counts.0.len() <= 4, "{:?}", r.histogram);
        assert_eq!(r.by_cause().collect::<Vec<_>>(), [(Cause::Ok, 1_000)]);
    }

    #[test]
    fn garbage_never_panics() {
        let _ = Histogram::decode(&[255, 255, 255, 255, 255, 255, 1]);
        let mut r = Rollup::default();
        r.decode_causes(&[200, 1, 3]);
    }
}
