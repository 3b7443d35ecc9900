//! The push log beside the embedded store (in-process `App`, both simulators): a push is safe
//! once it is in the log, before its conversation has taken it in.
//! - A push a previous run logged, and died before taking in, reaches the agent once after the
//!   restart; WeChat's retry of it is then a repeat; and the log lets it go.
//! - When the disk refuses the log's writes, the webhook answers 503 so that WeChat retries, and
//!   the retry that finds the disk writable again is taken in once.

mod support;

use std::path::Path;

use support::{InProcess, accept_all, eventually, push_text, session_of, users};
use switchboard_core::conversation::UserMessage;
use switchboard_engine::app::PUSH_LOG_DIR;
use switchboard_engine::bridge::ForwardedPush;
use switchboard_engine::store::push_log::PushLog;
use switchboard_engine::store::{WebhookKey, envelope};

fn visitor_texts(control: &switchboard_sim::liveagent::AgentControl, chat: &str) -> Vec<String> {
    control
        .session(chat)
        .map(|s| s.visitor_texts)
        .unwrap_or_default()
}

fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(PUSH_LOG_DIR))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_logged_by_a_run_that_died_before_taking_it_in_reaches_the_agent_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    // What the previous run left: the user's first push, durable in the log (so WeChat heard
    // "success"), not yet in the store.
    let first_msg_id = 1_000_000;
    {
        let (log, recovered) = PushLog::open(&dir.path().join(PUSH_LOG_DIR)).unwrap();
        assert!(recovered.is_empty());
        let push = ForwardedPush {
            channel: "wechat".into(),
            user: "oUser00".into(),
            name: None,
            message: Some(UserMessage::Text("logged before the crash".into())),
            key: WebhookKey::of(
                "wechat",
                &format!("wechat/msg/gh_test/oUser00/{first_msg_id}"),
            ),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        log.append(
            envelope::encode(&push).unwrap(),
            Box::new(move |r| drop(tx.send(r.map(drop)))),
        );
        rx.await.unwrap().expect("logged");
        log.close().await;
    }
    assert_eq!(segments(dir.path()).len(), 1);

    let rig = InProcess::start_in(dir, "").await;
    let control = rig.live_agent.control();
    accept_all(&control, 1).await;
    let user = users(&rig.wechat, 1).remove(0);
    let chat = session_of(&control, user.openid());
    eventually("the logged text at the agent", || {
        visitor_texts(&control, &chat)
            .contains(&"logged before the crash".to_owned())
            .then_some(())
    })
    .await;
    // WeChat retries the push it had no answer for (the same MsgId), then the user writes on.
    let retry = user.text("logged before the crash");
    let answer = retry.send_to(&rig.webhook).await.expect("answered");
    assert_eq!(answer.status, 200);
    push_text(&user, &rig.webhook, "and after").await;
    let texts = eventually("the next text at the agent", || {
        let texts = visitor_texts(&control, &chat);
        texts.contains(&"and after".to_owned()).then_some(texts)
    })
    .await;
    assert_eq!(
        texts,
        vec!["logged before the crash".to_owned(), "and after".to_owned()],
        "each once, in order"
    );
    // The recovered segment goes once its push is stored; the new run's own stays active.
    eventually("the old segment pruned", || {
        let names = segments(rig.dir.path());
        (!names.contains(&"00000000000000000001.log".to_owned())).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_refusing_the_logs_writes_gets_503_and_the_retry_is_taken_in_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The first two segments the log will make are /dev/full: every write to them fails
    // (ENOSPC), as on a full disk.
    let log_dir = dir.path().join(PUSH_LOG_DIR);
    std::fs::create_dir_all(&log_dir).unwrap();
    for id in 1..=2 {
        std::os::unix::fs::symlink("/dev/full", log_dir.join(format!("{id:020}.log"))).unwrap();
    }
    let rig = InProcess::start_in(dir, "").await;
    let control = rig.live_agent.control();
    let user = users(&rig.wechat, 1).remove(0);
    let push = user.text("written on a full disk");
    for attempt in 1..=2 {
        let answer = push.send_to(&rig.webhook).await.expect("answered");
        assert_eq!(answer.status, 503, "attempt {attempt}: retry later");
    }
    assert!(control.waiting().is_empty(), "nothing was taken in");
    let answer = push.send_to(&rig.webhook).await.expect("answered");
    assert_eq!(answer.status, 200, "the disk takes writes again");
    accept_all(&control, 1).await;
    let chat = session_of(&control, user.openid());
    push_text(&user, &rig.webhook, "and after").await;
    let texts = eventually("both texts at the agent", || {
        let texts = visitor_texts(&control, &chat);
        texts.contains(&"and after".to_owned()).then_some(texts)
    })
    .await;
    assert_eq!(
        texts,
        vec!["written on a full disk".to_owned(), "and after".to_owned()]
    );
}
