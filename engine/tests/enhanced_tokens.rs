//! Enhanced Chat access tokens expiring mid-chat, through the gateway in-process against the
//! Enhanced Chat and WeChat simulators. A verified user's token (the gateway signs the identity
//! token) is renewed for the same end user and the chat goes on; an anonymous chat cannot renew
//! without becoming someone else, so it ends and the user is told.

mod support;

use std::time::Duration;

use base64::Engine as _;
use support::desk::{Desk, DeskKind};
use support::{
    ADMIN_TOKEN, AES_KEY, APP_ID, APP_SECRET, TOKEN, eventually, push_text, received_lines,
};
use switchboard_core::model::enhanced::identity::{TEST_ISSUER, TEST_PRIVATE_KEY_PKCS8};
use switchboard_engine::app::App;
use switchboard_engine::simulated;
use switchboard_sim::wechat::WeChatApiSim;
use switchboard_sim::wechat::state::ApiConfig;

struct Rig {
    desk: Desk,
    wechat: WeChatApiSim,
    app: App,
    webhook: String,
    _dir: tempfile::TempDir,
}

async fn rig(verified: bool) -> Rig {
    let desk = Desk::start(DeskKind::EnhancedChat).await;
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut simulated = desk.simulated(&wechat, dir.path().join("data"));
    if verified && let Some(ec) = &mut simulated.enhanced_chat {
        ec.identity_issuer = Some(TEST_ISSUER.into());
    }
    let config = simulated.config().expect("configuration");
    let mut secrets = simulated::secrets(ADMIN_TOKEN, APP_SECRET, TOKEN, AES_KEY);
    secrets.insert(
        simulated::IDENTITY_KEY_ENV.into(),
        base64::engine::general_purpose::STANDARD.encode(TEST_PRIVATE_KEY_PKCS8),
    );
    let app = App::start(&config, &secrets).await.expect("gateway starts");
    let webhook = format!("http://{}/channels/wechat", app.public_addr());
    Rig {
        desk,
        wechat,
        app,
        webhook,
        _dir: dir,
    }
}

/// One user chatting with an accepted agent; the conversation's id.
async fn chatting(rig: &Rig, user: &switchboard_sim::wechat::WeChatUser) -> String {
    push_text(user, &rig.webhook, "hello").await;
    rig.desk.accept_all(1).await;
    let chat = rig.desk.chat_of(user.openid());
    rig.desk.send_text(&chat, "first reply");
    eventually("the first reply on the phone", || {
        received_lines(&rig.wechat, user.openid())
            .contains(&"first reply".to_owned())
            .then_some(())
    })
    .await;
    chat
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_users_expired_token_is_renewed_and_the_chat_goes_on() {
    let rig = rig(true).await;
    let user = &support::users(&rig.wechat, 1)[0];
    let chat = chatting(&rig, user).await;
    let agent = rig.desk.enhanced.as_ref().unwrap().agent();
    let subject = agent.conversation(&chat).unwrap().subject;
    assert!(
        subject.starts_with("v2/iamessage/AUTH/"),
        "a verified end user: {subject}"
    );
    assert!(
        !subject.contains(user.openid()),
        "the OpenID is not sent in clear"
    );

    assert!(
        agent.expire_subject(&subject) > 0,
        "the token expires at Salesforce"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    push_text(user, &rig.webhook, "still there?").await;
    eventually("the text after the expiry at the agent", || {
        (rig.desk.visitor_texts(&chat).last().map(String::as_str) == Some("still there?"))
            .then_some(())
    })
    .await;
    rig.desk.send_text(&chat, "yes");
    eventually("the reply after the expiry on the phone", || {
        received_lines(&rig.wechat, user.openid())
            .contains(&"yes".to_owned())
            .then_some(())
    })
    .await;
    assert_eq!(rig.desk.visitor_texts(&chat), ["hello", "still there?"]);
    assert_eq!(rig.desk.chats_of(user.openid()), 1, "the same conversation");
    let renewals = agent
        .recorded()
        .iter()
        .filter(|r| {
            r.request
                .path
                .ends_with("/authorization/authenticated/access-token")
        })
        .count();
    assert_eq!(renewals, 2, "the first token and one renewal");
    rig.app.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_chat_whose_token_expired_ends_and_the_user_is_told() {
    let rig = rig(false).await;
    let user = &support::users(&rig.wechat, 1)[0];
    let chat = chatting(&rig, user).await;
    let agent = rig.desk.enhanced.as_ref().unwrap().agent();
    let subject = agent.conversation(&chat).unwrap().subject;
    assert!(subject.starts_with("v2/iamessage/ANON/"), "{subject}");

    assert!(agent.expire_subject(&subject) > 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    push_text(user, &rig.webhook, "still there?").await;
    eventually("the expiry notice on the phone", || {
        received_lines(&rig.wechat, user.openid())
            .iter()
            .any(|l| l.contains("timed out"))
            .then_some(())
    })
    .await;
    assert_eq!(
        rig.desk.visitor_texts(&chat),
        ["hello"],
        "nothing reached the expired conversation"
    );
    rig.app.shutdown().await.unwrap();
}
