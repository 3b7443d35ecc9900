//! Sessions nobody polls are deleted by the sweep; a held poll keeps its session alive.

mod liveagent_support;

use std::time::Duration;

use liveagent_support::{Visitor, start_with};
use switchboard_sim::liveagent::SimConfig;

const PROMPTLY: Duration = Duration::from_secs(20);

fn config(hold: Duration) -> SimConfig {
    SimConfig {
        expiry_sweep: Duration::from_millis(20),
        ..SimConfig::with_hold(hold)
    }
}

#[tokio::test]
async fn expires_sessions_nobody_polls() {
    let (sim, http) = start_with(config(Duration::from_millis(200))).await;
    let agent = sim.control();
    let visitor = Visitor::request_chat(&http, "Wei").await;
    assert!(agent.session(&visitor.id).is_some());
    // Past the default connection timeout (150 s) on the model's clock.
    agent.advance_clock(Duration::from_secs(151));
    agent
        .wait_until(PROMPTLY, |c| c.session(&visitor.id).is_none().then_some(()))
        .await
        .expect("the sweep deletes the session");
    assert_eq!(agent.expired_count(), 1);
    let answer = visitor.poll(-1).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.body, "Session required but was invalid or not found");
    sim.shutdown().await;
}

#[tokio::test]
async fn keeps_a_session_whose_poll_is_held() {
    let (sim, http) = start_with(config(Duration::from_secs(120))).await;
    let agent = sim.control();
    let visitor = Visitor::request_chat(&http, "Wei").await;
    assert_eq!(visitor.poll(-1).await.status, 200);
    let poll = visitor.held_poll(&agent, 0).await;
    agent.advance_clock(Duration::from_secs(151));
    // Several sweeps run meanwhile.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        agent.session(&visitor.id).is_some(),
        "a polled session stays"
    );
    agent.accept(&visitor.id, "Andy").expect("accept");
    let answer = tokio::time::timeout(PROMPTLY, poll)
        .await
        .expect("woken")
        .expect("poll task");
    assert_eq!(answer.status, 200);
    sim.shutdown().await;
}
