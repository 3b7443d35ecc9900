//! The gate a process checks before every desk request (`switchboard_engine::gate`): once it
//! closes for a chat's shard — one of several instances paused past its lease, or lost the
//! shard — the chat's driver sends nothing more, not even the poll that would follow an answer
//! it was waiting for; the session stays alive at the desk for the shard's next owner.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard_core::liveagent::Resource;
use switchboard_engine::ChatId;
use switchboard_engine::gate::ShardGate;
use switchboard_sim::liveagent::Phase;
use switchboard_tests::{PATIENCE, Rig, agent_joined, visitor, wait_for_events};

/// Open until closed.
struct Switch(AtomicBool);

impl ShardGate for Switch {
    fn allows(&self, _shard: u16) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

fn polls(rig: &Rig) -> usize {
    rig.sim
        .control()
        .recorded()
        .iter()
        .filter(|r| r.request.resource == Resource::Messages)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_gate_stops_the_next_poll_and_leaves_the_session_alive() {
    let rig = Rig::start().await;
    let engine = rig.engine().await;
    let gate = Arc::new(Switch(AtomicBool::new(true)));
    engine.set_gate(gate.clone());
    let chat = ChatId("wechat:oGated#1".into());
    engine
        .start_chat(chat.clone(), visitor("Gated"))
        .await
        .unwrap();
    let control = rig.sim.control();
    let waiting = control.wait_for_waiting_chat(PATIENCE).await.unwrap();
    control.accept(&waiting.session_id, "Andy L.").unwrap();
    wait_for_events(&engine, &chat, agent_joined).await;
    let open = polls(&rig);
    assert!(open > 0, "the chat polled while the gate was open");

    gate.0.store(false, Ordering::SeqCst);
    // The poll held now is answered after the 500 ms hold; the one that would follow it must
    // not go out, nor any later one.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let closed = polls(&rig);
    assert!(
        closed <= open + 1,
        "{} polls after the gate closed",
        closed - open
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(polls(&rig), closed, "no poll once the gate is closed");
    assert!(
        engine.chats().iter().all(|(c, _)| c != &chat),
        "the driver stopped"
    );
    let session = control.session(&waiting.session_id).unwrap();
    assert!(
        matches!(session.phase, Phase::Established { .. }),
        "the chat is alive at the desk: {:?}",
        session.phase
    );
}
