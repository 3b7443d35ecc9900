//! Per-behaviour unit tests of the conversation machine.

use std::time::Duration;

use super::*;
use crate::desk::{Agent, ChatStart, DeskEnd, DeskEvent, DeskRequest, Detail, EndReason};

const SECOND: Duration = Duration::from_secs(1);

struct Harness {
    chat: Conversation,
    now: Timestamp,
}

fn user_ref() -> UserRef {
    UserRef {
        id: "oyORnuP8q7ou2gfYjqLzSIWZf0rs".into(),
        nickname: Some("Wei".into()),
        channel: "wechat".into(),
    }
}

fn andy() -> Agent {
    Agent {
        name: "Andy".into(),
        id: "005B0000000Andy".into(),
    }
}

fn text(s: &str) -> UserMessage {
    UserMessage::Text(s.into())
}

fn agent_text(s: &str) -> DeskEvent {
    DeskEvent::AgentText(s.into())
}

fn ended(reason: EndReason) -> DeskEvent {
    DeskEvent::Ended {
        reason,
        unsent: Vec::new(),
    }
}

fn queued(position: i64) -> DeskEvent {
    DeskEvent::Queued {
        position: Some(position),
        wait_secs: None,
    }
}

/// Texts sent to the user.
fn to_user(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                message: ToUser::Text(t),
                ..
            } => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// Ids of every send.
fn send_ids(out: &[Output]) -> Vec<DeliveryId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// Texts passed to the session.
fn to_agent(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Desk(DeskRequest::Text(t)) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn starts(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::StartChat(_)))
        .count()
}

impl Harness {
    fn new() -> Harness {
        Harness::with(ConversationConfig::default())
    }

    fn with(config: ConversationConfig) -> Harness {
        let now = Timestamp::from_millis(1_000_000);
        Harness {
            chat: Conversation::new(config, user_ref(), now),
            now,
        }
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        self.chat.handle(input, self.now).expect("legal input");
        std::iter::from_fn(|| self.chat.poll_output()).collect()
    }

    fn user(&mut self, message: UserMessage) -> Vec<Output> {
        self.input(Input::User(message))
    }

    fn event(&mut self, event: DeskEvent) -> Vec<Output> {
        self.input(Input::Desk(event))
    }

    fn advance(&mut self, by: Duration) -> Vec<Output> {
        self.now = self.now + by;
        self.input(Input::Timeout)
    }

    /// A chat with Andy, started by "hi"; the user has used one send (the join notice).
    fn chatting() -> Harness {
        let mut h = Harness::new();
        h.user(text("hi"));
        h.event(DeskEvent::AgentJoined(andy()));
        h
    }
}

#[test]
fn first_message_starts_a_chat_and_is_forwarded() {
    let mut h = Harness::new();
    assert!(!h.chat.has_live_chat());
    let out = h.user(text("Where is my order?"));
    let request = ChatStart {
        visitor_name: "Wei".into(),
        language: "en-US".into(),
        details: vec![
            Detail::new("User id", "oyORnuP8q7ou2gfYjqLzSIWZf0rs"),
            Detail::new("Nickname", "Wei"),
        ],
    };
    assert_eq!(
        out,
        vec![
            Output::Persist,
            Output::StartChat(request),
            Output::Desk(DeskRequest::Text("Where is my order?".into())),
        ]
    );
    assert!(h.chat.has_live_chat());
    assert_eq!(h.chat.state(), StateKind::Waiting);
    assert_eq!(h.chat.snapshot().chats_started(), 1);
}

#[test]
fn a_user_without_nickname_is_named_by_a_short_id() {
    let user = UserRef {
        id: "oyORnuP8q7ou2gfYjqLzSIWZf0rs".into(),
        nickname: None,
        channel: "line".into(),
    };
    let config = ConversationConfig {
        user_id_label: "LINE user id".into(),
        ..ConversationConfig::default()
    };
    let mut chat = Conversation::new(config, user, Timestamp::from_millis(0));
    chat.handle(Input::User(text("hi")), Timestamp::from_millis(0))
        .unwrap();
    let out: Vec<Output> = std::iter::from_fn(|| chat.poll_output()).collect();
    let Some(Output::StartChat(request)) = out.get(1) else {
        panic!("{out:?}")
    };
    assert_eq!(request.visitor_name, "…WZf0rs");
    assert_eq!(
        request.details,
        vec![Detail::new("LINE user id", "oyORnuP8q7ou2gfYjqLzSIWZf0rs")],
        "the channel names its ids"
    );
}

#[test]
fn the_chat_request_names_the_channel_first_when_it_has_a_name() {
    let user = UserRef {
        id: "5512345678".into(),
        nickname: Some("Ana".into()),
        channel: "tg".into(),
    };
    let config = ConversationConfig {
        channel_name: "Telegram".into(),
        user_id_label: "Telegram chat id".into(),
        ..ConversationConfig::default()
    };
    let mut chat = Conversation::new(config, user, Timestamp::from_millis(0));
    chat.handle(Input::User(text("hi")), Timestamp::from_millis(0))
        .unwrap();
    let out: Vec<Output> = std::iter::from_fn(|| chat.poll_output()).collect();
    let Some(Output::StartChat(request)) = out.get(1) else {
        panic!("{out:?}")
    };
    assert_eq!(
        request.details,
        vec![
            Detail::new("Channel", "Telegram"),
            Detail::new("Telegram chat id", "5512345678"),
            Detail::new("Nickname", "Ana"),
        ]
    );
}

#[test]
fn start_keywords_gate_the_chat_and_are_not_forwarded() {
    let mut h = Harness::with(ConversationConfig {
        start_keywords: vec!["Agent".into(), "contact_us".into()],
        ..ConversationConfig::default()
    });
    let out = h.user(text("hello?"));
    assert_eq!(starts(&out), 0);
    assert!(to_agent(&out).is_empty());
    let out = h.user(UserMessage::MenuClick {
        key: "other_button".into(),
    });
    assert_eq!(starts(&out), 0);
    let out = h.user(text("  agent "));
    assert_eq!(starts(&out), 1);
    assert!(
        to_agent(&out).is_empty(),
        "the keyword is a command: {out:?}"
    );
    h.event(ended(EndReason::Visitor));
    let out = h.user(UserMessage::MenuClick {
        key: "contact_us".into(),
    });
    assert_eq!(starts(&out), 1);
}

#[test]
fn an_end_keyword_without_a_chat_starts_nothing() {
    let mut h = Harness::new();
    let out = h.user(text("END"));
    assert_eq!(starts(&out), 0);
    assert!(!h.chat.has_live_chat());
}

#[test]
fn text_typed_while_queued_is_passed_on_in_order() {
    let mut h = Harness::new();
    h.user(text("one"));
    h.event(queued(3));
    let mut forwarded = Vec::new();
    for t in ["two", "three"] {
        forwarded.extend(to_agent(&h.user(text(t))));
    }
    assert_eq!(forwarded, ["two", "three"]);
    assert_eq!(starts(&h.user(text("four"))), 0);
}

#[test]
fn queue_notices_only_on_change_and_throttled() {
    let mut h = Harness::new();
    h.user(text("hi"));
    let out = h.event(DeskEvent::Queued {
        position: Some(2),
        wait_secs: Some(90),
    });
    assert_eq!(
        to_user(&out),
        ["You are number 3 in the queue. Expected wait: about 2 min."]
    );
    // Same position: nothing, and nothing to wake up for.
    assert!(to_user(&h.event(queued(2))).is_empty());
    assert_eq!(h.chat.poll_timeout(), None);
    // Changed within the interval: held back until the interval is over.
    h.now = h.now + 10 * SECOND;
    assert!(to_user(&h.event(queued(1))).is_empty());
    assert!(to_user(&h.event(queued(0))).is_empty());
    let due = h.chat.poll_timeout().expect("a notice is due later");
    assert_eq!(due, Timestamp::from_millis(1_000_000) + 30 * SECOND);
    let out = h.advance(20 * SECOND);
    assert_eq!(to_user(&out), ["You are number 1 in the queue."]);
    assert_eq!(h.chat.poll_timeout(), None);
    // Changed after the interval: told at once.
    h.now = h.now + 31 * SECOND;
    assert_eq!(
        to_user(&h.event(queued(1))),
        ["You are number 2 in the queue."]
    );
}

#[test]
fn a_queue_report_without_position_says_please_wait_once() {
    let mut h = Harness::new();
    h.user(text("hi"));
    let report = DeskEvent::Queued {
        position: None,
        wait_secs: None,
    };
    assert_eq!(
        to_user(&h.event(report.clone())),
        ["Please hold on, we are finding an agent for you."]
    );
    h.now = h.now + 60 * SECOND;
    assert!(to_user(&h.event(report)).is_empty());
}

#[test]
fn announces_the_agent_and_transfers_by_name() {
    let mut h = Harness::new();
    h.user(text("hi"));
    let out = h.event(DeskEvent::AgentJoined(andy()));
    assert_eq!(to_user(&out), ["Andy is now with you."]);
    assert_eq!(h.chat.state(), StateKind::Chatting);
    let bea = Agent {
        name: "Bea".into(),
        id: "005B0000000Bea".into(),
    };
    let out = h.event(DeskEvent::Transferred(bea));
    assert_eq!(to_user(&out), ["Your chat was passed to Bea."]);
}

#[test]
fn relays_agent_typing_without_using_the_quota() {
    let mut h = Harness::chatting();
    let before = h.chat.remaining_sends(h.now);
    let out = h.event(DeskEvent::AgentTyping(true));
    assert!(matches!(
        out.as_slice(),
        [
            Output::Persist,
            Output::Send {
                message: ToUser::Typing,
                ..
            }
        ]
    ));
    // Still showing: not sent again.
    h.now = h.now + 5 * SECOND;
    assert!(send_ids(&h.event(DeskEvent::AgentTyping(true))).is_empty());
    h.now = h.now + 15 * SECOND;
    assert_eq!(send_ids(&h.event(DeskEvent::AgentTyping(true))).len(), 1);
    assert_eq!(h.chat.remaining_sends(h.now), before);
}

#[test]
fn merges_agent_lines_within_the_window() {
    let mut h = Harness::chatting();
    assert!(send_ids(&h.event(agent_text("Hello Wei"))).is_empty());
    h.now = h.now + Duration::from_millis(500);
    assert!(send_ids(&h.event(agent_text("let me check"))).is_empty());
    assert_eq!(
        h.chat.poll_timeout(),
        Some(h.now + Duration::from_millis(1_500))
    );
    let out = h.advance(Duration::from_millis(1_500));
    assert_eq!(to_user(&out), ["Hello Wei\nlet me check"]);
    // The next line starts a new message.
    h.event(agent_text("found it"));
    assert_eq!(to_user(&h.advance(2 * SECOND)), ["found it"]);
}

#[test]
fn agent_lines_go_out_before_a_later_notice() {
    let mut h = Harness::chatting();
    h.event(agent_text("bye for now"));
    let out = h.event(ended(EndReason::Agent));
    assert_eq!(
        to_user(&out),
        [
            "bye for now",
            "Andy closed the chat. Write to us any time if you need more help."
        ]
    );
    assert!(to_agent(&out).is_empty(), "the session is over: {out:?}");
}

#[test]
fn end_keyword_ends_the_chat_and_the_next_message_starts_a_new_one() {
    let mut h = Harness::chatting();
    let out = h.user(text(" End "));
    assert_eq!(out, vec![Output::Persist, Output::Desk(DeskRequest::End)]);
    assert_eq!(h.chat.state(), StateKind::Ending);
    let out = h.event(ended(EndReason::Visitor));
    assert_eq!(
        to_user(&out),
        ["You closed the chat. Thank you for contacting us."]
    );
    assert!(!h.chat.has_live_chat());
    let out = h.user(text("one more question"));
    assert_eq!(starts(&out), 1);
    assert_eq!(to_agent(&out), ["one more question"]);
    assert_eq!(h.chat.snapshot().chats_started(), 2);
}

#[test]
fn messages_written_while_ending_wait_for_the_next_chat() {
    let mut h = Harness::chatting();
    h.user(text("结束"));
    let out = h.user(text("actually, one more thing"));
    assert!(to_agent(&out).is_empty());
    assert_eq!(starts(&out), 0);
    let out = h.event(ended(EndReason::Visitor));
    assert_eq!(starts(&out), 1);
    assert_eq!(to_agent(&out), ["actually, one more thing"]);
}

#[test]
fn unsubscribe_ends_the_chat_and_closes_the_window() {
    let mut h = Harness::chatting();
    let out = h.user(UserMessage::Unsubscribe);
    assert!(out.contains(&Output::Desk(DeskRequest::End)));
    assert_eq!(h.chat.remaining_sends(h.now), 0);
    let out = h.event(ended(EndReason::Visitor));
    assert!(
        send_ids(&out).is_empty(),
        "the user cannot receive: {out:?}"
    );
}

#[test]
fn explains_why_the_chat_ended() {
    let cases = [
        (
            EndReason::Desk(DeskEnd::NoAgent),
            "Sorry, no agent can take your chat right now. Please try again later.",
        ),
        (
            EndReason::Desk(DeskEnd::Other("maintenance".into())),
            "The chat is over.",
        ),
        (
            EndReason::Desk(DeskEnd::Expired),
            "The chat session timed out. Write again to start a new chat.",
        ),
        (
            EndReason::Unreachable,
            "We lost the connection to our agents. Write again to start a new chat.",
        ),
        (
            EndReason::Desk(DeskEnd::VisitorIdle),
            "The chat was closed after a period without activity.",
        ),
        (EndReason::Agent, "The chat is over."),
    ];
    for (reason, expected) in cases {
        let mut h = Harness::new();
        h.user(text("hi"));
        let out = h.event(ended(reason.clone()));
        assert_eq!(to_user(&out), [expected], "{reason:?}");
        assert!(!h.chat.has_live_chat());
    }
}

#[test]
fn describes_non_text_messages_for_the_agent() {
    let mut h = Harness::chatting();
    let out = h.user(UserMessage::Voice {
        media_id: "v1".into(),
        recognition: None,
    });
    assert_eq!(
        to_agent(&out),
        ["[Voice message, no transcription available]"]
    );
    let out = h.user(UserMessage::Location {
        latitude: 31.2304,
        longitude: 121.4737,
        label: "People's Square".into(),
    });
    assert_eq!(
        to_agent(&out),
        ["[Location] People's Square (31.2304, 121.4737)"]
    );
    let out = h.user(UserMessage::Other {
        kind: "shortvideo".into(),
    });
    assert_eq!(to_agent(&out), ["[Unsupported message type: shortvideo]"]);
    // Menu clicks and follows are not for the agent.
    assert!(to_agent(&h.user(UserMessage::MenuClick { key: "k".into() })).is_empty());
    assert!(to_agent(&h.user(UserMessage::Subscribe)).is_empty());
}

#[test]
fn a_picture_as_first_message_starts_a_chat_with_its_link() {
    let mut h = Harness::new();
    let out = h.user(UserMessage::Image {
        media_id: "m1".into(),
        url: Some("http://mmbiz.qpic.cn/a.jpg".into()),
    });
    assert_eq!(starts(&out), 1);
    assert_eq!(to_agent(&out), ["[Picture] http://mmbiz.qpic.cn/a.jpg"]);
}

#[test]
fn answers_a_file_request_with_the_next_picture() {
    let mut h = Harness::chatting();
    let out = h.event(DeskEvent::FileRequested);
    assert_eq!(
        to_user(&out),
        ["Andy would like a picture. Please send one here."]
    );
    assert!(h.chat.file_requested());
    // A picture without a link cannot answer it.
    let out = h.user(UserMessage::Image {
        media_id: "m0".into(),
        url: None,
    });
    assert_eq!(to_agent(&out), ["[Picture, no link available]"]);
    assert!(h.chat.file_requested());
    let out = h.user(UserMessage::Image {
        media_id: "m1".into(),
        url: Some("http://mmbiz.qpic.cn/b.jpg".into()),
    });
    assert_eq!(
        to_agent(&out),
        ["[Requested picture] http://mmbiz.qpic.cn/b.jpg"]
    );
    assert!(!h.chat.file_requested());
}

#[test]
fn warns_the_agent_once_when_few_sends_remain() {
    let mut h = Harness::chatting(); // 4 left
    let mut warnings = Vec::new();
    for line in ["a", "b", "c"] {
        h.event(agent_text(line));
        warnings.extend(to_agent(&h.advance(2 * SECOND)));
    }
    assert_eq!(
        warnings,
        ["[Switchboard] The customer can receive 1 more message(s) until they write again."]
    );
    // A new user message refills the budget and re-arms the warning.
    h.user(text("ok"));
    assert_eq!(h.chat.remaining_sends(h.now), 5);
}

#[test]
fn agent_lines_written_while_the_window_is_closed_are_kept_and_sent_when_the_user_writes() {
    // Budget used up.
    let mut h = Harness::chatting();
    for line in ["a", "b", "c", "d"] {
        h.event(agent_text(line));
        h.advance(2 * SECOND);
    }
    assert_eq!(h.chat.remaining_sends(h.now), 0);
    let out = h.event(agent_text("are you there?"));
    assert!(send_ids(&out).is_empty());
    assert_eq!(
        to_agent(&out),
        [WINDOW_CLOSED],
        "told once, without the text"
    );
    let out = h.event(agent_text("still there?"));
    assert!(to_agent(&out).is_empty(), "once per closure");
    // The user writes: the kept lines go out first, as one message.
    let out = h.user(text("yes"));
    assert_eq!(to_agent(&out), ["yes"]);
    let out = h.advance(2 * SECOND);
    assert_eq!(to_user(&out), ["are you there?\nstill there?"]);
    assert_eq!(h.chat.remaining_sends(h.now), 4);

    // Window expired by time.
    let mut h = Harness::chatting();
    h.now = h.now + Duration::from_secs(48 * 3600);
    let out = h.event(agent_text("hello?"));
    assert!(send_ids(&out).is_empty());
    assert_eq!(to_agent(&out), [WINDOW_CLOSED]);
}

const WINDOW_CLOSED: &str = "[Switchboard] The customer's reply window is closed: what you write now is kept and sent when they write again.";

#[test]
fn a_line_that_would_leave_after_the_window_closes_is_kept_at_once() {
    let mut h = Harness::chatting();
    h.now = h.now + (Duration::from_secs(48 * 3600) - SECOND);
    let out = h.event(agent_text("late"));
    assert_eq!(to_agent(&out), [WINDOW_CLOSED]);
    assert_eq!(h.chat.poll_timeout(), None);
    h.user(text("back"));
    assert_eq!(to_user(&h.advance(2 * SECOND)), ["late"]);
}

#[test]
fn a_send_refused_as_the_window_closes_is_reported_once_when_it_reopens() {
    let mut h = Harness::chatting();
    h.event(agent_text("first"));
    let out = h.advance(2 * SECOND);
    let id = send_ids(&out)[0];
    // Another line waits to be merged when the failure comes back.
    h.event(agent_text("second"));
    let out = h.input(Input::DeliveryFailed {
        id,
        failure: DeliveryFailure::WindowClosed,
    });
    assert_eq!(to_agent(&out), [WINDOW_CLOSED], "{out:?}");
    assert_eq!(h.chat.remaining_sends(h.now), 0);
    assert_eq!(h.chat.poll_timeout(), None);
    assert!(send_ids(&h.advance(5 * SECOND)).is_empty());
    // The refused send is not sent again (it would now arrive after lines that did); the
    // waiting one is.
    let out = h.user(text("hello"));
    assert_eq!(
        to_agent(&out),
        [
            "[Switchboard] 1 message(s) did not reach the customer before their reply window closed. The latest: first",
            "hello"
        ]
    );
    assert_eq!(to_user(&h.advance(2 * SECOND)), ["second"]);
}

#[test]
fn a_failed_notice_tells_the_agent_the_window_closed_once() {
    let mut h = Harness::new();
    h.user(text("hi"));
    let notice = send_ids(&h.event(queued(4)))[0];
    h.now = h.now + 31 * SECOND;
    let second = send_ids(&h.event(queued(3)))[0];
    let out = h.input(Input::DeliveryFailed {
        id: notice,
        failure: DeliveryFailure::QuotaExhausted,
    });
    assert_eq!(to_agent(&out), [WINDOW_CLOSED]);
    let out = h.input(Input::DeliveryFailed {
        id: second,
        failure: DeliveryFailure::QuotaExhausted,
    });
    assert!(to_agent(&out).is_empty());
}

#[test]
fn failures_from_an_older_window_do_not_close_the_new_one() {
    let mut h = Harness::chatting();
    h.event(agent_text("first"));
    let id = send_ids(&h.advance(2 * SECOND))[0];
    h.user(text("thanks"));
    let out = h.input(Input::DeliveryFailed {
        id,
        failure: DeliveryFailure::WindowClosed,
    });
    assert_eq!(
        to_agent(&out),
        [
            "[Switchboard] 1 message(s) did not reach the customer before their reply window closed. The latest: first"
        ],
        "reported at once: the window the user reopened is open"
    );
    assert_eq!(h.chat.remaining_sends(h.now), 5);
}

#[test]
fn gave_up_delivery_is_reported_to_the_agent() {
    let mut h = Harness::chatting();
    h.event(agent_text("your code is 1234"));
    let id = send_ids(&h.advance(2 * SECOND))[0];
    let out = h.input(Input::DeliveryFailed {
        id,
        failure: DeliveryFailure::GaveUp("HTTP 502".into()),
    });
    assert_eq!(
        to_agent(&out),
        [
            "[Switchboard] 1 message(s) could not be delivered to the customer (HTTP 502). The latest: your code is 1234"
        ]
    );
    // A repeated report for the same send is ignored.
    let out = h.input(Input::DeliveryFailed {
        id,
        failure: DeliveryFailure::GaveUp("HTTP 502".into()),
    });
    assert!(out.is_empty());
}

#[test]
fn notices_the_user_cannot_receive_are_dropped() {
    let mut h = Harness::with(ConversationConfig {
        window_budget: 1,
        budget_warning_at: 0,
        ..ConversationConfig::default()
    });
    h.user(text("hi"));
    assert_eq!(to_user(&h.event(queued(1))).len(), 1);
    let out = h.event(DeskEvent::AgentJoined(andy()));
    assert!(send_ids(&out).is_empty());
    assert_eq!(h.chat.poll_timeout(), None, "nothing is kept for later");
}

#[test]
fn session_events_without_a_chat_are_refused_and_change_nothing() {
    let mut h = Harness::new();
    let before = h.chat.snapshot().clone();
    assert_eq!(
        h.chat
            .handle(Input::Desk(DeskEvent::AgentTyping(true)), h.now),
        Err(ConversationError::NoLiveChat)
    );
    assert_eq!(
        h.chat.handle(Input::Delivered { id: DeliveryId(0) }, h.now),
        Err(ConversationError::UnknownDelivery(DeliveryId(0)))
    );
    assert_eq!(h.chat.snapshot(), &before);
    assert_eq!(h.chat.poll_output(), None);
}

#[test]
fn restores_from_a_json_snapshot_and_goes_on_the_same_way() {
    let mut h = Harness::chatting();
    h.event(agent_text("pending line"));
    let json = serde_json::to_string(h.chat.snapshot()).unwrap();
    let snapshot: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(&snapshot, h.chat.snapshot());
    let mut restored = Harness {
        chat: Conversation::restore(ConversationConfig::default(), snapshot, h.now),
        now: h.now,
    };
    assert_eq!(restored.chat.poll_output(), None);
    assert_eq!(restored.chat.poll_timeout(), h.chat.poll_timeout());
    assert_eq!(restored.advance(2 * SECOND), h.advance(2 * SECOND));
}

#[test]
fn chinese_templates_are_used_for_the_chat_language() {
    let mut h = Harness::with(ConversationConfig {
        templates: Templates::simplified_chinese(),
        ..ConversationConfig::default()
    });
    let out = h.user(text("你好"));
    let Some(Output::StartChat(request)) = out.get(1) else {
        panic!("{out:?}")
    };
    assert_eq!(request.language, "zh-CN");
    let out = h.event(DeskEvent::AgentJoined(andy()));
    assert_eq!(to_user(&out), ["客服 Andy 已为您服务。"]);
}

#[test]
fn a_late_wake_up_past_the_window_end_reports_instead_of_sending() {
    let mut h = Harness::chatting();
    h.now = h.now + (Duration::from_secs(48 * 3600) - 3 * SECOND);
    assert!(to_agent(&h.event(agent_text("just in time?"))).is_empty());
    let out = h.advance(10 * SECOND);
    assert!(send_ids(&out).is_empty());
    assert_eq!(to_agent(&out).len(), 1);
}

#[test]
fn an_operator_ends_a_live_chat_like_the_user_would_and_not_an_idle_one() {
    let mut idle = Harness::new();
    assert_eq!(
        idle.chat.handle(Input::EndChat, Timestamp::from_millis(0)),
        Err(ConversationError::NoLiveChat)
    );
    let mut h = Harness::chatting();
    let out = h.input(Input::EndChat);
    assert_eq!(out, vec![Output::Persist, Output::Desk(DeskRequest::End)]);
    assert_eq!(h.chat.state(), StateKind::Ending);
    // Text typed before the session confirms the end is held, not sent to the ending chat.
    assert!(to_agent(&h.user(text("wait"))).is_empty());
}

mod edges;
