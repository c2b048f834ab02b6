//! Turning a queued notice into a mail for one subscriber, at the moment
//! it is sent: the address is read from the subscriber's row (gone once
//! they unsubscribed), and the confirm and unsubscribe links are signed
//! with the store's key, so any node of a cluster makes and checks them.

use std::time::{Duration, SystemTime};

use tokio::sync::OnceCell;

use super::PersonalMail;
use super::format::{NoticeLinks, notice_mail};
use crate::incident::Notice;
use crate::live::Live;
use crate::store::incidents::SubscriberNotice;
use crate::store::subscribers::LINKS_KEY;
use crate::store::{Store, StoreError};
use crate::token::{Purpose, sign};

/// How long a confirmation link works (contract section 8).
pub const CONFIRM_FOR: Duration = Duration::from_secs(48 * 3600);

/// Where the pages' links lead: `/subscribe/confirm?token=…`.
pub const CONFIRM_PATH: &str = "/subscribe/confirm";
/// And `/unsubscribe?token=…`.
pub const UNSUBSCRIBE_PATH: &str = "/unsubscribe";

/// What to do with a subscriber's queued notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// Send this.
    Mail(Box<PersonalMail>),
    /// Send nothing, for good, for this reason (no address in it).
    Drop(&'static str),
}

/// Prepares subscribers' mail from the current config and the store.
pub struct SubscriberMail {
    store: Store,
    live: Live,
    key: OnceCell<Vec<u8>>,
}

impl SubscriberMail {
    /// Mail for the subscribers of `live`'s pages, from `store`.
    pub fn new(store: Store, live: Live) -> Self {
        Self {
            store,
            live,
            key: OnceCell::new(),
        }
    }

    /// The key that signs the links, read once.
    async fn key(&self) -> Result<&[u8], StoreError> {
        self.key
            .get_or_try_init(|| self.store.signing_key(LINKS_KEY))
            .await
            .map(Vec::as_slice)
    }

    /// The mail for `queued` at `now`, or why none goes.
    pub async fn prepare(
        &self,
        queued: &SubscriberNotice,
        now: SystemTime,
    ) -> Result<Prepared, StoreError> {
        let Some(subscriber) = self.store.subscriber(queued.subscriber).await? else {
            return Ok(Prepared::Drop("the subscriber unsubscribed"));
        };
        if !subscriber.confirmed && queued.notice != Notice::Confirm {
            return Ok(Prepared::Drop("the subscriber never confirmed"));
        }
        let setup = self.live.setup();
        let config = &setup.config.config;
        let Some(base) = config.server.public_url.as_deref() else {
            return Ok(Prepared::Drop("server.public_url is no longer set"));
        };
        let Some(page) = config.page(&subscriber.page).filter(|p| !p.private) else {
            return Ok(Prepared::Drop("the page is gone or private now"));
        };
        let base = base.trim_end_matches('/');
        let key = self.key().await?;
        let link = |path: &str, token: String| format!("{base}{path}?token={token}");
        let expires = now + CONFIRM_FOR;
        let expires_s = expires
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let confirm = (queued.notice == Notice::Confirm).then(|| {
            let token = sign(key, Purpose::Confirm, subscriber.id, Some(expires_s));
            link(CONFIRM_PATH, token)
        });
        let unsubscribe = link(
            UNSUBSCRIBE_PATH,
            sign(key, Purpose::Unsubscribe, subscriber.id, None),
        );
        let links = NoticeLinks {
            page: format!("{base}{}", page.path()),
            confirm,
            unsubscribe: unsubscribe.clone(),
        };
        let site = config.server.title.as_deref().unwrap_or("hopwatch");
        let content = notice_mail(&queued.notice, page.title_or(site), &links);
        Ok(Prepared::Mail(Box::new(PersonalMail {
            to: subscriber.email,
            content,
            unsubscribe,
        })))
    }
}
