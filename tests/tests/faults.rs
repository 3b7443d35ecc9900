//! Fault injection, one behaviour per test: the whole gateway in-process (sled on disk) between
//! a WeChat user and a Live Agent agent, both simulated over loopback HTTP, while the desk fails
//! over again and again, answers slowly, resets or black-holes connections, answers long polls
//! after `clientPollTimeout` or in bodies that do not decode, and WeChat answers `-1`, `40001`, `45015` and `45047`.
//!
//! Each test checks what reaches whom: every visitor text reaches the agent once and in order,
//! every agent line reaches the WeChat user once and in order, or — where the WeChat spec says
//! to stop (a closed window, a used-up budget, a token refused after a refresh) — the line is
//! given up, the agent is told in the documented words, and nothing is tried again in a loop.
//!
//! Connection faults come from a small HTTP proxy in front of a simulator
//! (`support/proxy.rs`): it delays, resets (TCP RST) or never answers a request, before or
//! after the simulator acted on it, and can park new connections unread (half-open). The
//! Live Agent failovers are the simulator's own (`AgentControl::failover`); the WeChat errors
//! are the simulator's injection queue, its clock, its quota and its token rotation.
//!
//! Texts are paced one user message per agent line (or fewer agent lines), so that WeChat's
//! budget of five sends per user message never binds unless a test means it to.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::proxy::{Answer, Fault, FirstN, Phase};
use support::{JOINED, Options, PATIENCE, Rig, eventually, numbered};
use switchboard_core::liveagent::Resource;
use switchboard_sim::liveagent::{DuplicatePost, Knobs};
use switchboard_sim::wechat::Endpoint;
use switchboard_sim::wechat::state::ApiConfig;

/// The gateway's words to the agent (the English templates).
const WINDOW_CLOSED: &str = "[Switchboard] The customer's reply window is closed";
const UNDELIVERED: &str = "[Switchboard] 1 message(s) did not reach the customer";
const DELIVERY_FAILED: &str = "[Switchboard] 1 message(s) could not be delivered to the customer";
/// The gateway's words to the user while the chat is requested.
const QUEUED: &str = "You are number 1 in the queue.";
/// The gateway's words to the user when it gives a chat up for an unreachable desk.
const CONNECTION_LOST: &str =
    "We lost the connection to our agents. Write again to start a new chat.";

/// Live Agent knobs with `clientPollTimeout` = 1 s: the gateway gives a poll up after 6 s
/// (`clientPollTimeout` plus its 5 s slack) instead of 45 s.
fn short_poll_timeout() -> Knobs {
    Knobs {
        client_poll_timeout_secs: 1,
        ..Knobs::default()
    }
}

/// `(X-LIVEAGENT-SEQUENCE, body)` of every ChatMessage the desk received, in order.
fn chat_message_posts(rig: &Rig) -> Vec<(Option<u32>, String)> {
    rig.control()
        .recorded()
        .into_iter()
        .filter(|r| r.request.resource == Resource::ChatMessage)
        .map(|r| {
            (
                r.request.sequence_number(),
                r.request.body.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The agent lines in a `Messages` answer.
fn agent_lines(answer: &Answer) -> Vec<String> {
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["type"] == "ChatMessage")
        .filter_map(|m| m["message"]["text"].as_str().map(str::to_owned))
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every repeat of a ChatMessage body carries the number its first sending carried.
fn assert_repeats_kept_their_number(posts: &[(Option<u32>, String)]) {
    for (i, (number, body)) in posts.iter().enumerate() {
        if let Some((first, _)) = posts[..i].iter().rev().find(|(_, b)| b == body) {
            assert_eq!(
                first, number,
                "a repeated POST keeps its X-LIVEAGENT-SEQUENCE: {posts:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Storms of 503
// ---------------------------------------------------------------------------------------------

/// Five failovers back to back. After the first, each next one is injected the moment the
/// gateway's first poll after its ReconnectSession reaches the desk (the poll that should bring
/// ChasitorSessionData), so every recovery is cut short by a new 503 until the fifth; the
/// proxy also slows each ReconnectSession answer by 200 ms so that the storm lasts while both
/// sides write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failovers_in_a_row_lose_and_repeat_no_text() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oStorm");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;
    let more = Arc::new(FirstN::new(4));
    let reconnected = Arc::new(AtomicBool::new(false));
    {
        let (more, reconnected, control, id) =
            (more.clone(), reconnected.clone(), rig.control(), id.clone());
        let proxy = rig.desk_proxy();
        let after = reconnected.clone();
        proxy.on_request(move |seen| {
            let after_reconnect =
                seen.resource() == "Messages" && reconnected.swap(false, Ordering::SeqCst);
            if after_reconnect && more.take() {
                control.failover(&id).expect("failover");
            }
            Fault::Pass
        });
        proxy.on_answer(move |seen, answer| {
            if seen.resource() == "ReconnectSession" && answer.status == 200 {
                after.store(true, Ordering::SeqCst);
                Fault::Delay(Duration::from_millis(200))
            } else {
                Fault::Pass
            }
        });
    }
    let control = rig.control();
    control.failover(&id).unwrap();
    for i in 1..=5 {
        rig.push(&user, &format!("visitor {i}")).await;
        control.send_text(&id, &format!("agent {i}")).unwrap();
    }

    rig.assert_agent_got(&id, &numbered("visitor", 0..=5)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=5))
        .await;
    assert_eq!(more.left(), 0, "the storm ran its course");
    assert_eq!(
        rig.desk_answers(Resource::ReconnectSession, Some(200)),
        5,
        "one recovery per failover"
    );
    assert!(
        rig.desk_proxy().answered("Messages", 503) >= 5,
        "each failover met a poll with 503 (the first a held one)"
    );
    assert_eq!(
        rig.desk_answers(Resource::ChasitorInit, None),
        1,
        "the chat was requested once"
    );
    rig.shutdown().await;
}

/// Bursts of 503 on POSTs: the next three ChatMessage POSTs and the next two
/// ChasitorResyncState each find the session's server restarted just as they arrive (the proxy
/// injects the failover before passing them on), so the same text is refused three times in a
/// row and two recoveries are cut short at their last step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_503_on_chat_messages_and_resync_are_recovered_without_repeats() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oBurst");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;

    let posts = Arc::new(FirstN::new(3));
    let resyncs = Arc::new(FirstN::new(2));
    {
        let (posts, resyncs, control, id) =
            (posts.clone(), resyncs.clone(), rig.control(), id.clone());
        rig.desk_proxy().on_request(move |seen| {
            let hit = match seen.resource() {
                "ChatMessage" => posts.take(),
                "ChasitorResyncState" => resyncs.take(),
                _ => false,
            };
            if hit {
                control.failover(&id).expect("failover");
            }
            Fault::Pass
        });
    }
    let control = rig.control();
    for i in 1..=4 {
        rig.push(&user, &format!("visitor {i}")).await;
        control.send_text(&id, &format!("agent {i}")).unwrap();
    }

    rig.assert_agent_got(&id, &numbered("visitor", 0..=4)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=4))
        .await;
    assert_eq!(
        (posts.left(), resyncs.left()),
        (0, 0),
        "every burst happened"
    );
    let refused: Vec<String> = rig
        .control()
        .recorded()
        .into_iter()
        .filter(|r| r.request.resource == Resource::ChatMessage && r.status == Some(503))
        .filter_map(|r| r.request.body)
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        refused.iter().all(|b| *b == refused[0]),
        "the same text refused three times in a row: {refused:?}"
    );
    assert_eq!(
        rig.desk_answers(Resource::ChasitorResyncState, Some(503)),
        2
    );
    assert!(
        rig.desk_answers(Resource::ReconnectSession, Some(200)) >= 5,
        "one recovery per failover"
    );
    assert_eq!(rig.desk_answers(Resource::ChasitorInit, None), 1);
    rig.shutdown().await;
}

/// Three failovers in a row while the chat still waits for an agent, the user writing all the
/// while: the chat is requested once, the user's texts wait for the agent and reach it once, in
/// order, and the user is told of the queue once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failovers_while_the_chat_waits_for_an_agent_keep_one_request_and_the_queued_texts() {
    let rig = Rig::start(Options::default()).await;
    let user = rig.user("oQueued");
    rig.push(&user, "visitor 0").await;
    let control = rig.control();
    let waiting = eventually("the chat request", || control.waiting().pop()).await;
    let id = waiting.session_id;
    for i in 1..=3 {
        control.failover(&id).unwrap();
        rig.push(&user, &format!("visitor {i}")).await;
        control
            .wait_for_session(&id, PATIENCE, |s| !s.moved)
            .await
            .expect("the gateway ran ReconnectSession");
    }
    control.accept(&id, "Andy").unwrap();
    for i in 1..=3 {
        control.send_text(&id, &format!("agent {i}")).unwrap();
    }

    rig.assert_agent_got(&id, &numbered("visitor", 0..=3)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=3))
        .await;
    assert_eq!(
        rig.phone(user.openid())[..2],
        [QUEUED, JOINED],
        "told of the queue once, then of the agent"
    );
    assert_eq!(rig.desk_answers(Resource::ReconnectSession, Some(200)), 3);
    assert_eq!(rig.desk_answers(Resource::ChasitorInit, None), 1);
    assert_eq!(rig.control().sessions().len(), 1, "one session at the desk");
    rig.shutdown().await;
}

/// The recovery itself loses its answers: after a failover the connection is reset once after
/// the desk answered ReconnectSession (new affinity token, never seen by the gateway) and once
/// after it answered ChasitorResyncState. The gateway runs each step again — the desk answers a
/// second ReconnectSession with the token it already gave — and the chat goes on: every text
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_whose_reconnect_and_resync_answers_are_lost_is_run_again() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oLostRecovery");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;
    let reconnects = Arc::new(FirstN::new(1));
    let resyncs = Arc::new(FirstN::new(1));
    {
        let (reconnects, resyncs) = (reconnects.clone(), resyncs.clone());
        rig.desk_proxy().on_answer(move |seen, answer| {
            let lost = answer.status == 200
                && match seen.resource() {
                    "ReconnectSession" => reconnects.take(),
                    "ChasitorResyncState" => resyncs.take(),
                    _ => false,
                };
            if lost { Fault::Reset } else { Fault::Pass }
        });
    }
    let control = rig.control();
    control.failover(&id).unwrap();
    for i in 1..=3 {
        rig.push(&user, &format!("visitor {i}")).await;
        control.send_text(&id, &format!("agent {i}")).unwrap();
    }

    rig.assert_agent_got(&id, &numbered("visitor", 0..=3)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=3))
        .await;
    assert_eq!(
        (reconnects.left(), resyncs.left()),
        (0, 0),
        "both answers lost"
    );
    assert_eq!(rig.desk_answers(Resource::ReconnectSession, Some(200)), 2);
    assert!(rig.desk_answers(Resource::ChasitorResyncState, Some(200)) >= 2);
    rig.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Slow, reset and half-open connections to the desk
// ---------------------------------------------------------------------------------------------

/// The desk is slow: every request reaches it 150–400 ms late and every answer comes back
/// 600 ms late (well within the gateway's timeouts). Texts both ways arrive late but once
/// each, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_that_answers_slowly_gets_every_text_once_in_order() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oSlow");
    let id = rig.open_chat(&user, "visitor 0").await;
    let proxy = rig.desk_proxy();
    proxy.on_request(|seen| {
        Fault::Delay(Duration::from_millis(
            if seen.method == http::Method::POST {
                400
            } else {
                150
            },
        ))
    });
    proxy.on_answer(|_, _| Fault::Delay(Duration::from_millis(600)));
    let control = rig.control();
    for i in 1..=5 {
        rig.push(&user, &format!("visitor {i}")).await;
        control.send_text(&id, &format!("agent {i}")).unwrap();
    }

    rig.assert_agent_got(&id, &numbered("visitor", 0..=5)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=5))
        .await;
    let slow = Fault::Delay(Duration::from_millis(600));
    assert!(
        rig.desk_proxy().count(Phase::Answer, "ChatMessage", slow) >= 5,
        "the texts went through the slow path"
    );
    assert!(rig.desk_proxy().count(Phase::Answer, "Messages", slow) >= 3);
    rig.shutdown().await;
}

/// The connection is reset after the desk took a ChatMessage (its `OK` is lost), twice: the
/// gateway sends the text again under the same X-LIVEAGENT-SEQUENCE, the desk takes the repeat
/// as already done (200, the spec's default reading), and the agent sees each text once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_message_whose_answer_is_lost_to_a_reset_is_repeated_under_its_number() {
    lost_chat_message_answers(DuplicatePost::AcceptSilently).await;
}

/// The same with a desk that answers a repeated sequence number `409 Out of sync` (the spec's
/// other UNCONFIRMED reading): the gateway reads the 409 as "already accepted" and moves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_chat_message_repeated_into_a_409_out_of_sync_is_counted_once() {
    lost_chat_message_answers(DuplicatePost::Conflict).await;
}

async fn lost_chat_message_answers(duplicate_post: DuplicatePost) {
    let rig = Rig::start(Options {
        desk_proxy: true,
        knobs: Knobs {
            duplicate_post,
            ..Knobs::default()
        },
        ..Options::default()
    })
    .await;
    let user = rig.user("oReset");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;
    let lost = Arc::new(FirstN::new(2));
    {
        let lost = lost.clone();
        rig.desk_proxy().on_answer(move |seen, answer| {
            if seen.resource() == "ChatMessage" && answer.status == 200 && lost.take() {
                Fault::Reset
            } else {
                Fault::Pass
            }
        });
    }
    let control = rig.control();
    for i in 1..=3 {
        rig.push(&user, &format!("visitor {i}")).await;
        control.send_text(&id, &format!("agent {i}")).unwrap();
    }

    rig.assert_agent_got(&id, &numbered("visitor", 0..=3)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=3))
        .await;
    assert_eq!(
        rig.desk_proxy()
            .count(Phase::Answer, "ChatMessage", Fault::Reset),
        2
    );
    let posts = chat_message_posts(&rig);
    assert_eq!(posts.len(), 4 + 2, "two repeats: {posts:?}");
    assert_repeats_kept_their_number(&posts);
    if duplicate_post == DuplicatePost::Conflict {
        assert_eq!(rig.desk_answers(Resource::ChatMessage, Some(409)), 2);
    }
    rig.shutdown().await;
}

/// The connection is reset after the desk took the chat request (ChasitorInit's `OK` is lost):
/// the gateway learns from its poll that the request arrived, or sends it again under the same
/// number, and either way there is one session, one chat waiting, one queue notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_request_whose_answer_is_lost_is_not_made_twice() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        ..Options::default()
    })
    .await;
    let lost = Arc::new(FirstN::new(1));
    {
        let lost = lost.clone();
        rig.desk_proxy().on_answer(move |seen, answer| {
            if seen.resource() == "ChasitorInit" && answer.status == 200 && lost.take() {
                Fault::Reset
            } else {
                Fault::Pass
            }
        });
    }
    let user = rig.user("oLostInit");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.push(&user, "visitor 1").await;
    rig.control().send_text(&id, "agent 1").unwrap();

    rig.assert_agent_got(&id, &numbered("visitor", 0..=1)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=1))
        .await;
    assert_eq!(lost.left(), 0, "the answer was lost");
    assert_eq!(rig.control().sessions().len(), 1, "one session at the desk");
    assert_eq!(rig.desk_answers(Resource::SessionId, None), 1);
    assert_eq!(
        rig.phone(user.openid()),
        [QUEUED, JOINED, "agent 1"],
        "one queue notice, one join notice"
    );
    rig.shutdown().await;
}

/// Connections reset in the middle of requests: two ChatMessage POSTs are reset before the
/// desk sees them, and two `Messages` answers that carry agent lines are reset after the desk
/// sent them (the desk counts those events as delivered). The gateway sends the texts again and
/// polls again with the `ack` it had, so the desk delivers the lost lines again: once each on
/// the phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reset_mid_request_lose_and_repeat_nothing() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oRst");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;
    let posts = Arc::new(FirstN::new(2));
    let batches = Arc::new(FirstN::new(2));
    // Agent lines in every batch the desk sent, and whether the batch was reset.
    let delivered = Arc::new(Mutex::new(Vec::<(Vec<String>, bool)>::new()));
    {
        let (posts, batches, delivered) = (posts.clone(), batches.clone(), delivered.clone());
        let proxy = rig.desk_proxy();
        proxy.on_request(move |seen| {
            if seen.resource() == "ChatMessage" && posts.take() {
                Fault::Reset
            } else {
                Fault::Pass
            }
        });
        proxy.on_answer(move |seen, answer| {
            if seen.resource() != "Messages" || answer.status != 200 {
                return Fault::Pass;
            }
            let lines = agent_lines(answer);
            let reset = !lines.is_empty() && batches.take();
            lock(&delivered).push((lines, reset));
            if reset { Fault::Reset } else { Fault::Pass }
        });
    }
    let control = rig.control();
    for i in 1..=4 {
        rig.push(&user, &format!("visitor {i}")).await;
        control.send_text(&id, &format!("agent {i}")).unwrap();
    }

    rig.assert_agent_got(&id, &numbered("visitor", 0..=4)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=4))
        .await;
    assert_eq!(
        (posts.left(), batches.left()),
        (0, 0),
        "every reset happened"
    );
    assert_eq!(
        chat_message_posts(&rig).len(),
        5,
        "the desk saw each text once (the reset ones never reached it)"
    );
    // The desk sent every line of a reset batch again, in a later batch (the gateway polled
    // again with the ack it had).
    let delivered = lock(&delivered).clone();
    for (i, (lines, reset)) in delivered.iter().enumerate() {
        if *reset {
            for line in lines {
                assert!(
                    delivered[i + 1..]
                        .iter()
                        .any(|(later, reset)| !reset && later.contains(line)),
                    "{line:?} delivered again: {delivered:?}"
                );
            }
        }
    }
    rig.shutdown().await;
}

/// The desk goes half-open. First it takes a ChatMessage and never answers it; then it stops
/// answering altogether: requests on open connections get no answer, new connections are
/// accepted and never read. The gateway gives each request up at its timeout (2 s for POSTs,
/// `clientPollTimeout` + 5 s for the poll) and tries again; once the desk is back, the timed-out
/// text is sent again under its number and the poll repeats its ack: everything once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_open_desk_is_waited_out_and_nothing_is_lost_or_repeated() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        knobs: short_poll_timeout(),
        request_timeout_secs: Some(2),
        ..Options::default()
    })
    .await;
    let user = rig.user("oHalfOpen");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;
    let proxy = rig.desk_proxy();
    let unanswered = Arc::new(FirstN::new(1));
    {
        let unanswered = unanswered.clone();
        proxy.on_answer(move |seen, answer| {
            if seen.resource() == "ChatMessage" && answer.status == 200 && unanswered.take() {
                Fault::BlackHole
            } else {
                Fault::Pass
            }
        });
    }
    let control = rig.control();
    rig.push(&user, "visitor 1").await;
    control.send_text(&id, "agent 1").unwrap();
    eventually("the desk taking a text it never answers", || {
        (unanswered.left() == 0).then_some(())
    })
    .await;

    proxy.set_half_open(true);
    rig.push(&user, "visitor 2").await;
    control.send_text(&id, "agent 2").unwrap();
    eventually("the gateway giving up on a POST and a poll", || {
        (proxy.abandoned("ChatMessage") >= 1 && proxy.abandoned("Messages") >= 1).then_some(())
    })
    .await;
    eventually("a new connection parked", || {
        (proxy.parked() >= 1).then_some(())
    })
    .await;
    proxy.heal();

    rig.push(&user, "visitor 3").await;
    control.send_text(&id, "agent 3").unwrap();
    rig.assert_agent_got(&id, &numbered("visitor", 0..=3)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=3))
        .await;
    let posts = chat_message_posts(&rig);
    assert!(
        posts
            .iter()
            .filter(|(_, b)| b.contains("visitor 1"))
            .count()
            >= 2,
        "the unanswered text was sent again: {posts:?}"
    );
    assert_repeats_kept_their_number(&posts);
    assert_eq!(rig.desk_answers(Resource::ChasitorInit, None), 1);
    rig.shutdown().await;
}

/// The desk stays unreachable (every connection reset) past the deployment's connection
/// timeout (3 s here, from ChatRequestSuccess): the gateway gives the chat up as README says —
/// the chat ends as "connection lost" and the user is told to write again for a new chat. Once
/// the desk is back, the user's next message starts a new chat, and the agent gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_unreachable_past_its_connection_timeout_ends_the_chat_and_tells_the_user() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        knobs: Knobs {
            connection_timeout: Duration::from_secs(3),
            ..Knobs::default()
        },
        ..Options::default()
    })
    .await;
    let user = rig.user("oUnreachable");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;
    rig.desk_proxy().on_request(|_| Fault::Reset);
    rig.push(&user, "visitor 1").await;
    eventually("the user told the connection is lost", || {
        rig.phone(user.openid())
            .iter()
            .any(|l| l == CONNECTION_LOST)
            .then_some(())
    })
    .await;
    eventually("the chat's driver gone", || {
        rig.app.engine().chats().is_empty().then_some(())
    })
    .await;

    rig.desk_proxy().heal();
    rig.push(&user, "visitor 2").await;
    let control = rig.control();
    let waiting = eventually("a new chat request", || control.waiting().pop()).await;
    assert_ne!(waiting.session_id, id, "a new session");
    control.accept(&waiting.session_id, "Andy").unwrap();
    control.send_text(&waiting.session_id, "agent 1").unwrap();
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=1))
        .await;
    rig.assert_agent_got(&waiting.session_id, &numbered("visitor", 2..=2))
        .await;
    assert_eq!(
        rig.phone(user.openid()),
        [QUEUED, JOINED, CONNECTION_LOST, QUEUED, JOINED, "agent 1"],
    );
    rig.shutdown().await;
}

/// Three `Messages` answers carrying the agent's lines come back `200` with a body cut short (a
/// desk or a middlebox answering what does not decode). Each is a protocol error: counted on
/// `/metrics`, backed off like a server error and polled again with the same `ack`, so the
/// lines reach the user once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_poll_answers_are_counted_and_their_events_polled_again() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oGarbled");
    let id = rig.open_chat(&user, "visitor 0").await;
    let garbled = Arc::new(FirstN::new(3));
    {
        let garbled = garbled.clone();
        rig.desk_proxy().on_answer(move |seen, answer| {
            if seen.resource() == "Messages" && answer.status == 200 && garbled.take() {
                Fault::Garble
            } else {
                Fault::Pass
            }
        });
    }
    let control = rig.control();
    for i in 1..=3 {
        control.send_text(&id, &format!("agent {i}")).unwrap();
    }

    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=3))
        .await;
    assert_eq!(
        rig.desk_proxy()
            .count(Phase::Answer, "Messages", Fault::Garble),
        3
    );
    let metrics = admin_get(&rig, "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "switchboard_liveagent_protocol_errors_total 3"),
        "three protocol errors on /metrics:\n{metrics}"
    );
    rig.shutdown().await;
}

/// The admin listener's answer to `GET path`, with the admin token.
async fn admin_get(rig: &Rig, path: &str) -> String {
    use http_body_util::BodyExt;
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let request = http::Request::get(format!("http://{}{path}", rig.app.admin_addr()))
        .header("authorization", format!("Bearer {}", support::ADMIN_TOKEN))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let response = client
        .request(request)
        .await
        .expect("the admin listener answers");
    assert_eq!(response.status(), 200, "GET {path}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

// ---------------------------------------------------------------------------------------------
// 3. Long polls answered after clientPollTimeout
// ---------------------------------------------------------------------------------------------

/// The desk answers a poll carrying an agent line 8 s late, after the gateway's client-side
/// limit (`clientPollTimeout` 1 s + 5 s). The gateway gives the poll up, polls again with the
/// same `ack`, and the desk delivers the line again: the user gets it once, without waiting for
/// the late answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_answered_after_client_poll_timeout_is_given_up_and_its_events_polled_again() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        knobs: short_poll_timeout(),
        ..Options::default()
    })
    .await;
    let user = rig.user("oLatePoll");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;
    let late = Arc::new(FirstN::new(1));
    {
        let late = late.clone();
        rig.desk_proxy().on_answer(move |seen, answer| {
            let carries = answer.status == 200 && answer.text().contains("agent 1");
            if seen.resource() == "Messages" && carries && late.take() {
                Fault::Delay(Duration::from_secs(8))
            } else {
                Fault::Pass
            }
        });
    }
    let control = rig.control();
    control.send_text(&id, "agent 1").unwrap();
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=1))
        .await;
    assert_eq!(late.left(), 0, "the answer was held back");
    assert_eq!(
        rig.desk_proxy().abandoned("Messages"),
        1,
        "the gateway gave the late poll up rather than wait for it"
    );
    // The line came from a second poll with the same ack, sent after clientPollTimeout.
    let polls: Vec<(Option<u16>, String, u64)> = control
        .recorded()
        .iter()
        .filter(|r| r.request.resource == Resource::Messages)
        .map(|r| {
            let ack = r.request.query_value("ack").unwrap_or_default().to_owned();
            (r.status, ack, r.at.as_millis())
        })
        .collect();
    let again = polls
        .iter()
        .rposition(|(status, ..)| *status == Some(200))
        .expect("the batch polled again");
    let (_, ack, again_at) = &polls[again];
    let (_, given_up_ack, given_up_at) = &polls[again - 1];
    assert_eq!(ack, given_up_ack, "the same ack: {polls:?}");
    assert!(
        again_at - given_up_at >= 1_000,
        "polled again only after clientPollTimeout: {polls:?}"
    );

    rig.push(&user, "visitor 1").await;
    control.send_text(&id, "agent 2").unwrap();
    rig.assert_agent_got(&id, &numbered("visitor", 0..=1)).await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=2))
        .await;
    rig.shutdown().await;
}

/// The desk holds empty polls 8 s, longer than the gateway waits (`clientPollTimeout` 1 s +
/// 5 s): the gateway gives each one up client-side (the proxy sees it go before the desk's
/// answer) and polls again, and the new poll is never a second poller (no `409` from the
/// desk); a line the agent writes afterwards arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_polls_held_past_client_poll_timeout_are_renewed_without_a_second_poller() {
    let rig = Rig::start(Options {
        desk_proxy: true,
        knobs: short_poll_timeout(),
        hold: Duration::from_secs(8),
        ..Options::default()
    })
    .await;
    let user = rig.user("oIdle");
    let id = rig.open_chat(&user, "visitor 0").await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=0)).await;
    let control = rig.control();
    let polls = || rig.desk_answers(Resource::Messages, None);
    let before = polls();
    eventually("an empty poll given up and another one held", || {
        let replaced = rig.desk_proxy().abandoned("Messages") >= 1 && polls() > before;
        (replaced && control.session(&id)?.polling).then_some(())
    })
    .await;
    assert_eq!(
        rig.desk_answers(Resource::Messages, Some(409)),
        0,
        "never two polls at once"
    );
    control.send_text(&id, "agent 1").unwrap();
    rig.push(&user, "visitor 1").await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=1))
        .await;
    rig.assert_agent_got(&id, &numbered("visitor", 0..=1)).await;
    rig.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 4. WeChat errcodes
// ---------------------------------------------------------------------------------------------

/// WeChat answers `-1` (system busy) three times in a row to one reply: the gateway tries it
/// again after growing waits (at least the 1 s it gives `-1`), and the reply the agent wrote
/// next waits behind it: the user gets both once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_busy_bursts_are_retried_and_later_replies_wait_their_turn() {
    let rig = Rig::start(Options::default()).await;
    let user = rig.user("oBusy");
    let id = rig.open_chat(&user, "visitor 0").await;
    let control = rig.control();
    for _ in 0..3 {
        rig.wechat.inject(Endpoint::CustomSend, -1);
    }
    control.send_text(&id, "agent 1").unwrap();
    eventually("the first refusal", || {
        (rig.wechat_answers(Endpoint::CustomSend, -1) >= 1).then_some(())
    })
    .await;
    control.send_text(&id, "agent 2").unwrap();

    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=2))
        .await;
    assert_eq!(rig.wechat_answers(Endpoint::CustomSend, -1), 3);
    let sends: Vec<i64> = rig
        .wechat
        .calls()
        .iter()
        .filter(|c| c.endpoint == Endpoint::CustomSend)
        .map(|c| c.errcode)
        .collect();
    // Queue notice, join notice, three refusals, then the two replies.
    assert_eq!(
        sends,
        [0, 0, -1, -1, -1, 0, 0],
        "each reply sent once it could be"
    );
    assert!(
        rig.notices(&id)
            .iter()
            .all(|n| !n.starts_with(DELIVERY_FAILED))
    );
    rig.shutdown().await;
}

/// Another holder of the AppSecret force-refreshes the stable token before each of three
/// replies, so each reply's first call meets `40001` (token not latest): the gateway fetches the
/// current token and sends the reply again at once. Every reply arrives once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superseded_access_token_is_refreshed_and_the_reply_sent_again() {
    let rig = Rig::start(Options::default()).await;
    let user = rig.user("oToken");
    let id = rig.open_chat(&user, "visitor 0").await;
    let control = rig.control();
    let tokens_before = rig.wechat.call_count(Endpoint::StableToken);
    for i in 1..=3 {
        rig.push(&user, &format!("visitor {i}")).await;
        rig.wechat.force_refresh();
        control.send_text(&id, &format!("agent {i}")).unwrap();
        rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=i))
            .await;
    }
    assert_eq!(rig.wechat_answers(Endpoint::CustomSend, 40001), 3);
    assert_eq!(
        rig.wechat.call_count(Endpoint::StableToken) - tokens_before,
        3,
        "one token fetch per refusal"
    );
    rig.assert_agent_got(&id, &numbered("visitor", 0..=3)).await;
    assert!(
        rig.notices(&id)
            .iter()
            .all(|n| !n.starts_with(DELIVERY_FAILED))
    );
    rig.shutdown().await;
}

/// The spec's oracle T1: two replies (to two users) leave with the same token just as another
/// holder of the AppSecret supersedes it; both meet `40001`. The first refusal fetches the new
/// token; the second finds the stored token already differs from the one it was refused and
/// sends again with it, without a second fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_superseded_under_two_replies_at_once_is_fetched_once() {
    let rig = Rig::start(Options {
        wechat_proxy: true,
        ..Options::default()
    })
    .await;
    let (first, second) = (rig.user("oTokenA"), rig.user("oTokenB"));
    let first_id = rig.open_chat(&first, "visitor 0").await;
    let second_id = rig.open_chat(&second, "visitor 0").await;
    // One reply waits a second at the proxy, so the other's refusal and refresh come first
    // while it still carries the old token.
    let held = Arc::new(FirstN::new(1));
    {
        let held = held.clone();
        rig.wechat_proxy().on_request(move |seen| {
            if seen.resource() == "send" && held.take() {
                Fault::Delay(Duration::from_secs(1))
            } else {
                Fault::Pass
            }
        });
    }
    let tokens_before = rig.wechat.call_count(Endpoint::StableToken);
    rig.wechat.force_refresh();
    let control = rig.control();
    control.send_text(&first_id, "agent 1 to A").unwrap();
    control.send_text(&second_id, "agent 1 to B").unwrap();

    rig.assert_phone_got(first.openid(), "agent", &["agent 1 to A".into()])
        .await;
    rig.assert_phone_got(second.openid(), "agent", &["agent 1 to B".into()])
        .await;
    assert_eq!(held.left(), 0);
    assert_eq!(rig.wechat_answers(Endpoint::CustomSend, 40001), 2);
    assert_eq!(
        rig.wechat.call_count(Endpoint::StableToken) - tokens_before,
        1,
        "the second refusal used the token the first one fetched"
    );
    rig.shutdown().await;
}

/// `40001` again with a freshly fetched token means the credentials themselves are wrong: the
/// spec says stop and alert. The gateway gives that reply up, tells the agent it could not be
/// delivered (quoting it), and the next reply goes out as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_again_after_a_refresh_gives_the_reply_up_and_tells_the_agent() {
    let rig = Rig::start(Options::default()).await;
    let user = rig.user("oBadToken");
    let id = rig.open_chat(&user, "visitor 0").await;
    let control = rig.control();
    rig.wechat.inject(Endpoint::CustomSend, 40001);
    rig.wechat.inject(Endpoint::CustomSend, 40001);
    control.send_text(&id, "agent 1").unwrap();
    let told = eventually("the agent told", || {
        rig.notices(&id)
            .into_iter()
            .find(|n| n.starts_with(DELIVERY_FAILED))
    })
    .await;
    assert!(told.ends_with("The latest: agent 1"), "{told}");

    rig.push(&user, "visitor 1").await;
    control.send_text(&id, "agent 2").unwrap();
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 2..=2))
        .await;
    assert_eq!(
        rig.wechat_answers(Endpoint::CustomSend, 40001),
        2,
        "one retry with the fresh token, then no more"
    );
    rig.assert_agent_got(&id, &numbered("visitor", 0..=1)).await;
    rig.shutdown().await;
}

/// 49 hours pass on WeChat's side without the user writing: the reply window is closed, which
/// the gateway only learns from `45015` (its own clock still has the window open). The reply
/// WeChat refused is given up, the agent is told once that the window is closed, the agent's
/// next line is kept without another call to WeChat, and when the user writes again the kept
/// line goes out first and the agent hears which line did not arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_reply_window_keeps_later_lines_and_reports_the_refused_one() {
    let rig = Rig::start(Options::default()).await;
    let user = rig.user("oWindow");
    let id = rig.open_chat(&user, "visitor 0").await;
    let control = rig.control();
    rig.wechat.advance(Duration::from_secs(49 * 3600));
    control.send_text(&id, "agent 1").unwrap();
    eventually("the agent told the window is closed", || {
        rig.notices(&id)
            .iter()
            .any(|n| n.starts_with(WINDOW_CLOSED))
            .then_some(())
    })
    .await;
    control.send_text(&id, "agent 2").unwrap();
    // The kept line waits for the user; the user writes again.
    rig.push(&user, "visitor 1").await;
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 2..=2))
        .await;
    let report = eventually("the report of the refused line", || {
        rig.notices(&id)
            .into_iter()
            .find(|n| n.starts_with(UNDELIVERED))
    })
    .await;
    assert!(report.ends_with("The latest: agent 1"), "{report}");
    assert_eq!(
        rig.wechat_answers(Endpoint::CustomSend, 45015),
        1,
        "no retry loop against a closed window"
    );
    let notices = rig.notices(&id);
    assert_eq!(
        notices
            .iter()
            .filter(|n| n.starts_with(WINDOW_CLOSED))
            .count(),
        1,
        "told once per closure: {notices:?}"
    );
    assert_eq!(
        rig.phone(user.openid()),
        [QUEUED, JOINED, "agent 2"],
        "nothing else reached the phone"
    );
    rig.assert_agent_got(&id, &numbered("visitor", 0..=1)).await;
    rig.shutdown().await;
}

/// A burst of `45015`: the window closes (49 hours pass on WeChat's side) while three replies
/// are already queued towards the user (the first one's call is slowed down so the others line
/// up behind it). WeChat refuses each; none is tried again, the agent is told once that the
/// window is closed, and when the user writes again it hears that three lines did not arrive,
/// while the line it wrote meanwhile is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_45015_on_queued_replies_gives_each_up_once_and_reports_them_together() {
    let rig = Rig::start(Options {
        wechat_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oWindowBurst");
    let id = rig.open_chat(&user, "visitor 0").await;
    let control = rig.control();
    let slow = Arc::new(FirstN::new(1));
    {
        let slow = slow.clone();
        rig.wechat_proxy().on_request(move |seen| {
            if seen.resource() == "send" && seen.text().contains("agent 1") && slow.take() {
                Fault::Delay(Duration::from_millis(1_500))
            } else {
                Fault::Pass
            }
        });
    }
    rig.wechat.advance(Duration::from_secs(49 * 3600));
    control.send_text(&id, "agent 1").unwrap();
    eventually("the first reply on its slow way", || {
        (slow.left() == 0).then_some(())
    })
    .await;
    control.send_text(&id, "agent 2").unwrap();
    rig.wait_for_queued_sends(2).await;
    control.send_text(&id, "agent 3").unwrap();
    rig.wait_for_queued_sends(3).await;
    eventually("three refusals", || {
        (rig.wechat_answers(Endpoint::CustomSend, 45015) >= 3).then_some(())
    })
    .await;
    eventually("the agent told the window is closed", || {
        rig.notices(&id)
            .iter()
            .any(|n| n.starts_with(WINDOW_CLOSED))
            .then_some(())
    })
    .await;
    control.send_text(&id, "agent 4").unwrap();
    rig.push(&user, "visitor 1").await;

    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 4..=4))
        .await;
    let report = eventually("the report of the refused lines", || {
        rig.notices(&id)
            .into_iter()
            .find(|n| n.starts_with("[Switchboard] 3 message(s) did not reach the customer"))
    })
    .await;
    assert!(report.ends_with("The latest: agent 3"), "{report}");
    assert_eq!(
        rig.wechat_answers(Endpoint::CustomSend, 45015),
        3,
        "each refused once, none tried again"
    );
    let notices = rig.notices(&id);
    assert_eq!(
        notices
            .iter()
            .filter(|n| n.starts_with(WINDOW_CLOSED))
            .count(),
        1,
        "told once per closure: {notices:?}"
    );
    rig.assert_agent_got(&id, &numbered("visitor", 0..=1)).await;
    rig.shutdown().await;
}

/// WeChat's budget turns out smaller than the gateway counts on (three sends per user message
/// where the gateway expects five; the spec says to react to `45047`, not trust a counter).
/// The reply refused with `45047` is given up, sending to the user stops (the next line is
/// kept, not sent), the agent is told the window is closed, and when the user writes again the
/// kept line goes out and the agent hears which line did not arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_up_send_budget_stops_sending_until_the_user_writes_again() {
    let rig = Rig::start(Options {
        wechat: ApiConfig {
            message_quota: 3,
            ..ApiConfig::new(support::APP_ID, support::APP_SECRET)
        },
        ..Options::default()
    })
    .await;
    let user = rig.user("oBudget");
    // The queue and join notices use two of the three.
    let id = rig.open_chat(&user, "visitor 0").await;
    let control = rig.control();
    control.send_text(&id, "agent 1").unwrap();
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=1))
        .await;
    control.send_text(&id, "agent 2").unwrap();
    eventually("the agent told the window is closed", || {
        rig.notices(&id)
            .iter()
            .any(|n| n.starts_with(WINDOW_CLOSED))
            .then_some(())
    })
    .await;
    control.send_text(&id, "agent 3").unwrap();
    rig.push(&user, "visitor 1").await;
    rig.assert_phone_got(
        user.openid(),
        "agent",
        &["agent 1".into(), "agent 3".into()],
    )
    .await;
    let report = eventually("the report of the refused line", || {
        rig.notices(&id)
            .into_iter()
            .find(|n| n.starts_with(UNDELIVERED))
    })
    .await;
    assert!(report.ends_with("The latest: agent 2"), "{report}");
    assert_eq!(
        rig.wechat_answers(Endpoint::CustomSend, 45047),
        1,
        "no retry loop against a used-up budget"
    );
    assert_eq!(
        rig.phone(user.openid()),
        [QUEUED, JOINED, "agent 1", "agent 3"],
        "nothing else reached the phone"
    );
    rig.assert_agent_got(&id, &numbered("visitor", 0..=1)).await;
    rig.shutdown().await;
}

/// Connections to the WeChat API reset: twice before WeChat sees the send (the gateway sends
/// again; the user gets the reply once), then once after WeChat delivered a reply (its `ok` is
/// lost). `custom/send` has no idempotency key, so the gateway cannot tell a lost answer from
/// a lost request: that one reply reaches the user twice, as README's delivery rules say
/// (at most once more per lost answer); nothing else repeats and the order holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_connections_reset_before_the_send_cost_nothing_and_a_lost_ok_repeats_one_reply() {
    let rig = Rig::start(Options {
        wechat_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oWxReset");
    let id = rig.open_chat(&user, "visitor 0").await;
    let control = rig.control();
    let before = Arc::new(FirstN::new(2));
    let after = Arc::new(FirstN::new(1));
    {
        let (before, after) = (before.clone(), after.clone());
        let proxy = rig.wechat_proxy();
        proxy.on_request(move |seen| {
            if seen.resource() == "send" && seen.text().contains("agent 1") && before.take() {
                Fault::Reset
            } else {
                Fault::Pass
            }
        });
        proxy.on_answer(move |seen, _| {
            if seen.resource() == "send" && seen.text().contains("agent 2") && after.take() {
                Fault::Reset
            } else {
                Fault::Pass
            }
        });
    }
    for i in 1..=3 {
        rig.push(&user, &format!("visitor {i}")).await;
        control.send_text(&id, &format!("agent {i}")).unwrap();
        let mut expected = numbered("agent", 1..=i);
        if i >= 2 {
            expected.insert(2, "agent 2".into());
        }
        rig.assert_phone_got(user.openid(), "agent", &expected)
            .await;
    }
    assert_eq!(
        (before.left(), after.left()),
        (0, 0),
        "every reset happened"
    );
    assert_eq!(
        rig.wechat_proxy()
            .count(Phase::Request, "send", Fault::Reset),
        2
    );
    rig.assert_agent_got(&id, &numbered("visitor", 0..=3)).await;
    assert!(
        rig.notices(&id)
            .iter()
            .all(|n| !n.starts_with(DELIVERY_FAILED))
    );
    rig.shutdown().await;
}

/// The WeChat API takes a reply's request and never answers it (a half-open connection; the
/// request never reached WeChat proper). The gateway gives the call up at its 10 s HTTP timeout
/// and sends the reply again: the user gets it once, and the next reply waits behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wechat_send_that_is_never_answered_is_given_up_at_its_timeout_and_sent_again() {
    let rig = Rig::start(Options {
        wechat_proxy: true,
        ..Options::default()
    })
    .await;
    let user = rig.user("oWxHalfOpen");
    let id = rig.open_chat(&user, "visitor 0").await;
    let silent = Arc::new(FirstN::new(1));
    {
        let silent = silent.clone();
        rig.wechat_proxy().on_request(move |seen| {
            if seen.resource() == "send" && silent.take() {
                Fault::BlackHole
            } else {
                Fault::Pass
            }
        });
    }
    let control = rig.control();
    control.send_text(&id, "agent 1").unwrap();
    eventually("the reply swallowed", || (silent.left() == 0).then_some(())).await;
    control.send_text(&id, "agent 2").unwrap();
    rig.assert_phone_got(user.openid(), "agent", &numbered("agent", 1..=2))
        .await;
    assert_eq!(rig.wechat_proxy().abandoned("send"), 1, "given up once");
    assert!(
        rig.notices(&id)
            .iter()
            .all(|n| !n.starts_with(DELIVERY_FAILED))
    );
    rig.shutdown().await;
}
