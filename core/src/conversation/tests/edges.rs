//! Behaviours at the edges a real deployment reaches: an agent side that answers every line
//! (a bot or an auto-responder) while the user's window is closed, channel events that are not
//! messages, text typed while queued when the user gives up, and places without coordinates.

use super::*;

/// Bot-like agent: answers every visitor line at once.
fn answer_every_line(h: &mut Harness, out: Vec<Output>, sent_to_agent: &mut Vec<String>) {
    let mut pending = out;
    while !pending.is_empty() {
        let lines = to_agent(&pending);
        sent_to_agent.extend(lines.iter().cloned());
        pending = Vec::new();
        for line in lines {
            let reply = format!("I read {} characters", line.chars().count());
            pending.extend(h.event(agent_text(&reply)));
        }
        // Every send fails: the window is closed (WeChat 45015).
        for id in send_ids(&pending.clone()) {
            pending.extend(h.input(Input::DeliveryFailed {
                id,
                failure: DeliveryFailure::WindowClosed,
            }));
        }
        assert!(sent_to_agent.len() < 100, "a loop: {sent_to_agent:#?}");
    }
}

#[test]
fn an_agent_that_answers_every_report_cannot_make_the_gateway_write_again() {
    let mut h = Harness::chatting();
    // The user's window closes by time; the agent writes, and its bot answers what it hears.
    h.now = h.now + Duration::from_secs(48 * 3600);
    let mut to_agent_lines = Vec::new();
    let out = h.event(agent_text("are you still there?"));
    answer_every_line(&mut h, out, &mut to_agent_lines);
    assert_eq!(
        to_agent_lines,
        [WINDOW_CLOSED],
        "one notice, answered once, no more"
    );
    // The user writes: what the agent wrote for them goes out first, then the chat goes on.
    let out = h.user(text("sorry, I was away"));
    assert_eq!(to_agent(&out), ["sorry, I was away"]);
    let sent = to_user(&h.advance(2 * SECOND));
    let answer = format!("I read {} characters", WINDOW_CLOSED.chars().count());
    assert_eq!(
        sent,
        [format!("are you still there?\n{answer}")],
        "the agent's own lines, not the notice"
    );
    assert!(sent.iter().all(|t| !t.contains("[Switchboard]")));
}

#[test]
fn kept_lines_beyond_one_message_are_reported_as_lost_with_the_latest_shortened() {
    let mut h = Harness::with(ConversationConfig {
        kept_max_bytes: 40,
        ..ConversationConfig::default()
    });
    h.user(text("hi"));
    h.event(DeskEvent::AgentJoined(andy()));
    h.now = h.now + Duration::from_secs(48 * 3600);
    h.event(agent_text("line one is kept"));
    h.event(agent_text("line two is kept"));
    h.event(agent_text("line three does not fit"));
    let long = "x".repeat(300);
    h.event(agent_text(&format!("line four\nis long {long}")));
    let out = h.user(text("back"));
    let reports = to_agent(&out);
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(
        reports[0].starts_with(
            "[Switchboard] 2 message(s) did not reach the customer before their reply window closed. The latest: line four is long xxx"
        ),
        "{}",
        reports[0]
    );
    assert!(reports[0].ends_with('…'));
    assert!(reports[0].chars().count() < 250, "kept short");
    assert_eq!(reports[1], "back");
    assert_eq!(
        to_user(&h.advance(2 * SECOND)),
        ["line one is kept\nline two is kept"],
        "oldest first"
    );
}

#[test]
fn periodic_location_reports_are_not_chat_lines_but_go_with_the_next_chat_request() {
    let mut h = Harness::chatting();
    let report = UserMessage::LocationReport {
        latitude: 23.1345,
        longitude: 113.3588,
    };
    for _ in 0..10 {
        let out = h.user(report.clone());
        assert!(to_agent(&out).is_empty(), "{out:?}");
        assert!(send_ids(&out).is_empty());
    }
    // They do not open the reply window either (WeChat grants none for them).
    assert_eq!(h.chat.remaining_sends(h.now), 4);
    h.user(text("end"));
    h.event(ended(EndReason::Visitor));
    let out = h.user(text("hello again"));
    let Some(Output::StartChat(request)) = out.iter().find(|o| matches!(o, Output::StartChat(_)))
    else {
        panic!("{out:?}")
    };
    assert!(
        request
            .details
            .iter()
            .any(|d| d.label == "Last known location" && d.value == "23.1345, 113.3588"),
        "{:?}",
        request.details
    );
}

#[test]
fn navigation_and_notifications_reach_the_agent_only_when_forwarded() {
    let view = UserMessage::Navigation {
        kind: "VIEW".into(),
        target: Some("https://shop.example/menu".into()),
    };
    let report = UserMessage::Notification {
        kind: "TEMPLATESENDJOBFINISH".into(),
    };
    let mut quiet = Harness::chatting();
    assert!(to_agent(&quiet.user(view.clone())).is_empty());
    assert!(to_agent(&quiet.user(report.clone())).is_empty());

    let mut h = Harness::with(ConversationConfig {
        forward: Forwarding {
            navigation: true,
            location_reports: true,
            notifications: false,
        },
        ..ConversationConfig::default()
    });
    h.user(text("hi"));
    h.event(DeskEvent::AgentJoined(andy()));
    assert_eq!(
        to_agent(&h.user(view)),
        ["[Customer action] VIEW https://shop.example/menu"]
    );
    assert!(to_agent(&h.user(report)).is_empty());
    let located = UserMessage::LocationReport {
        latitude: 1.5,
        longitude: 2.25,
    };
    assert_eq!(to_agent(&h.user(located)), ["[Location report] 1.5, 2.25"]);
}

#[test]
fn a_navigation_event_never_starts_a_chat() {
    let mut h = Harness::new();
    let out = h.user(UserMessage::Navigation {
        kind: "VIEW".into(),
        target: None,
    });
    assert_eq!(starts(&out), 0);
}

#[test]
fn ending_while_queued_tells_the_user_what_was_not_sent() {
    let mut h = Harness::new();
    h.user(text("my parcel is late"));
    h.event(queued(2));
    h.user(text("order 4411"));
    h.user(text("end"));
    assert_eq!(h.chat.state(), StateKind::Ending);
    // The session never passed the two texts typed while queued to an agent.
    let out = h.event(DeskEvent::Ended {
        reason: EndReason::Visitor,
        unsent: vec!["my parcel is late".into(), "order 4411".into()],
    });
    assert_eq!(
        to_user(&out),
        [
            "You withdrew your request before an agent joined; the 2 message(s) you wrote meanwhile were not sent."
        ]
    );
    // Nothing the desk left unsent (the chat start passed the text on): the plain notice.
    let mut h = Harness::new();
    h.user(text("hello"));
    h.user(text("end"));
    let out = h.event(ended(EndReason::Visitor));
    assert_eq!(
        to_user(&out),
        ["You withdrew your request before an agent joined."]
    );
    // With an agent, ending is ending.
    let mut h = Harness::chatting();
    h.user(text("end"));
    let out = h.event(ended(EndReason::Visitor));
    assert_eq!(
        to_user(&out),
        ["You closed the chat. Thank you for contacting us."]
    );
}

#[test]
fn a_place_without_readable_coordinates_is_described_by_its_name() {
    let mut h = Harness::chatting();
    let out = h.user(UserMessage::UnreadableLocation {
        label: "Tianhe, Guangzhou".into(),
    });
    assert_eq!(
        to_agent(&out),
        ["[Location] Tianhe, Guangzhou (no coordinates)"]
    );
}

#[test]
fn a_snapshot_of_record_format_one_reads_into_this_one() {
    let h = Harness::chatting();
    // Format 1's layout: this release's fields without the two it added, in the same order.
    let mut value = serde_json::to_value(h.chat.snapshot()).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("kept");
    object.remove("last_location");
    let v1: legacy::SnapshotV1 = serde_json::from_value(value).unwrap();
    assert_eq!(&Snapshot::from(v1), h.chat.snapshot());
}

#[test]
fn a_long_agent_text_goes_out_in_parts_each_one_send_of_the_budget() {
    let mut h = Harness::with(ConversationConfig {
        max_text_bytes: 100,
        ..ConversationConfig::default()
    });
    h.user(text("hi"));
    h.event(DeskEvent::AgentJoined(andy())); // 4 sends left
    let long = "word ".repeat(55); // 275 bytes: three messages of at most 100
    h.event(agent_text(long.trim_end()));
    let out = h.advance(2 * SECOND);
    let parts = to_user(&out);
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert!(parts.iter().all(|p| p.len() <= 100 && p.ends_with("word")));
    assert_eq!(parts.join(" "), long.trim_end());
    assert_eq!(h.chat.remaining_sends(h.now), 1, "each part is one send");
    // Two more parts than the budget holds: the first goes, the rest is kept for later.
    h.event(agent_text(long.trim_end()));
    let out = h.advance(2 * SECOND);
    assert_eq!(to_user(&out).len(), 1);
    assert_eq!(h.chat.kept_lines().len(), 1);
    h.user(text("go on"));
    let rest = to_user(&h.advance(2 * SECOND));
    assert_eq!(rest.len(), 2, "{rest:?}");
}

#[test]
fn a_channel_without_typing_is_never_sent_the_indicator() {
    let mut h = Harness::with(ConversationConfig {
        typing: false,
        ..ConversationConfig::default()
    });
    h.user(text("hi"));
    h.event(DeskEvent::AgentJoined(andy()));
    let out = h.event(DeskEvent::AgentTyping(true));
    assert!(send_ids(&out).is_empty());
}
