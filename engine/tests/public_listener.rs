//! The public listener under abuse: more half-sent requests than it has places for, while ten
//! chats run through the gateway (started in-process, the same `App` the binary runs). The slow
//! connections are closed within the header timeout or refused at once; the chats keep polling
//! and deliver every message both ways once, in order; `/metrics` shows the refusals.

mod support;

use std::time::Duration;

use support::{InProcess, all_push, eventually, push_text, received_lines, session_of, users};
use switchboard_core::liveagent::Resource;
use switchboard_core::liveagent::headers::SESSION_KEY;
use switchboard_sim::liveagent::LiveAgentSim;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USERS: usize = 10;
const CAP: usize = 40;
const SLOW: usize = 70;
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Opens a connection that sends half a request head and then nothing; resolves with how long
/// the gateway took to close it.
async fn slow_request(addr: std::net::SocketAddr) -> Duration {
    let opened = tokio::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    // A refused connection may already be closed: the write may fail, the read tells.
    let _ = stream
        .write_all(b"POST /channels/wechat?signature=x HTTP/1.1\r\nHost: gateway\r\nContent-Len")
        .await;
    let mut buf = [0u8; 512];
    let closed = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    // A connection still open after 10 s fails the test below rather than hanging it.
    let _ = tokio::time::timeout(Duration::from_secs(10), closed).await;
    opened.elapsed()
}

fn polls_of(live_agent: &LiveAgentSim, key: &str) -> usize {
    live_agent
        .control()
        .recorded()
        .iter()
        .filter(|r| r.request.resource == Resource::Messages)
        .filter(|r| r.request.header_value(SESSION_KEY) == Some(key))
        .count()
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{line_start} missing from /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_beyond_the_cap_neither_starve_nor_stall_running_chats() {
    let rig = InProcess::start(&format!(
        "\n[http]\nheader_timeout_secs = {}\nmax_connections = {CAP}\nreserved_fds = 100\n",
        HEADER_TIMEOUT.as_secs_f64()
    ))
    .await;
    let (live_agent, wechat, app, webhook) = (&rig.live_agent, &rig.wechat, &rig.app, &rig.webhook);
    let control = live_agent.control();
    let metrics_url = format!("http://{}/metrics", app.admin_addr());
    let users = users(wechat, USERS);

    all_push(&users, webhook, |openid| format!("hello from {openid}")).await;
    support::accept_all(&control, USERS).await;
    let session_of = |openid: &str| session_of(&control, openid);
    let keys: Vec<String> = control.sessions().into_iter().map(|s| s.key).collect();
    assert_eq!(keys.len(), USERS);
    let polls_before: Vec<usize> = keys.iter().map(|k| polls_of(live_agent, k)).collect();

    // The attack: more half-sent requests than the listener has places.
    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..SLOW {
        slow.spawn(slow_request(app.public_addr()));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Meanwhile the chats go on both ways.
    for round in 1..=2 {
        for user in &users {
            let id = session_of(user.openid());
            control
                .send_text(&id, &format!("reply {round} to {}", user.openid()))
                .unwrap();
        }
        for user in &users {
            push_text(user, webhook, &format!("{} message {round}", user.openid())).await;
        }
    }

    let mut closed_after = Vec::new();
    while let Some(took) = slow.join_next().await {
        closed_after.push(took.unwrap());
    }
    let slowest = closed_after.iter().max().copied().unwrap();
    eprintln!(
        "{SLOW} slow connections against a cap of {CAP}: the slowest closed after {slowest:?}"
    );
    assert!(
        slowest < HEADER_TIMEOUT + Duration::from_millis(900),
        "every slow connection closed within the header timeout; the slowest took {slowest:?}"
    );
    let refused_at_once = closed_after
        .iter()
        .filter(|t| **t < Duration::from_millis(500))
        .count();
    assert!(
        refused_at_once >= SLOW - CAP,
        "{refused_at_once} connections were closed at once"
    );

    for user in &users {
        let id = session_of(user.openid());
        let expected_to_agent: Vec<String> =
            std::iter::once(format!("hello from {}", user.openid()))
                .chain((1..=2).map(|r| format!("{} message {r}", user.openid())))
                .collect();
        eventually("the texts at the agent", || {
            (control.session(&id)?.visitor_texts.len() >= expected_to_agent.len()).then_some(())
        })
        .await;
        assert_eq!(
            control.session(&id).unwrap().visitor_texts,
            expected_to_agent,
            "to the agent, once, in order"
        );
        let expected_to_user: Vec<String> = (1..=2)
            .map(|r| format!("reply {r} to {}", user.openid()))
            .collect();
        let replies = eventually("the replies on the phone", || {
            let replies: Vec<String> = received_lines(wechat, user.openid())
                .into_iter()
                .filter(|l| l.starts_with("reply "))
                .collect();
            (replies.len() >= expected_to_user.len()).then_some(replies)
        })
        .await;
        assert_eq!(replies, expected_to_user, "to the user, once, in order");
    }
    for (key, before) in keys.iter().zip(polls_before) {
        assert!(
            polls_of(live_agent, key) > before,
            "every chat kept polling through the attack"
        );
    }

    let (status, metrics) = support::admin_get(&metrics_url).await;
    assert_eq!(status, 200);
    let refused = metric(
        &metrics,
        "switchboard_inbound_connections_refused_total{listener=\"public\"}",
    );
    let timed_out = metric(
        &metrics,
        "switchboard_inbound_connections_timed_out_total{listener=\"public\",timeout=\"header\"}",
    );
    eprintln!("/metrics: {refused} refused, {timed_out} closed by the header timeout");
    assert!(refused >= (SLOW - CAP) as u64, "refused {refused}");
    assert!(timed_out >= 1, "header timeouts {timed_out}");
    // Pushes refused while the listener was full count as refused too (WeChat retries them);
    // none of them times out, as each sends its whole request.
    assert!(
        refused + timed_out >= SLOW as u64 && timed_out <= CAP as u64,
        "each slow connection was refused or timed out: {refused} + {timed_out}"
    );
    rig.app.shutdown().await.unwrap();
}
