//! What an operator reads: the shipped binary at its default level (`info`) with standard error
//! going to a file, through one whole chat. The file has no terminal escape codes, shows every
//! lifecycle step of the chat with its conversation id, and holds no message text, session
//! key, access token or configured secret. The same holds for `format = "json"`, one object
//! per line.

mod support;

use std::process::Stdio;

use support::{eventually, push_text, received_lines, start_gateway_with, users};
use switchboard_engine::simulated::Simulated;
use switchboard_sim::wechat::state::Endpoint;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_logs_show_each_chat_step_in_plain_lines_without_text_or_secrets() {
    whole_chat_logged("", " INFO ").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_same_steps() {
    let text = whole_chat_logged("\n[log]\nformat = \"json\"\n", r#""level":"INFO""#).await;
    for line in text.lines() {
        let object: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        assert!(object["level"].is_string(), "a level on every line: {line}");
    }
}

/// The lifecycle steps one whole chat logs at `info`.
const STEPS: [&str; 6] = [
    "chat requested",
    "chat queued",
    "agent joined",
    "chat transferred",
    "delivery given up",
    "chat ended",
];

/// Runs one chat through the binary at its default level, with `extra` appended to the
/// configuration, and returns standard error after checking what holds in every format: no
/// escape byte, each step on a line marked `info` (as the format writes it) naming the
/// conversation, one queue line, the give-up's error code, the end's reason, and no text, key,
/// token or secret.
async fn whole_chat_logged(extra: &str, info: &str) -> String {
    let (live_agent, wechat) = support::simulators().await;
    let control = live_agent.control();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("switchboard.toml");
    let config = Simulated::new(
        &live_agent,
        &wechat,
        support::APP_ID,
        dir.path().join("data"),
    );
    std::fs::write(&config_path, config.toml() + extra).unwrap();
    let log_path = dir.path().join("switchboard.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let gateway = start_gateway_with(&config_path, |command| {
        command.env_remove("RUST_LOG").stderr(Stdio::from(log_file));
    });
    let log = || std::fs::read(&log_path).unwrap();
    let user = users(&wechat, 1).remove(0);
    let conversation = format!("wechat:{}", user.openid());

    push_text(&user, &gateway.webhook, "hello, my order 4411 is late").await;
    let waiting = eventually("a waiting chat", || control.waiting().pop()).await;
    // The queue moves twice before an agent takes the chat: one `chat queued` line, not three.
    control.queue_update(&waiting.session_id, 2).unwrap();
    control.queue_update(&waiting.session_id, 1).unwrap();
    control.accept(&waiting.session_id, "Andy").unwrap();
    control
        .send_text(&waiting.session_id, "let me check order 4411 for you")
        .unwrap();
    eventually("the reply on the phone", || {
        received_lines(&wechat, user.openid())
            .iter()
            .any(|l| l.contains("let me check"))
            .then_some(())
    })
    .await;
    control.transfer(&waiting.session_id, "Bea").unwrap();
    eventually("the transfer in the log", || {
        String::from_utf8_lossy(&log())
            .contains("chat transferred")
            .then_some(())
    })
    .await;
    push_text(&user, &gateway.webhook, "my phone is 555-0199").await;
    // (The gateway may tell the agent about the user's window first: wait for the text itself.)
    eventually("the text at the agent", || {
        let texts = control.session(&waiting.session_id)?.visitor_texts;
        texts
            .iter()
            .any(|t| t == "my phone is 555-0199")
            .then_some(())
    })
    .await;
    // WeChat refuses the next send for good (the window's quota is used up).
    wechat.inject(Endpoint::CustomSend, 45047);
    control
        .send_text(&waiting.session_id, "your parcel arrives tomorrow")
        .unwrap();
    eventually("the delivery given up", || {
        String::from_utf8_lossy(&log())
            .contains("delivery given up")
            .then_some(())
    })
    .await;
    push_text(&user, &gateway.webhook, "end").await;
    eventually("the end of the chat in the log", || {
        String::from_utf8_lossy(&log())
            .contains("chat ended")
            .then_some(())
    })
    .await;
    let session = control.session(&waiting.session_id).unwrap();
    drop(gateway);

    let bytes = log();
    assert!(
        !bytes.contains(&0x1b),
        "no terminal escape codes in a log file"
    );
    let text = String::from_utf8(bytes).expect("the log is UTF-8");
    for step in STEPS {
        let line = text
            .lines()
            .find(|l| l.contains(step))
            .unwrap_or_else(|| panic!("no {step:?} line in\n{text}"));
        assert!(line.contains(info), "{step} is logged at info: {line}");
        assert!(
            line.contains(&conversation),
            "{step} names the conversation: {line}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.contains("delivery given up") && l.contains("45047")),
        "the give-up line carries the channel's error code"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("chat queued")).count(),
        1,
        "the queue is logged once per wait, not at every move:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("chat ended") && l.contains("ended by visitor")),
        "the end line says who ended the chat:\n{text}"
    );
    let access_tokens: Vec<String> = wechat
        .calls()
        .into_iter()
        .filter_map(|c| c.access_token)
        .collect();
    assert!(!access_tokens.is_empty());
    let secrets = [
        "order 4411",
        "555-0199",
        "parcel arrives",
        &session.key,
        support::APP_SECRET,
        support::TOKEN,
        support::AES_KEY,
        support::ADMIN_TOKEN,
    ];
    for secret in secrets
        .iter()
        .copied()
        .chain(access_tokens.iter().map(String::as_str))
    {
        assert!(
            !text.contains(secret),
            "{secret:?} must not be logged at info:\n{text}"
        );
    }
    text
}
