//! WeChat events that are not messages, through the gateway (in-process `App`, both
//! simulators): the periodic `LOCATION` reports and `VIEW` menu links a phone sends during a
//! chat never reach the agent as chat lines, and the latest location goes with the user's next
//! chat request instead.

mod support;

use std::time::Duration;

use support::{InProcess, eventually, push_text, users};

async fn push(push: switchboard_sim::wechat::Push, webhook: &str) {
    let answer = push.send_to(webhook).await.expect("the gateway answers");
    assert_eq!(answer.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_reports_and_menu_links_are_not_chat_lines() {
    let rig = InProcess::start("").await;
    let (wechat, webhook) = (&rig.wechat, &rig.webhook);
    let control = rig.live_agent.control();
    let user = users(wechat, 1).remove(0);

    push_text(&user, webhook, "hello").await;
    let waiting = eventually("a waiting chat", || control.waiting().pop()).await;
    control.accept(&waiting.session_id, "Andy").unwrap();
    // The phone reports its place every few seconds and the user opens a menu link.
    for i in 0..5 {
        // WeChat reports every 5 s (an event's dedupe key is its sender and second).
        user.advance_secs(5);
        push(
            user.location_report(&format!("23.13{i}"), "113.352425"),
            webhook,
        )
        .await;
    }
    user.advance_secs(1);
    push(
        user.event("VIEW", Some("https://shop.example/menu")),
        webhook,
    )
    .await;
    push_text(&user, webhook, "where is my parcel?").await;
    eventually("the question at the agent", || {
        (control.session(&waiting.session_id)?.visitor_texts.len() >= 2).then_some(())
    })
    .await;
    assert_eq!(
        control.session(&waiting.session_id).unwrap().visitor_texts,
        ["hello", "where is my parcel?"],
        "no line for the reports or the link"
    );

    // The next chat request carries the last reported place.
    push_text(&user, webhook, "end").await;
    eventually("the first chat over", || {
        control.waiting().is_empty().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    push_text(&user, webhook, "one more question").await;
    let next = eventually("the second chat request", || {
        control
            .waiting()
            .into_iter()
            .find(|w| w.session_id != waiting.session_id)
    })
    .await;
    assert!(
        next.prechat
            .iter()
            .any(|(label, value)| label == "Last known location" && value == "23.134, 113.352425"),
        "{:?}",
        next.prechat
    );
    rig.app.shutdown().await.unwrap();
}
