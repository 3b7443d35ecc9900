//! Access tokens (§5.5): fetched with `cgi-bin/stable_token`, cached in a [`TokenStore`] with an
//! expiry margin, refreshed single-flight, and replaced after 40001/40014/42001 only if the store
//! still holds the token that failed (compare-and-refresh), so that several instances sharing a
//! store never refresh over each other.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use serde::Deserialize;

use crate::delivery::DeliveryError;

use super::api::ApiClient;
use super::clock::Clock;
use super::errcode::{classify, errcode_of, from_api_error, from_http_status};
use super::secret::Secret;

/// A cached access token. `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token.
    pub value: String,
    /// When WeChat stops accepting it (unix seconds).
    pub expires_at: u64,
    /// When to fetch a new one (unix seconds): `expires_at` minus the safety margin.
    pub refresh_at: u64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("refresh_at", &self.refresh_at)
            .finish()
    }
}

impl AccessToken {
    /// A token obtained at `now` valid for `expires_in` seconds, to be refreshed `margin` early
    /// (at most half its lifetime early, so a short-lived token is still used).
    pub fn new(value: String, now: u64, expires_in: u64, margin: Duration) -> Self {
        let margin = margin.as_secs().min(expires_in / 2);
        Self {
            value,
            expires_at: now.saturating_add(expires_in),
            refresh_at: now.saturating_add(expires_in - margin),
        }
    }

    /// Whether it may still be used at `now` without refreshing.
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.refresh_at
    }
}

/// A token store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token store: {0}")]
pub struct TokenStoreError(pub String);

/// Where the account's one access token lives; shared by every instance of the bridge.
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored token, if any.
    async fn load(&self) -> Result<Option<AccessToken>, TokenStoreError>;

    /// Stores `new` only if the stored token's value is `expected` (`None`: nothing stored).
    /// Returns whether it was stored.
    async fn compare_and_swap(
        &self,
        expected: Option<&str>,
        new: AccessToken,
    ) -> Result<bool, TokenStoreError>;
}

/// A [`TokenStore`] in process memory.
#[derive(Debug, Default)]
pub struct MemoryTokenStore {
    slot: Mutex<Option<AccessToken>>,
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self) -> Result<Option<AccessToken>, TokenStoreError> {
        Ok(self.slot.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    async fn compare_and_swap(
        &self,
        expected: Option<&str>,
        new: AccessToken,
    ) -> Result<bool, TokenStoreError> {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().map(|t| t.value.as_str()) != expected {
            return Ok(false);
        }
        *slot = Some(new);
        Ok(true)
    }
}

/// Fetches a new token from WeChat.
#[async_trait]
pub trait TokenFetcher: Send + Sync + fmt::Debug {
    /// Fetches a token; `now` is when the fetch started.
    async fn fetch(&self, now: u64) -> Result<AccessToken, DeliveryError>;
}

/// Fetches tokens with `POST /cgi-bin/stable_token` in normal mode (`force_refresh: false`).
#[derive(Debug)]
pub struct StableTokenFetcher {
    api: ApiClient,
    app_id: String,
    app_secret: Secret,
    margin: Duration,
}

impl StableTokenFetcher {
    /// A fetcher for one account.
    pub fn new(api: ApiClient, app_id: String, app_secret: Secret, margin: Duration) -> Self {
        Self {
            api,
            app_id,
            app_secret,
            margin,
        }
    }
}

#[derive(Deserialize)]
struct StableTokenReply {
    access_token: String,
    expires_in: u64,
}

#[async_trait]
impl TokenFetcher for StableTokenFetcher {
    async fn fetch(&self, now: u64) -> Result<AccessToken, DeliveryError> {
        let body = serde_json::json!({
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.app_secret.expose(),
            "force_refresh": false,
        });
        let url = self.api.url("/cgi-bin/stable_token", &[]);
        let response = self
            .api
            .request(
                Method::POST,
                &url,
                Some("application/json"),
                Bytes::from(body.to_string()),
            )
            .await
            .map_err(|e| from_api_error(&e))?;
        if let Some(e) = from_http_status(&response) {
            return Err(e);
        }
        if let Some(err) = errcode_of(&response) {
            // A token error here means the AppSecret itself is wrong: never loop on it.
            return Err(match classify(err.errcode, &err.errmsg) {
                DeliveryError::RefreshCredentials { detail } => {
                    DeliveryError::Misconfigured { detail }
                }
                other => other,
            });
        }
        let reply: StableTokenReply =
            serde_json::from_slice(&response.body).map_err(|e| DeliveryError::RetryLater {
                after: None,
                detail: format!("unreadable stable_token answer: {e}"),
            })?;
        Ok(AccessToken::new(
            reply.access_token,
            now,
            reply.expires_in,
            self.margin,
        ))
    }
}

/// Hands out the current token and refreshes it under the rules above.
#[derive(Debug)]
pub struct TokenSource {
    store: Arc<dyn TokenStore>,
    fetcher: Arc<dyn TokenFetcher>,
    clock: Arc<dyn Clock>,
    refresh: tokio::sync::Mutex<()>,
}

fn store_error(e: TokenStoreError) -> DeliveryError {
    DeliveryError::RetryLater {
        after: None,
        detail: e.to_string(),
    }
}

impl TokenSource {
    /// A source reading and writing `store`, fetching with `fetcher`.
    pub fn new(
        store: Arc<dyn TokenStore>,
        fetcher: Arc<dyn TokenFetcher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            fetcher,
            clock,
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// A fresh token: the stored one if still fresh, otherwise a new one (one fetch at a time).
    pub async fn current(&self) -> Result<AccessToken, DeliveryError> {
        if let Some(t) = self.store.load().await.map_err(store_error)?
            && t.is_fresh(self.clock.now_unix())
        {
            return Ok(t);
        }
        self.refresh_unless(|stored, now| stored.is_fresh(now))
            .await
    }

    /// The API rejected `failed` (40001/40014/42001). If the store already holds another fresh
    /// token, that one is returned without fetching; otherwise a new one is fetched and stored.
    pub async fn replace(&self, failed: &str) -> Result<AccessToken, DeliveryError> {
        self.refresh_unless(|stored, now| stored.value != failed && stored.is_fresh(now))
            .await
    }

    async fn refresh_unless(
        &self,
        usable: impl Fn(&AccessToken, u64) -> bool,
    ) -> Result<AccessToken, DeliveryError> {
        let _single_flight = self.refresh.lock().await;
        let stored = self.store.load().await.map_err(store_error)?;
        let now = self.clock.now_unix();
        if let Some(t) = &stored
            && usable(t, now)
        {
            return Ok(t.clone());
        }
        let fresh = self.fetcher.fetch(now).await?;
        let expected = stored.as_ref().map(|t| t.value.as_str());
        if self
            .store
            .compare_and_swap(expected, fresh.clone())
            .await
            .map_err(store_error)?
        {
            return Ok(fresh);
        }
        // Another instance stored a token meanwhile: use theirs.
        match self.store.load().await.map_err(store_error)? {
            Some(t) => Ok(t),
            None => Ok(fresh),
        }
    }
}
