//! The results an agent has not sent yet: kept as the JSON they are sent
//! as, oldest first, bounded (past the bound the oldest go, counted), and
//! taken in batches that are put back whole when a send fails.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::monitor::CheckResult;

/// Results kept at most while the server is away. A few hundred bytes
/// each (a failure's evidence is at most some kilobytes): tens of
/// megabytes at the bound, an hour of 30 monitors at 1 s.
pub const CAPACITY: usize = 100_000;
/// Results in one request at most...
pub const BATCH_RESULTS: usize = 500;
/// ...and bytes, well under the server's 4 MiB, whatever evidence they carry.
pub const BATCH_BYTES: usize = 2 * 1024 * 1024;

/// One unsent result: its monitor, and its JSON.
type Item = (Arc<str>, String);

/// Unsent results, oldest first.
#[derive(Debug)]
pub struct Buffer {
    items: VecDeque<Item>,
    capacity: usize,
    /// Dropped for room since [`Buffer::take_dropped`] was last called.
    dropped: u64,
}

/// Some of the oldest results, ready to send.
#[derive(Debug)]
pub struct Batch {
    items: Vec<Item>,
}

impl Buffer {
    /// An empty buffer keeping at most `capacity` results.
    pub fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Keeps `result` of `monitor` behind the others; the oldest goes when
    /// the buffer is full.
    pub fn push(&mut self, monitor: &Arc<str>, result: &CheckResult) {
        // A result is plain data with string keys: serializing cannot fail.
        let Ok(json) = serde_json::to_string(result) else {
            return;
        };
        if self.items.len() >= self.capacity {
            self.items.pop_front();
            self.dropped += 1;
        }
        self.items.push_back((monitor.clone(), json));
    }

    /// Forgets the results of monitors not in `kept` (the server no longer
    /// gives them to this agent, and would refuse every batch holding one);
    /// returns how many went.
    pub fn retain_monitors(&mut self, kept: &HashSet<&str>) -> usize {
        let before = self.items.len();
        self.items.retain(|(monitor, _)| kept.contains(&**monitor));
        before - self.items.len()
    }

    /// How many results wait.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The oldest results, up to `max_results` and `max_bytes` of JSON (at
    /// least one when any waits, whatever its size); `None` when empty.
    pub fn take(&mut self, max_results: usize, max_bytes: usize) -> Option<Batch> {
        let mut items = Vec::new();
        let mut bytes = 0;
        while let Some((_, next)) = self.items.front() {
            let full = items.len() >= max_results || bytes + next.len() > max_bytes;
            if !items.is_empty() && full {
                break;
            }
            bytes += next.len() + 1;
            items.extend(self.items.pop_front());
        }
        (!items.is_empty()).then_some(Batch { items })
    }

    /// Puts an unsent batch back in front, where it came from. Results
    /// pushed meanwhile stay behind it; if they filled the buffer, the
    /// batch's oldest are dropped (and counted) to make room.
    pub fn put_back(&mut self, batch: Batch) {
        for item in batch.items.into_iter().rev() {
            if self.items.len() >= self.capacity {
                self.dropped += 1;
                continue;
            }
            self.items.push_front(item);
        }
    }

    /// How many results were dropped for room since the last call.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

impl Batch {
    /// How many results it holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The request body: `{"results": [CHECK, ...]}`.
    pub fn body(&self) -> Vec<u8> {
        let size = self
            .items
            .iter()
            .map(|(_, item)| item.len() + 1)
            .sum::<usize>();
        let mut body = Vec::with_capacity(size + 16);
        body.extend_from_slice(b"{\"results\":[");
        for (n, (_, item)) in self.items.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(item.as_bytes());
        }
        body.extend_from_slice(b"]}");
        body
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::monitor::Cause;

    fn result(second: u64) -> CheckResult {
        result_of("web", second)
    }

    fn result_of(monitor: &str, second: u64) -> CheckResult {
        let mut result = CheckResult::new(UNIX_EPOCH + Duration::from_secs(second), Cause::Ok);
        result.monitor = Some(monitor.to_owned());
        result
    }

    /// Pushes a result as the agent does: under its monitor's name.
    fn push(buffer: &mut Buffer, result: CheckResult) {
        let monitor: Arc<str> = Arc::from(result.monitor.as_deref().unwrap_or_default());
        buffer.push(&monitor, &result);
    }

    /// The `at` seconds of a batch's results, read back from its body.
    fn seconds(batch: &Batch) -> Vec<u64> {
        #[derive(serde::Deserialize)]
        struct Body {
            results: Vec<CheckResult>,
        }
        let body: Body = serde_json::from_slice(&batch.body()).expect("a batch body");
        body.results
            .iter()
            .map(|r| r.at.duration_since(UNIX_EPOCH).unwrap().as_secs())
            .collect()
    }

    #[test]
    fn past_the_bound_the_oldest_go_and_are_counted() {
        let mut buffer = Buffer::new(3);
        for second in 1..=5 {
            push(&mut buffer, result(second));
        }
        assert_eq!(buffer.len(), 3);
        assert_eq!(buffer.take_dropped(), 2);
        assert_eq!(buffer.take_dropped(), 0, "counted once");
        let batch = buffer.take(10, BATCH_BYTES).expect("a batch");
        assert_eq!(seconds(&batch), [3, 4, 5]);
        assert!(buffer.take(10, BATCH_BYTES).is_none());
    }

    #[test]
    fn batches_are_bounded_by_count_and_bytes_but_never_empty() {
        let mut buffer = Buffer::new(100);
        for second in 1..=5 {
            push(&mut buffer, result(second));
        }
        assert_eq!(seconds(&buffer.take(2, BATCH_BYTES).unwrap()), [1, 2]);
        // One byte allows no result, yet the oldest goes alone.
        assert_eq!(seconds(&buffer.take(10, 1).unwrap()), [3]);
        assert_eq!(seconds(&buffer.take(10, BATCH_BYTES).unwrap()), [4, 5]);
    }

    #[test]
    fn an_unsent_batch_goes_back_in_front_of_what_came_meanwhile() {
        let mut buffer = Buffer::new(4);
        for second in 1..=3 {
            push(&mut buffer, result(second));
        }
        let batch = buffer.take(2, BATCH_BYTES).unwrap();
        push(&mut buffer, result(4));
        push(&mut buffer, result(5));
        buffer.put_back(batch);
        // Room for one of the two: the older of them is dropped.
        assert_eq!(buffer.take_dropped(), 1);
        assert_eq!(
            seconds(&buffer.take(10, BATCH_BYTES).unwrap()),
            [2, 3, 4, 5]
        );
    }

    #[test]
    fn results_of_monitors_no_longer_given_are_forgotten() {
        let mut buffer = Buffer::new(10);
        push(&mut buffer, result_of("kept", 1));
        push(&mut buffer, result_of("gone", 2));
        push(&mut buffer, result_of("kept", 3));
        assert_eq!(buffer.retain_monitors(&HashSet::from(["kept"])), 1);
        assert_eq!(seconds(&buffer.take(10, BATCH_BYTES).unwrap()), [1, 3]);
    }
}
