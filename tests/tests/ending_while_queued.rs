//! A WeChat user who gives up before an agent joins: the whole gateway in-process between a
//! WeChat user and Live Agent, both simulated over loopback HTTP. Live Agent holds the texts a
//! visitor types while queued until an agent accepts; ending first means no agent ever reads
//! them. The user is told the request was withdrawn and how many of their messages were not
//! sent, the chat ends at the desk, and no text reaches anyone later.

mod support;

use std::time::Duration;

use support::{Options, Rig, eventually};
use switchboard_core::model::server::Phase;

const QUEUED: &str = "You are number 1 in the queue.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_while_queued_tells_the_user_their_messages_were_not_sent() {
    let rig = Rig::start(Options::default()).await;
    let user = rig.user("oWithdraws");
    rig.push(&user, "my parcel is late").await;
    let control = rig.control();
    let waiting = eventually("the chat request", || control.waiting().pop()).await;
    rig.push(&user, "order 4411").await;
    rig.push(&user, "end").await;

    let withdrawn = "You withdrew your request before an agent joined; \
                     the 2 message(s) you wrote meanwhile were not sent.";
    eventually("the withdrawal on the phone", || {
        rig.phone(user.openid())
            .iter()
            .any(|l| l == withdrawn)
            .then_some(())
    })
    .await;
    eventually("the chat ended at the desk", || {
        (control.session(&waiting.session_id)?.phase == Phase::Ended).then_some(())
    })
    .await;
    // Nothing the user typed reaches the desk afterwards, and the phone hears nothing more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let session = control.session(&waiting.session_id).unwrap();
    assert!(
        session.visitor_texts.is_empty(),
        "no agent read them: {:?}",
        session.visitor_texts
    );
    assert_eq!(rig.phone(user.openid()), [QUEUED, withdrawn]);
    assert_eq!(control.sessions().len(), 1, "no second chat was requested");
    rig.shutdown().await;
}
