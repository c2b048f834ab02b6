//! Hourly and daily aggregates of check results: counts by outcome and cause,
//! and a log-bucket latency histogram that merges exactly and gives percentiles.

use crate::monitor::Cause;

/// Histogram buckets; bucket `i` holds latencies up to `GROWTH^i` µs,
/// so 80 buckets of +25% reach about 45 s with at most 12% error.
const BUCKETS: usize = 80;
const GROWTH: f64 = 1.25;

/// A fixed log-scale latency histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u32; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: [0; BUCKETS],
        }
    }
}

impl Histogram {
    fn bucket(latency_us: u64) -> usize {
        if latency_us <= 1 {
            return 0;
        }
        let index = ((latency_us as f64).ln() / GROWTH.ln()).ceil() as usize;
        index.min(BUCKETS - 1)
    }

    /// Counts one latency.
    pub fn record(&mut self, latency_us: u64) {
        let bucket = &mut self.counts[Self::bucket(latency_us)];
        *bucket = bucket.saturating_add(1);
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    /// The latency (µs) at percentile `p` (0-100): the geometric middle of
    /// the bucket it falls in; 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        let total: u64 = self.counts.iter().map(|c| u64::from(*c)).sum();
        if total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
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

    /// Whether no latency was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|count| *count == 0)
    }

    /// Sparse encoding: (bucket index, LEB128 count) for non-empty buckets.
    pub fn encode(&self) -> Vec<u8> {
        sparse_encode(&self.counts)
    }

    /// The inverse of [`Histogram::encode`]; garbage decodes to what it can.
    pub fn decode(bytes: &[u8]) -> Self {
        let mut histogram = Self::default();
        sparse_decode(bytes, &mut histogram.counts);
        histogram
    }
}

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
    /// Count per cause, indexed by [`Cause::code`].
    pub causes: [u32; Cause::ALL.len()],
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
        self.causes[usize::from(cause.code())] += 1;
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
        for (mine, theirs) in self.causes.iter_mut().zip(other.causes.iter()) {
            *mine += theirs;
        }
        self.histogram.merge(&other.histogram);
    }

    /// Splits `ok` and `failed` again by the cause counts, for rollups
    /// stored before degraded causes counted as up (they were in `failed`).
    /// Left as stored when the cause counts do not add up to them (gap time
    /// is `unknown` and has no cause, so it never stands in the way).
    pub fn recount(&mut self) {
        let (mut up, mut failed) = (0u32, 0u32);
        for (cause, count) in Cause::ALL.iter().zip(self.causes) {
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
        sparse_encode(&self.causes)
    }

    /// Rebuilds cause counts from [`Rollup::encode_causes`].
    pub fn decode_causes(&mut self, bytes: &[u8]) {
        sparse_decode(bytes, &mut self.causes);
    }
}

fn sparse_encode(counts: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, count) in counts.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        out.push(index as u8);
        let mut value = *count;
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

fn sparse_decode(bytes: &[u8], counts: &mut [u32]) {
    let mut iter = bytes.iter();
    while let Some(index) = iter.next() {
        let mut value: u32 = 0;
        let mut shift = 0;
        for byte in iter.by_ref() {
            value |= u32::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            shift += 7;
            if byte & 0x80 == 0 || shift > 28 {
                break;
            }
        }
        if let Some(slot) = counts.get_mut(usize::from(*index)) {
            *slot = value;
        }
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
        odd.causes[usize::from(Cause::TooSlow.code())] = 7;
        odd.recount();
        assert_eq!((odd.ok, odd.failed), (1, 2));
    }

    #[test]
    fn garbage_never_panics() {
        let _ = Histogram::decode(&[255, 255, 255, 255, 255, 255, 1]);
        let mut r = Rollup::default();
        r.decode_causes(&[200, 1, 3]);
    }
}
