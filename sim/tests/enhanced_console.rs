//! The agent console on the Enhanced Chat simulator over loopback HTTP: `GET /console` serves
//! the shared page named for this desk, and `/__sim/chats` presents each conversation the way
//! the page reads a chat while the console's actions drive it (accept, text, typing, file,
//! failover, reject, end).

mod enhanced_support;

use enhanced_support::{
    EndUser, Http, Next, PROMPTLY, conversation_id, message_id, quick, start_with,
};
use serde_json::{Value, json};
use switchboard_sim::enhanced::EnhancedAgent;

/// The end user opens a stream and creates conversation `id` with a visitor name and OpenID;
/// returns once it waits for an agent.
async fn waiting_conversation(
    http: &Http,
    agent: &EnhancedAgent,
    id: &str,
) -> (EndUser, enhanced_support::Sse) {
    let user = EndUser::new(http).await;
    let sse = user.stream(None).await;
    let attributes = json!({"Visitor_Name": "Wei Zhang", "WeChat_OpenId": "o6_bmjrPTlm6"});
    let created = user
        .call(
            "POST",
            "/conversation",
            json!({"conversationId": id, "esDeveloperName": "Switchboard_Client",
                   "routingAttributes": attributes}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    agent
        .wait_until(PROMPTLY, |a| {
            a.waiting().into_iter().find(|w| w.conversation_id == id)
        })
        .await
        .expect("the conversation waits for an agent");
    (user, sse)
}

async fn chats(http: &Http) -> Value {
    let answer = http.raw("GET", "/__sim/chats", &[], String::new()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

async fn console_action(http: &Http, id: &str, action: &str, body: Value) -> (u16, Value) {
    let path = format!("/__sim/chats/{id}/{action}");
    let answer = http.raw("POST", &path, &[], body.to_string()).await;
    (answer.status, answer.json())
}

fn lines(chat: &Value) -> Vec<(String, String)> {
    chat["transcript"]
        .as_array()
        .expect("a transcript")
        .iter()
        .map(|l| {
            (
                l["from"].as_str().unwrap_or_default().to_owned(),
                l["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn console_page_is_served_with_this_desks_name() {
    let (_sim, http, _agent) = start_with(quick()).await;
    let page = http.raw("GET", "/console", &[], String::new()).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/html; charset=utf-8")
    );
    assert!(
        page.body
            .contains("<title>Agent console · Enhanced Chat simulator</title>")
    );
    assert!(page.body.contains("/console/console.js"));
    assert!(!page.body.contains("Live Agent"), "{}", page.body);
    let script = http
        .raw("GET", "/console/console.js", &[], String::new())
        .await;
    assert_eq!(script.status, 200);
    assert!(script.body.contains("/__sim/chats"));
    let style = http
        .raw("GET", "/console/console.css", &[], String::new())
        .await;
    assert_eq!(style.status, 200);
    assert!(
        style.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn a_conversation_goes_waiting_then_established_with_a_transcript_then_ended() {
    let (_sim, http, agent) = start_with(quick()).await;
    let conv = conversation_id(1);
    let (user, mut sse) = waiting_conversation(&http, &agent, &conv).await;
    let question = "你好，我想改一下收货地址";
    assert_eq!(user.send(&conv, &message_id(1), question).await.status, 202);

    let all = chats(&http).await;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    let waiting = &all[0];
    assert_eq!(waiting["id"], conv.as_str());
    assert_eq!(waiting["phase"], "waiting");
    assert_eq!(waiting["agent"], Value::Null);
    assert_eq!(waiting["visitorName"], "Wei Zhang");
    assert_eq!(
        waiting["prechat"],
        json!([
            ["Visitor_Name", "Wei Zhang"],
            ["WeChat_OpenId", "o6_bmjrPTlm6"]
        ])
    );
    assert_eq!(waiting["polling"], true, "the end user's stream is open");
    assert_eq!(waiting["moved"], false);
    assert_eq!(waiting["visitorTyping"], false);
    assert_eq!(lines(waiting), vec![("visitor".into(), question.into())]);

    let (status, accepted) =
        console_action(&http, &conv, "accept", json!({"agent": "Li Wei"})).await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(
        (accepted["phase"].as_str(), accepted["agent"].as_str()),
        (Some("established"), Some("Li Wei"))
    );
    sse.until("CONVERSATION_PARTICIPANT_CHANGED").await;

    let (status, typing) = console_action(&http, &conv, "typing", json!({"typing": true})).await;
    assert_eq!(status, 200, "{typing}");
    sse.until("CONVERSATION_TYPING_STARTED_INDICATOR").await;

    let reply = "好的，请把新地址发给我。";
    let (status, answered) = console_action(&http, &conv, "text", json!({"text": reply})).await;
    assert_eq!(status, 200, "{answered}");
    let message = sse.until("CONVERSATION_MESSAGE").await;
    assert_eq!(message.entry()["sender"]["role"], "Agent");
    let address = "上海市浦东新区世纪大道 100 号";
    assert_eq!(user.send(&conv, &message_id(2), address).await.status, 202);

    let chat = http
        .raw("GET", &format!("/__sim/chats/{conv}"), &[], String::new())
        .await
        .json();
    assert_eq!(
        lines(&chat),
        vec![
            ("visitor".into(), question.into()),
            ("agent".into(), reply.into()),
            ("visitor".into(), address.into()),
        ],
        "the transcript is in the order things happened"
    );
    let stamps: Vec<u64> = chat["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["atMs"].as_u64().expect("atMs"))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    assert!(
        stamps[0] > 1_600_000_000_000,
        "Unix milliseconds: {stamps:?}"
    );

    let (status, ended) = console_action(&http, &conv, "end", json!({})).await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(
        (ended["phase"].as_str(), ended["agent"].as_str()),
        (Some("ended"), None)
    );
    assert_eq!(
        lines(&ended).len(),
        3,
        "the transcript outlives the session"
    );
    let (status, _) = console_action(&http, &conv, "text", json!({"text": "late"})).await;
    assert_eq!(status, 409, "no agent after the end");
}

#[tokio::test]
async fn console_failover_cuts_the_subjects_stream_mid_frame() {
    let (_sim, http, agent) = start_with(quick()).await;
    let conv = conversation_id(2);
    let (user, mut sse) = waiting_conversation(&http, &agent, &conv).await;
    let (status, chat) = console_action(&http, &conv, "failover", json!({})).await;
    assert_eq!((status, chat["id"].as_str()), (200, Some(conv.as_str())));
    loop {
        match sse.next(PROMPTLY).await {
            Next::Frame(_) => {}
            Next::Cut => break,
            other => panic!("expected the stream to be cut, got {other:?}"),
        }
    }
    assert!(
        agent
            .wait_until(PROMPTLY, |a| (a.open_streams(&user.subject) == 0)
                .then_some(()))
            .await
            .is_some()
    );
    assert_eq!(chats(&http).await[0]["polling"], false);

    let _again = user.stream(None).await;
    assert!(agent.wait_for_streams(&user.subject, 1, PROMPTLY).await);
    let every = http
        .raw("POST", "/__sim/failover", &[], String::new())
        .await;
    assert_eq!((every.status, every.json()), (200, json!({"streams": 1})));
}

#[tokio::test]
async fn console_actions_refuse_files_unknown_chats_and_wrong_methods_and_reject_ends_routing() {
    let (_sim, http, agent) = start_with(quick()).await;
    let conv = conversation_id(3);
    let (_user, _sse) = waiting_conversation(&http, &agent, &conv).await;

    let (status, file) = console_action(&http, &conv, "file", json!({})).await;
    assert_eq!(status, 422);
    assert!(
        file["error"]
            .as_str()
            .is_some_and(|e| e.contains("not modelled")),
        "{file}"
    );
    assert_eq!(
        console_action(&http, "nope", "accept", json!({"agent": "A"}))
            .await
            .0,
        404
    );
    assert_eq!(
        console_action(&http, &conv, "accept", json!({})).await.0,
        400
    );
    assert_eq!(
        console_action(&http, &conv, "expire", json!({})).await.0,
        404
    );
    let put = http.raw("PUT", "/__sim/chats", &[], String::new()).await;
    assert_eq!(put.status, 405);
    let get = http.raw("GET", "/__sim/failover", &[], String::new()).await;
    assert_eq!(get.status, 405);
    let own = http
        .raw("GET", "/__sim/conversations", &[], String::new())
        .await;
    assert_eq!(
        own.json()[0]["session"],
        "waiting",
        "the simulator's own routes still answer"
    );

    let (status, rejected) =
        console_action(&http, &conv, "reject", json!({"reason": "Unavailable"})).await;
    assert_eq!((status, rejected["phase"].as_str()), (200, Some("ended")));
    assert_eq!(
        console_action(&http, &conv, "reject", json!({})).await.0,
        409
    );
}
