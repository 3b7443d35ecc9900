//! Sessions outlive the process: after an abrupt stop the engine resumes polling with the same
//! session key and `ack`, sends no new ChasitorInit, and loses or repeats no agent event.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use switchboard_core::liveagent::Resource;
use switchboard_core::liveagent::headers::SESSION_KEY;
use switchboard_core::session::VisitorAction;
use switchboard_engine::{ChatId, Engine, EngineError, SledStore, Store, StoreError};
use switchboard_tests::{
    PATIENCE, Rig, agent_joined, agent_texts, live_agent_events, visitor, wait_for_events,
};

fn count(rig: &Rig, resource: Resource) -> usize {
    rig.sim
        .control()
        .recorded()
        .iter()
        .filter(|r| r.request.resource == resource)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_the_engine_is_dropped_without_shutdown() {
    let rig = Rig::start().await;
    let chat = ChatId("dropped".into());
    let config = rig.engine_config();
    let control = rig.sim.control();
    let session_id;
    {
        // The first engine runs on its own runtime, which is then torn down mid-flight.
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (chat2, config2) = (chat.clone(), config.clone());
        let engine = runtime
            .spawn(async move {
                let engine = Engine::open(config2).await.unwrap();
                engine.start_chat(chat2, visitor("Dropped")).await.unwrap();
                engine
            })
            .await
            .unwrap();
        let waiting = control.wait_for_waiting_chat(PATIENCE).await.unwrap();
        session_id = waiting.session_id.clone();
        control.accept(&session_id, "Andy L.").unwrap();
        control.send_text(&session_id, "before the crash").unwrap();
        let engine2 = engine.clone();
        let chat2 = chat.clone();
        runtime
            .spawn(async move { wait_for_events(&engine2, &chat2, |e| agent_texts(e).len() == 1).await })
            .await
            .unwrap();
        drop(engine);
        // Tear the runtime down with its tasks mid-flight (no Engine::shutdown).
        tokio::task::spawn_blocking(move || runtime.shutdown_timeout(Duration::from_secs(5)))
            .await
            .unwrap();
    }
    control.send_text(&session_id, "while it was down").unwrap();
    let key = control.session(&session_id).unwrap().key;

    let engine = Engine::open(config).await.unwrap();
    let events = wait_for_events(&engine, &chat, |e| agent_texts(e).len() == 2).await;
    assert_eq!(
        agent_texts(&events),
        vec!["before the crash", "while it was down"]
    );
    assert!(agent_joined(&events));
    engine
        .visitor(&chat, VisitorAction::Text("after the restart".into()))
        .await
        .unwrap();
    control
        .wait_for_session(&session_id, PATIENCE, |s| {
            s.visitor_texts == ["after the restart"]
        })
        .await
        .unwrap();
    assert_eq!(count(&rig, Resource::SessionId), 1, "no new session");
    assert_eq!(
        count(&rig, Resource::ChasitorInit),
        1,
        "no new chat request"
    );
    let polls_after: Vec<_> = control
        .recorded()
        .into_iter()
        .filter(|r| r.request.resource == Resource::Messages)
        .collect();
    assert!(
        polls_after
            .iter()
            .all(|r| r.request.header_value(SESSION_KEY) == Some(key.as_str()))
    );
    engine.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_engines_on_one_store_refuse_to_run() {
    let rig = Rig::start().await;
    let first = rig.engine().await;
    match Engine::open(rig.engine_config()).await {
        Err(EngineError::Store(StoreError::Locked(_))) => {}
        other => panic!("expected the store lock to refuse, got {other:?}"),
    }
    first.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_resumes_with_the_same_session_and_ack() {
    let rig = Rig::start().await;
    let control = rig.sim.control();
    let child = |start: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_engine-child"));
        command
            .arg(rig.dir.path())
            .arg(rig.sim.base_url())
            .arg("killed")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if start {
            command.arg("start");
        }
        let mut process = command.spawn().expect("child starts");
        let mut ready = String::new();
        BufReader::new(process.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready");
        process
    };

    let mut first = child(true);
    let waiting = control.wait_for_waiting_chat(PATIENCE).await.unwrap();
    let id = waiting.session_id.clone();
    control.accept(&id, "Andy L.").unwrap();
    for text in ["one", "two", "three"] {
        control.send_text(&id, text).unwrap();
    }
    // Wait until the child acknowledged all three (its ack moved past them).
    let acked = |rig: &Rig| {
        rig.sim
            .control()
            .recorded()
            .iter()
            .filter(|r| r.request.resource == Resource::Messages)
            .filter_map(|r| {
                r.request
                    .query
                    .iter()
                    .find(|(k, _)| k == "ack")
                    .and_then(|(_, v)| v.parse::<i64>().ok())
            })
            .max()
            .unwrap_or(-1)
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while acked(&rig) < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the child never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    let ack_at_kill = acked(&rig);
    control.send_text(&id, "four").unwrap();

    let mut second = child(false);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while acked(&rig) <= ack_at_kill {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted child never polled on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(second.stdin.take());
    assert!(second.wait().unwrap().success());

    assert_eq!(count(&rig, Resource::SessionId), 1);
    assert_eq!(count(&rig, Resource::ChasitorInit), 1);
    let first_resumed_poll = control
        .recorded()
        .into_iter()
        .filter(|r| r.request.resource == Resource::Messages)
        .map(|r| {
            r.request
                .query
                .iter()
                .find(|(k, _)| k == "ack")
                .map(|(_, v)| v.clone())
        })
        .collect::<Vec<_>>();
    assert!(
        first_resumed_poll
            .iter()
            .flatten()
            .any(|ack| ack.parse::<i64>().ok() == Some(ack_at_kill))
    );

    let store = SledStore::open(rig.dir.path()).unwrap();
    let texts = agent_texts(&live_agent_events(
        store.outbox(&ChatId("killed".into())).unwrap(),
    ));
    assert_eq!(
        texts,
        vec!["one", "two", "three", "four"],
        "nothing lost or repeated"
    );
}
