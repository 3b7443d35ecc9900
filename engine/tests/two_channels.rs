//! The shipped binary with two channels at once: five WeChat users and five Telegram users chat
//! with agents through one gateway, each conversation its own. Midway every chat's connection
//! to the desk breaks (a Live Agent failover; an Enhanced Chat stream dropped mid-frame) and
//! the process is SIGKILLed and restarted; the Telegram Bot API answers bursts of sends with
//! `429 retry_after` on top of its per-chat rate limit. Every message reaches the agent once,
//! in order, and every reply the user once, in order; the agent sees which channel each chat
//! came from, and the Telegram user's name. Neither the bot token nor the webhook secret
//! appears in the gateway's log, even at `debug`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::desk::{Desk, DeskKind};
use support::{
    APP_ID, APP_SECRET, Gateway, PATIENCE, all_push, eventually, received_lines,
    start_gateway_with, users as wechat_users,
};
use switchboard_engine::simulated;
use switchboard_sim::telegram::{BotSimConfig, TelegramBotSim, TelegramUser};
use switchboard_sim::wechat::WeChatApiSim;
use switchboard_sim::wechat::state::ApiConfig;

const WECHAT_USERS: usize = 5;
const TELEGRAM_USERS: usize = 5;
const ROUNDS: usize = 4;
const BOT_TOKEN: &str = "7000000001:AAE-two-channels-test-token_0123456";
const WEBHOOK_SECRET: &str = "two-channels_secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_and_telegram_users_chat_at_once_across_a_failover_a_kill_and_429_bursts() {
    two_channels(DeskKind::LiveAgent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_and_telegram_users_chat_at_once_on_enhanced_chat() {
    two_channels(DeskKind::EnhancedChat).await;
}

/// The binary with the Telegram bot's secrets beside the simulated ones, logging at `debug`
/// to `log` (appended to across restarts).
fn start(config: &std::path::Path, log: &std::path::Path) -> Gateway {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    start_gateway_with(config, |command| {
        command
            .env("RUST_LOG", "debug")
            .env(simulated::TELEGRAM_BOT_TOKEN_ENV, BOT_TOKEN)
            .env(simulated::TELEGRAM_SECRET_ENV, WEBHOOK_SECRET)
            .stderr(log);
    })
}

/// Points the bot's webhook at the running gateway, as `setWebhook` does.
fn register_webhook(telegram: &TelegramBotSim, gateway: &Gateway) {
    let url = gateway
        .webhook
        .replace("/channels/wechat", "/channels/telegram");
    telegram.set_webhook(&url, Some(WEBHOOK_SECRET));
}

/// Every Telegram user sends a text at once; Telegram delivers each until it is acknowledged.
async fn all_send(users: &[Arc<TelegramUser>], text: impl Fn(i64) -> String) {
    let mut sends = tokio::task::JoinSet::new();
    for user in users {
        let (user, text) = (user.clone(), text(user.chat_id()));
        sends.spawn(async move {
            let sent = tokio::time::timeout(PATIENCE, user.send_text(&text)).await;
            assert!(
                matches!(sent, Ok(Ok(_))),
                "{text:?} never acknowledged: {sent:?}"
            );
        });
    }
    while let Some(done) = sends.join_next().await {
        done.expect("send task");
    }
}

async fn two_channels(kind: DeskKind) {
    let desk = Desk::start(kind).await;
    let wechat = WeChatApiSim::start(ApiConfig::new(APP_ID, APP_SECRET))
        .await
        .unwrap();
    // Deliveries the gateway does not acknowledge (it is down) are tried again every 200 ms.
    let bot = BotSimConfig::new(BOT_TOKEN).with_webhook_retries(100, Duration::from_millis(200));
    let telegram = TelegramBotSim::start(bot).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("switchboard.toml");
    let log_path = dir.path().join("switchboard.log");
    let text = desk
        .simulated(&wechat, dir.path().join("data"))
        .with_telegram(telegram.base_url())
        .toml();
    std::fs::write(&config_path, text).unwrap();

    let mut gateway = start(&config_path, &log_path);
    register_webhook(&telegram, &gateway);
    let wechat_users = wechat_users(&wechat, WECHAT_USERS);
    let telegram_users: Vec<Arc<TelegramUser>> = (0..TELEGRAM_USERS)
        .map(|i| Arc::new(telegram.user(5_100_000_000 + i as i64, &format!("Tg{i}"))))
        .collect();
    let ids: Vec<String> = wechat_users
        .iter()
        .map(|u| u.openid().to_owned())
        .chain(telegram_users.iter().map(|u| u.chat_id().to_string()))
        .collect();

    // Everyone says hello at once, on both channels; agents accept every chat.
    tokio::join!(
        all_push(&wechat_users, &gateway.webhook, |openid| format!(
            "hello from {openid}"
        )),
        all_send(&telegram_users, |chat| format!("hello from {chat}")),
    );
    desk.accept_all(ids.len()).await;
    for (i, id) in ids.iter().enumerate() {
        let expected = if i < WECHAT_USERS {
            "WeChat"
        } else {
            "Telegram"
        };
        assert_eq!(
            desk.channel_of(id),
            expected,
            "the agent sees {id}'s channel"
        );
    }

    for round in 1..=ROUNDS {
        tokio::join!(
            all_push(&wechat_users, &gateway.webhook, |openid| format!(
                "{openid} message {round}"
            )),
            all_send(&telegram_users, |chat| format!("{chat} message {round}")),
        );
        if round == 2 {
            // The next six sends to Telegram are refused with 429, whatever the pace.
            telegram.burst_429(6, 1);
        }
        for id in &ids {
            let chat = desk.chat_of(id);
            let expected = format!("{id} message {round}");
            eventually("the visitor's text at the agent", || {
                desk.visitor_texts(&chat).contains(&expected).then_some(())
            })
            .await;
            desk.send_text(&chat, &format!("reply {round} to {id}"));
        }
        for (i, id) in ids.iter().enumerate() {
            let expected = format!("reply {round} to {id}");
            eventually("the agent's reply on the user's phone", || {
                let lines = if i < WECHAT_USERS {
                    received_lines(&wechat, id)
                } else {
                    telegram_lines(&telegram, telegram_users[i - WECHAT_USERS].chat_id())
                };
                lines.contains(&expected).then_some(())
            })
            .await;
        }
        if round == 2 {
            assert_eq!(
                desk.disrupt_all(),
                ids.len(),
                "every chat's connection breaks"
            );
        }
        if round == 3 {
            support::wait_until_idle(&gateway.admin).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            gateway.child.kill().expect("SIGKILL");
            gateway.child.wait().unwrap();
            gateway = start(&config_path, &log_path);
            register_webhook(&telegram, &gateway);
        }
    }

    for (i, id) in ids.iter().enumerate() {
        let chat = desk.chat_of(id);
        let mut expected = vec![format!("hello from {id}")];
        expected.extend((1..=ROUNDS).map(|r| format!("{id} message {r}")));
        assert_eq!(
            desk.visitor_texts(&chat),
            expected,
            "{id} to the agent, once, in order"
        );
        let lines = if i < WECHAT_USERS {
            received_lines(&wechat, id)
        } else {
            telegram_lines(&telegram, telegram_users[i - WECHAT_USERS].chat_id())
        };
        let replies: Vec<&String> = lines.iter().filter(|l| l.starts_with("reply ")).collect();
        let expected: Vec<String> = (1..=ROUNDS).map(|r| format!("reply {r} to {id}")).collect();
        assert_eq!(
            replies,
            expected.iter().collect::<Vec<_>>(),
            "{id}: once, in order"
        );
        assert_eq!(desk.chats_of(id), 1, "{id} has one chat");
    }
    let limited = telegram.rate_limited_count();
    assert!(limited >= 6, "the 429 burst was answered: {limited}");
    eprintln!("Telegram answered {limited} sends with 429; nothing was lost");
    drop(gateway);
    // The bot token rides in every Bot API URL; neither it nor the webhook secret is logged.
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("DEBUG"), "the log was written at debug");
    let (_, token_secret) = BOT_TOKEN.split_once(':').unwrap();
    for secret in [token_secret, WEBHOOK_SECRET] {
        assert!(!log.contains(secret), "{secret:?} is logged");
    }
}

/// Lines the Telegram user received (merged agent lines are split again).
fn telegram_lines(telegram: &TelegramBotSim, chat_id: i64) -> Vec<String> {
    telegram
        .sent_texts(chat_id)
        .iter()
        .flat_map(|t| t.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}
