//! A long agent text through the gateway (in-process `App`, both simulators): it goes out in
//! parts that fit WeChat's 2,048-byte limit, each its own send. When the second part fails once
//! (WeChat `-1`, system busy), only that part is sent again: the user gets parts 1, 2 and 3 once
//! each. The window's budget is charged three sends: with the queue and join notices the
//! window's five are used, so the agent's next line is kept — WeChat (the simulator enforces its
//! quota) never has to refuse one — and goes out when the user writes again.

mod support;

use std::time::Duration;

use support::{InProcess, eventually, push_text, users};
use switchboard_sim::wechat::state::Endpoint;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_text_whose_second_part_fails_once_arrives_once_and_costs_three_sends() {
    let rig = InProcess::start("").await;
    let (wechat, webhook) = (&rig.wechat, &rig.webhook);
    let control = rig.live_agent.control();
    let user = users(wechat, 1).remove(0);
    let openid = user.openid().to_owned();

    push_text(&user, webhook, "tell me everything").await;
    let waiting = eventually("a waiting chat", || control.waiting().pop()).await;
    control.accept(&waiting.session_id, "Andy").unwrap();
    // The queue and join notices: two sends.
    let before = eventually("the join notice", || {
        let sent = wechat.sent_texts(&openid);
        sent.iter()
            .any(|t| t.ends_with("is now with you."))
            .then_some(sent.len())
    })
    .await;
    assert_eq!(before, 2);

    // Three parts' worth of words; the call for the second part answers -1 once.
    let paragraph: Vec<String> = (0..700).map(|i| format!("w{i:04}")).collect();
    let long = paragraph.join(" ");
    assert!(long.len() > 2 * 2048 && long.len() < 3 * 2048);
    wechat.let_through(Endpoint::CustomSend);
    wechat.inject(Endpoint::CustomSend, -1);
    control.send_text(&waiting.session_id, &long).unwrap();
    let parts = eventually("three parts on the phone", || {
        let sent = wechat.sent_texts(&openid);
        (sent.len() >= before + 3).then(|| sent[before..].to_vec())
    })
    .await;
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(
        parts.join(" "),
        long,
        "parts 1, 2 and 3, once each, in order"
    );
    assert!(parts.iter().all(|p| p.len() <= 2048));
    let refused = wechat
        .calls()
        .iter()
        .filter(|c| c.endpoint == Endpoint::CustomSend && c.errcode == -1)
        .count();
    assert_eq!(refused, 1, "the second part failed once");

    // Two notices + three parts = five sends: the window's quota is used.
    tokio::time::sleep(Duration::from_millis(400)).await;
    control
        .send_text(&waiting.session_id, "and this is kept")
        .unwrap();
    eventually("the agent told the window closed", || {
        control
            .session(&waiting.session_id)?
            .visitor_texts
            .iter()
            .any(|t| t.contains("reply window is closed"))
            .then_some(())
    })
    .await;
    assert_eq!(
        wechat.sent_texts(&openid).len(),
        5,
        "nothing beyond the quota"
    );
    assert!(
        wechat
            .calls()
            .iter()
            .all(|c| c.errcode != 45047 && c.errcode != 45015),
        "WeChat never had to refuse a send over the quota"
    );
    // The user writes again: the kept line goes out.
    push_text(&user, webhook, "thanks").await;
    eventually("the kept line on the phone", || {
        wechat
            .sent_texts(&openid)
            .last()
            .is_some_and(|t| t == "and this is kept")
            .then_some(())
    })
    .await;
    rig.app.shutdown().await.unwrap();
}
