//! Access tokens (§5.5) against the simulator: stable_token fetch and caching, single-flight
//! refresh, compare-and-refresh on 40001/40014/42001 (T1), no refresh on 48001 (T2).

#![cfg(feature = "wechat")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{rig, rig_with};
use switchboard_channels::wechat::token::{AccessToken, TokenStoreError};
use switchboard_channels::wechat::{MemoryTokenStore, TokenStore};
use switchboard_channels::{Channel, DeliveryAction, Outbound, UserId};
use switchboard_sim::wechat::{ApiConfig, Endpoint, PushMode};

fn text(s: &str) -> Outbound {
    Outbound::Text(s.into())
}

#[tokio::test]
async fn fetches_one_stable_token_and_reuses_it() {
    let rig = rig().await;
    let user = rig.user("oTok", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oTok");
    for _ in 0..3 {
        rig.channel.deliver(&to, &text("x")).await.unwrap();
    }
    assert_eq!(rig.sim.call_count(Endpoint::StableToken), 1);
    assert_eq!(rig.sim.call_count(Endpoint::Token), 0);
}

#[tokio::test]
async fn refreshes_single_flight_when_many_sends_start_without_a_token() {
    let rig = rig().await;
    let user = rig.user("oMany", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let channel = rig.channel.clone();
        tasks.push(tokio::spawn(async move {
            channel
                .deliver(
                    &UserId::new("oMany"),
                    &Outbound::Typing(if i % 2 == 0 {
                        switchboard_channels::TypingState::On
                    } else {
                        switchboard_channels::TypingState::Off
                    }),
                )
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(rig.sim.call_count(Endpoint::StableToken), 1);
}

#[tokio::test]
async fn refreshes_the_cached_token_before_it_expires() {
    let rig = rig().await;
    let user = rig.user("oExp", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oExp");
    rig.channel.deliver(&to, &text("a")).await.unwrap();
    // 7200 s token, 300 s margin: at +6901 s the adapter fetches again before WeChat expires it.
    rig.clock.advance(Duration::from_secs(6901));
    rig.sim.advance(Duration::from_secs(6901));
    rig.channel.deliver(&to, &text("b")).await.unwrap();
    assert_eq!(rig.sim.call_count(Endpoint::StableToken), 2);
    let tokens: Vec<_> = rig
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.endpoint == Endpoint::CustomSend)
        .map(|c| c.access_token.unwrap())
        .collect();
    assert_ne!(
        tokens[0], tokens[1],
        "a token within 5 minutes of expiry was rotated"
    );
    assert!(rig.sim.calls().iter().all(|c| c.errcode == 0));
}

/// A store shared with another instance that replaces the token right after we read it.
#[derive(Debug)]
struct RacingStore {
    inner: MemoryTokenStore,
    replacement: Mutex<Option<AccessToken>>,
}

#[async_trait]
impl TokenStore for RacingStore {
    async fn load(&self) -> Result<Option<AccessToken>, TokenStoreError> {
        let seen = self.inner.load().await?;
        let replacement = self.replacement.lock().unwrap().take();
        if let Some(next) = replacement {
            let expected = seen.as_ref().map(|t| t.value.clone());
            assert!(
                self.inner
                    .compare_and_swap(expected.as_deref(), next)
                    .await?
            );
        }
        Ok(seen)
    }

    async fn compare_and_swap(
        &self,
        expected: Option<&str>,
        new: AccessToken,
    ) -> Result<bool, TokenStoreError> {
        self.inner.compare_and_swap(expected, new).await
    }
}

#[tokio::test]
async fn t1_retries_with_the_token_another_instance_stored_without_refreshing() {
    let store = Arc::new(RacingStore {
        inner: MemoryTokenStore::default(),
        replacement: Mutex::new(None),
    });
    let rig = rig_with(
        ApiConfig::new(common::APP_ID, common::APP_SECRET),
        store.clone(),
    )
    .await;
    let user = rig.user("oT1", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oT1");
    rig.channel.deliver(&to, &text("first")).await.unwrap();
    assert_eq!(rig.sim.call_count(Endpoint::StableToken), 1);

    // Another instance force-refreshes: T is dead, T' is stored just after our next read of T.
    let t_prime = rig.sim.force_refresh();
    let now = rig.sim.now();
    *store.replacement.lock().unwrap() = Some(AccessToken::new(
        t_prime.clone(),
        now,
        7200,
        Duration::from_secs(300),
    ));
    rig.channel.deliver(&to, &text("second")).await.unwrap();

    assert_eq!(
        rig.sim.call_count(Endpoint::StableToken),
        1,
        "no refresh call"
    );
    let sends: Vec<_> = rig
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.endpoint == Endpoint::CustomSend)
        .collect();
    assert_eq!(sends.len(), 3);
    assert_eq!(sends[1].errcode, 40001);
    assert_eq!(sends[2].access_token.as_deref(), Some(t_prime.as_str()));
    assert_eq!(sends[2].errcode, 0);
    assert_eq!(rig.sim.sent_texts("oT1"), ["first", "second"]);
}

#[tokio::test]
async fn refreshes_and_retries_once_when_the_stored_token_itself_was_rejected() {
    let rig = rig().await;
    let user = rig.user("oT1b", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oT1b");
    rig.channel.deliver(&to, &text("a")).await.unwrap();
    rig.sim.force_refresh();
    rig.channel.deliver(&to, &text("b")).await.unwrap();
    assert_eq!(rig.sim.call_count(Endpoint::StableToken), 2);

    rig.sim.expire_tokens();
    rig.channel.deliver(&to, &text("c")).await.unwrap();
    assert_eq!(rig.sim.call_count(Endpoint::StableToken), 3);
    let codes: Vec<i64> = rig
        .sim
        .calls()
        .iter()
        .filter(|c| c.endpoint == Endpoint::CustomSend)
        .map(|c| c.errcode)
        .collect();
    assert_eq!(codes, [0, 40001, 0, 42001, 0]);
}

#[tokio::test]
async fn alerts_operators_when_a_fresh_token_is_rejected_too() {
    let rig = rig().await;
    let user = rig.user("oBadSecret", PushMode::Safe);
    rig.user_writes(&user, "hi");
    rig.sim.inject(Endpoint::CustomSend, 40014);
    rig.sim.inject(Endpoint::CustomSend, 40001);
    let err = rig
        .channel
        .deliver(&UserId::new("oBadSecret"), &text("x"))
        .await
        .unwrap_err();
    assert_eq!(err.action(), DeliveryAction::AlertOperators, "{err:?}");
    assert_eq!(
        rig.sim.call_count(Endpoint::CustomSend),
        2,
        "retried exactly once"
    );
}

#[tokio::test]
async fn t2_does_not_refresh_the_token_on_48001() {
    let rig = rig().await;
    let user = rig.user("oT2", PushMode::Safe);
    rig.user_writes(&user, "hi");
    let to = UserId::new("oT2");
    rig.channel.deliver(&to, &text("a")).await.unwrap();
    rig.sim.inject(Endpoint::CustomSend, 48001);
    let err = rig.channel.deliver(&to, &text("b")).await.unwrap_err();
    assert_eq!(err.action(), DeliveryAction::AlertOperators);
    assert!(err.to_string().contains("48001"), "{err}");
    assert_eq!(rig.sim.call_count(Endpoint::StableToken), 1);
    assert_eq!(rig.sim.call_count(Endpoint::CustomSend), 2);
}

#[tokio::test]
async fn reports_a_wrong_app_secret_as_misconfiguration() {
    let store = Arc::new(MemoryTokenStore::default());
    let rig = rig_with(ApiConfig::new(common::APP_ID, "another-secret"), store).await;
    let err = rig
        .channel
        .deliver(&UserId::new("o"), &text("x"))
        .await
        .unwrap_err();
    assert_eq!(err.action(), DeliveryAction::AlertOperators, "{err:?}");
    assert!(err.to_string().contains("40125"), "{err}");
    assert_eq!(rig.sim.call_count(Endpoint::CustomSend), 0);
}

#[test]
fn never_shows_a_token_value_in_debug_output() {
    let t = AccessToken::new("SECRET-TOKEN".into(), 0, 7200, Duration::from_secs(300));
    assert!(!format!("{t:?}").contains("SECRET-TOKEN"));
    assert_eq!(t.refresh_at, 6900);
    let short = AccessToken::new("x".into(), 0, 300, Duration::from_secs(300));
    assert_eq!(
        short.refresh_at, 150,
        "a short-lived token is still used for half its life"
    );
}
