//! The dispatcher: delivers queued messages in order per notifier, retries
//! with capped exponential backoff and jitter, gives up after a day, and
//! groups alert storms into one message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::subscribers::{Prepared, SubscriberMail};
use super::{DeliveryError, Notifier};
use crate::clock::unix_ms;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::incidents::{Delivery, NewDelivery, Recipients};

/// First retry delay.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Longest delay between tries.
pub const MAX_RETRY: Duration = Duration::from_secs(600);
/// Give up on a message this long after it was queued.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// More untried messages than this to one notifier at once is a storm:
/// they go out as one grouped message.
pub const STORM: usize = 3;
/// Longest one send may take before it counts as a retryable failure.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Look for due messages at least this often.
const POLL: Duration = Duration::from_secs(1);
/// Subscribers mailed at once by one notifier: a fan-out to thousands
/// takes minutes one at a time (a mail server answers in tens of ms), and
/// a relay takes a few connections from one sender well.
const SUBSCRIBERS_AT_ONCE: usize = 8;

/// What became of one try, as the messages after it see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// Sent, or given up for good: the next message may go.
    Done,
    /// Retried later: the messages after it (its queue's, or its
    /// subscriber's) wait.
    Retrying,
}

/// What to do after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    RetryAt(SystemTime),
    /// Stop trying.
    GiveUp,
}

/// The delay before try number `attempts + 1`: 1 s doubling to 10 min, with
/// ±20% jitter derived from the delivery id so that many messages queued
/// together do not retry in lockstep (and so the choice is reproducible).
pub fn backoff(attempts: u32, delivery_id: &str) -> Duration {
    let exponent = attempts.saturating_sub(1).min(20);
    let base = FIRST_RETRY.saturating_mul(1 << exponent).min(MAX_RETRY);
    let hash = crate::stable_hash::fnv1a(delivery_id.bytes().chain(attempts.to_le_bytes()));
    let factor = 0.8 + (hash % 401) as f64 / 1000.0; // 0.8 ..= 1.2
    base.mul_f64(factor).min(MAX_RETRY)
}

/// After try `attempts` failed with `error` at `now`: when to retry, if at all.
pub fn after_failure(
    error: &DeliveryError,
    attempts: u32,
    delivery_id: &str,
    created: SystemTime,
    now: SystemTime,
) -> AfterFailure {
    if !error.retryable {
        return AfterFailure::GiveUp;
    }
    let next = now + backoff(attempts, delivery_id);
    if next.duration_since(created).unwrap_or_default() > GIVE_UP_AFTER {
        AfterFailure::GiveUp
    } else {
        AfterFailure::RetryAt(next)
    }
}

/// Delivers the outbox.
pub struct Dispatcher {
    store: Store,
    notifiers: HashMap<String, Arc<dyn Notifier>>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    subscribers: SubscriberMail,
}

impl Dispatcher {
    /// A dispatcher for these notifiers; `wake` is notified when messages
    /// are queued; subscribers' mail is made from `live`'s current config.
    pub fn new(
        store: Store,
        notifiers: &[Arc<dyn Notifier>],
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        live: Live,
    ) -> Self {
        Self {
            subscribers: SubscriberMail::new(store.clone(), live),
            store,
            notifiers: notifiers
                .iter()
                .map(|n| (n.name().to_owned(), n.clone()))
                .collect(),
            metrics,
            wake,
        }
    }

    /// Delivers until `stop`: the notifiers' own messages and the
    /// subscribers' side by side, each in rounds of its own, so a fan-out to
    /// many subscribers (or a slow mail server) never holds up, nor waits
    /// behind, an on-call page.
    pub async fn run(self, stop: CancellationToken) {
        let (alerts, subscribers) = (Notify::new(), Notify::new());
        // `wake` is told of both kinds: each side hears of it, even in the
        // middle of a round (a permit waits for it).
        let forward = async {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = self.wake.notified() => {
                        alerts.notify_one();
                        subscribers.notify_one();
                    }
                }
            }
        };
        tokio::join!(
            forward,
            self.deliver_until(Recipients::Notifiers, &alerts, &stop),
            self.deliver_until(Recipients::Subscribers, &subscribers, &stop),
        );
    }

    async fn deliver_until(&self, to: Recipients, wake: &Notify, stop: &CancellationToken) {
        loop {
            if let Err(err) = self.deliver_due_to(to).await {
                tracing::warn!(error = %err, "cannot read the outbox; will retry");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One round of each side: every notifier's due messages, notifiers in
    /// parallel, each notifier's messages in order.
    pub async fn deliver_due(&self) -> Result<(), crate::store::StoreError> {
        let (alerts, subscribers) = tokio::join!(
            self.deliver_due_to(Recipients::Notifiers),
            self.deliver_due_to(Recipients::Subscribers),
        );
        alerts.and(subscribers)
    }

    async fn deliver_due_to(&self, to: Recipients) -> Result<(), crate::store::StoreError> {
        // Everything pending (not just what is due): a message waiting for
        // its retry holds back the later ones of its notifier, so a
        // `resolved` never overtakes its `firing`.
        let pending = self.store.pending_deliveries_to(to, 1_000).await?;
        let mut queues: HashMap<String, Vec<Delivery>> = HashMap::new();
        for delivery in pending {
            queues
                .entry(delivery.notifier.clone())
                .or_default()
                .push(delivery);
        }
        let rounds = queues.into_iter().map(|(notifier, queue)| match to {
            Recipients::Subscribers => {
                futures_util::future::Either::Left(self.deliver_personal(notifier, queue))
            }
            Recipients::Notifiers => {
                futures_util::future::Either::Right(self.deliver_queue(notifier, queue))
            }
        });
        for outcome in futures_util::future::join_all(rounds).await {
            outcome?;
        }
        Ok(())
    }

    async fn deliver_queue(
        &self,
        name: String,
        mut queue: Vec<Delivery>,
    ) -> Result<(), crate::store::StoreError> {
        let Some(notifier) = self.notifiers.get(&name).cloned() else {
            for delivery in queue {
                self.give_up(
                    &name,
                    &delivery,
                    "the notifier no longer exists in the config",
                )
                .await?;
            }
            return Ok(());
        };
        queue = self.group_storm(&name, queue).await?;
        let now_ms = unix_ms(SystemTime::now());
        for delivery in queue {
            if delivery.next_attempt_ms > now_ms {
                break; // waiting for its retry: later messages wait too
            }
            let sent = notifier.send(&delivery.id, &delivery.events);
            if self.settle(&name, &delivery, sent).await? == Settled::Retrying {
                break;
            }
        }
        Ok(())
    }

    /// A notifier's messages to subscribers, [`SUBSCRIBERS_AT_ONCE`]
    /// subscribers at a time, each subscriber's in order: one waiting for
    /// its retry holds back that subscriber's later ones only. Addresses
    /// are never logged.
    async fn deliver_personal(
        &self,
        name: String,
        queue: Vec<Delivery>,
    ) -> Result<(), crate::store::StoreError> {
        let Some(notifier) = self.notifiers.get(&name).cloned() else {
            for delivery in queue {
                let why = "the notifier no longer exists in the config";
                self.give_up(&name, &delivery, why).await?;
            }
            return Ok(());
        };
        // Each subscriber's messages, in the queue's order.
        let mut by_subscriber: Vec<Vec<Delivery>> = Vec::new();
        let mut at: HashMap<i64, usize> = HashMap::new();
        for delivery in queue {
            let Some(queued) = &delivery.subscriber else {
                continue;
            };
            let index = *at.entry(queued.subscriber).or_insert_with(|| {
                by_subscriber.push(Vec::new());
                by_subscriber.len() - 1
            });
            by_subscriber[index].push(delivery);
        }
        let now = SystemTime::now();
        let mut rounds = futures_util::stream::iter(by_subscriber)
            .map(|deliveries| self.deliver_to_subscriber(&name, notifier.as_ref(), deliveries, now))
            .buffer_unordered(SUBSCRIBERS_AT_ONCE);
        // Every subscriber's round runs to its end, even after another's
        // store error, which is then returned.
        let mut failed = Ok(());
        while let Some(outcome) = rounds.next().await {
            if outcome.is_err() && failed.is_ok() {
                failed = outcome;
            }
        }
        failed
    }

    /// One subscriber's messages, in order, until one waits for a retry.
    async fn deliver_to_subscriber(
        &self,
        name: &str,
        notifier: &dyn Notifier,
        deliveries: Vec<Delivery>,
        now: SystemTime,
    ) -> Result<(), crate::store::StoreError> {
        for delivery in deliveries {
            let Some(queued) = &delivery.subscriber else {
                continue;
            };
            if delivery.next_attempt_ms > unix_ms(now) {
                break;
            }
            let mail = match self.subscribers.prepare(queued, now).await? {
                Prepared::Mail(mail) => mail,
                Prepared::Drop(why) => {
                    self.store
                        .delivery_failed(&delivery.id, delivery.attempts, why)
                        .await?;
                    tracing::debug!(delivery = %delivery.id, why, "subscriber message dropped");
                    continue;
                }
            };
            let sent = notifier.send_personal(&delivery.id, &mail);
            if self.settle(name, &delivery, sent).await? == Settled::Retrying {
                break;
            }
        }
        Ok(())
    }

    /// Waits for one try of `delivery` (at most [`SEND_TIMEOUT`]) and
    /// records its outcome: sent, retried later, or given up.
    async fn settle(
        &self,
        name: &str,
        delivery: &Delivery,
        sent: super::SendFuture<'_>,
    ) -> Result<Settled, crate::store::StoreError> {
        let personal = delivery.subscriber.is_some();
        let attempts = delivery.attempts + 1;
        let result = tokio::time::timeout(SEND_TIMEOUT, sent)
            .await
            .unwrap_or_else(|_| Err(DeliveryError::retry("no answer within 30 s")));
        let error = match result {
            Ok(()) => {
                self.store.delivery_sent(&delivery.id, attempts).await?;
                self.metrics
                    .alert_deliveries
                    .with_label_values(&[name, "sent"])
                    .inc();
                if personal {
                    tracing::debug!(notifier = %name, delivery = %delivery.id, attempts, "subscriber mail delivered");
                } else {
                    tracing::info!(notifier = %name, delivery = %delivery.id, attempts, "alert delivered");
                }
                return Ok(Settled::Done);
            }
            Err(error) => error,
        };
        let created = crate::clock::from_unix_ms(delivery.created_ms);
        match after_failure(&error, attempts, &delivery.id, created, SystemTime::now()) {
            AfterFailure::RetryAt(next) => {
                self.store
                    .delivery_retry(&delivery.id, attempts, next, &error.message)
                    .await?;
                self.metrics
                    .alert_deliveries
                    .with_label_values(&[name, "retry"])
                    .inc();
                let what = if personal {
                    "subscriber mail failed; will retry"
                } else {
                    "alert delivery failed; will retry"
                };
                tracing::warn!(notifier = %name, delivery = %delivery.id, attempts, error = %crate::escape::log_field(&error.message), "{what}");
                Ok(Settled::Retrying)
            }
            AfterFailure::GiveUp => {
                self.give_up(name, delivery, &error.message).await?;
                Ok(Settled::Done)
            }
        }
    }

    async fn give_up(
        &self,
        name: &str,
        delivery: &Delivery,
        why: &str,
    ) -> Result<(), crate::store::StoreError> {
        self.store
            .delivery_failed(&delivery.id, delivery.attempts + 1, why)
            .await?;
        self.metrics
            .alert_deliveries
            .with_label_values(&[name, "failed"])
            .inc();
        tracing::error!(notifier = %name, delivery = %delivery.id, error = %crate::escape::log_field(why), "alert delivery given up");
        Ok(())
    }

    /// More than [`STORM`] untried messages at the head of a queue become
    /// one grouped message with a stable id of its own.
    async fn group_storm(
        &self,
        name: &str,
        queue: Vec<Delivery>,
    ) -> Result<Vec<Delivery>, crate::store::StoreError> {
        // An announcement ends the storm: grouping deletes the ids it
        // replaces, and a maintenance message's id is what keeps a restart
        // from queueing it again.
        let groupable =
            |d: &Delivery| d.attempts == 0 && !d.events.iter().any(|e| e.kind.is_maintenance());
        let untried = queue.iter().take_while(|d| groupable(d)).count();
        if untried <= STORM {
            return Ok(queue);
        }
        let (storm, rest): (Vec<_>, Vec<_>) = queue
            .into_iter()
            .enumerate()
            .partition(|(i, _)| *i < untried);
        let storm: Vec<Delivery> = storm.into_iter().map(|(_, d)| d).collect();
        let grouped = NewDelivery {
            id: format!("{}.group{}", storm[0].id, storm.len()),
            notifier: name.to_owned(),
            events: storm
                .iter()
                .flat_map(|d| d.events.iter().cloned())
                .collect(),
        };
        let replaced: Vec<String> = storm.iter().map(|d| d.id.clone()).collect();
        self.store.group_deliveries(&grouped, &replaced).await?;
        tracing::info!(notifier = %name, messages = storm.len(), "alert storm: grouped into one message");
        let mut queue = vec![Delivery {
            id: grouped.id,
            notifier: grouped.notifier,
            events: grouped.events,
            subscriber: None,
            attempts: 0,
            created_ms: storm[0].created_ms,
            next_attempt_ms: storm[0].next_attempt_ms,
        }];
        queue.extend(rest.into_iter().map(|(_, d)| d));
        Ok(queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_ten_minutes_with_bounded_jitter() {
        for attempts in 1..40 {
            let delay = backoff(attempts, "d1");
            let base = FIRST_RETRY
                .saturating_mul(1 << (attempts - 1).min(20))
                .min(MAX_RETRY);
            assert!(
                delay >= base.mul_f64(0.8) && delay <= base.mul_f64(1.2).min(MAX_RETRY),
                "{attempts}: {delay:?}"
            );
        }
        assert_eq!(backoff(3, "x"), backoff(3, "x"), "reproducible");
        assert_ne!(
            backoff(3, "x"),
            backoff(3, "y"),
            "spread between deliveries"
        );
        assert!(backoff(30, "x") <= MAX_RETRY);
    }

    #[test]
    fn only_retryable_failures_within_a_day_are_retried() {
        let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let soon = created + Duration::from_secs(60);
        let late = created + GIVE_UP_AFTER;
        let retry = DeliveryError::retry("503");
        let permanent = DeliveryError::permanent("400");
        assert!(
            matches!(after_failure(&retry, 1, "d", created, soon), AfterFailure::RetryAt(t) if t > soon)
        );
        assert_eq!(
            after_failure(&permanent, 1, "d", created, soon),
            AfterFailure::GiveUp
        );
        assert_eq!(
            after_failure(&retry, 30, "d", created, late),
            AfterFailure::GiveUp
        );
    }
}
