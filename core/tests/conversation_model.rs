//! Property test of the conversation machine: random interleavings of user messages, session
//! events in a valid order, delivery outcomes, timeouts and restarts, with the invariants
//! checked after every step.
//!
//! The driver here is punctual (it wakes at `poll_timeout`), and every step is replayed on a
//! machine restored from the JSON snapshot, which must produce the same outputs and state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use switchboard_core::conversation::{
    Conversation, ConversationConfig, DeliveryFailure, DeliveryId, Input, Output, Snapshot, ToUser,
    UserMessage, UserRef,
};
use switchboard_core::desk::{Agent, DeskEnd, DeskEvent, DeskRequest, EndReason};
use switchboard_core::time::Timestamp;

const WINDOW: Duration = Duration::from_secs(60);
const BUDGET: u32 = 3;

fn config() -> ConversationConfig {
    ConversationConfig {
        queue_notice_interval: Duration::from_secs(5),
        merge_window: Duration::from_secs(2),
        window_budget: BUDGET,
        window: WINDOW,
        budget_warning_at: 1,
        ..ConversationConfig::default()
    }
}

/// One generated step.
#[derive(Debug, Clone)]
enum Step {
    /// A user text (tagged), the end keyword, a picture, a menu click, follow or unfollow.
    User(u8),
    /// The live session's next event, chosen among the valid ones.
    Session(u8),
    /// The outcome of one outstanding send.
    Deliver { pick: usize, outcome: u8 },
    /// Time passes; the driver wakes at every timer on the way.
    Advance(u64),
    /// The process restarts from the stored snapshot.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => any::<u8>().prop_map(Step::User),
        6 => any::<u8>().prop_map(Step::Session),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(pick, outcome)| Step::Deliver { pick, outcome }),
        3 => (0u64..30_000).prop_map(Step::Advance),
        1 => Just(Step::Restart),
    ]
}

/// What the test knows about the live session it pretends to run.
#[derive(Debug, Clone, Copy)]
struct Live {
    joined: bool,
    visitor_ended: bool,
}

#[derive(Debug, Default)]
struct Model {
    live: Option<Live>,
    next_user: u32,
    next_agent: u32,
    /// Outstanding sends: id → (window number, agent line tags it carries).
    pending: BTreeMap<u64, (u32, Vec<u32>)>,
    /// Window bookkeeping: number, when it opened, text sends in it, closed by a failure.
    window: u32,
    window_opened: Option<Timestamp>,
    sends_in_window: u32,
    closed_by_failure: bool,
    /// Tags forwarded / delivered so far, for order checks.
    last_user_forwarded: Option<u32>,
    last_agent_sent: Option<u32>,
    agent_fed: BTreeSet<u32>,
    agent_sent: BTreeSet<u32>,
    agent_reported: BTreeMap<u32, u32>,
    /// Agent lines in sends the channel refused as the window closed (counted as lost).
    refused_lines: u32,
    /// Lost lines the agent was told about, by count.
    lost_reported: u32,
}

struct Run {
    chat: Conversation,
    now: Timestamp,
    model: Model,
}

fn tags(text: &str, prefix: &str) -> Vec<u32> {
    text.split(|c: char| c.is_whitespace() || c == ':')
        .filter_map(|w| w.strip_prefix(prefix)?.parse().ok())
        .collect()
}

impl Run {
    fn new() -> Run {
        let user = UserRef {
            id: "oUser0000000001".into(),
            nickname: None,
            channel: "wechat".into(),
        };
        let now = Timestamp::from_millis(0);
        Run {
            chat: Conversation::new(config(), user, now),
            now,
            model: Model::default(),
        }
    }

    /// Feeds `input` to the machine and to a twin restored from the JSON snapshot; both must
    /// agree. Then checks the outputs against the invariants.
    fn feed(&mut self, input: Input, user_tag: Option<u32>) {
        let json = serde_json::to_string(self.chat.snapshot()).expect("snapshot encodes");
        let snapshot: Snapshot = serde_json::from_str(&json).expect("snapshot decodes");
        assert_eq!(&snapshot, self.chat.snapshot(), "JSON round trip");
        let mut twin = Conversation::restore(config(), snapshot, self.now);
        assert_eq!(twin.poll_timeout(), self.chat.poll_timeout());

        let live_before = self.model.live;
        self.chat
            .handle(input.clone(), self.now)
            .expect("legal input");
        twin.handle(input.clone(), self.now).expect("legal input");
        let out: Vec<Output> = std::iter::from_fn(|| self.chat.poll_output()).collect();
        let twin_out: Vec<Output> = std::iter::from_fn(|| twin.poll_output()).collect();
        assert_eq!(out, twin_out, "a restored machine acts the same");
        assert_eq!(twin.snapshot(), self.chat.snapshot());
        assert_eq!(twin.poll_timeout(), self.chat.poll_timeout());

        self.check(&input, &out, live_before, user_tag);
    }

    fn check(
        &mut self,
        input: &Input,
        out: &[Output],
        live_before: Option<Live>,
        user_tag: Option<u32>,
    ) {
        let m = &mut self.model;
        // Persist at most once, and first.
        let persists = out.iter().filter(|o| matches!(o, Output::Persist)).count();
        assert!(persists <= 1, "{out:?}");
        if persists == 1 {
            assert_eq!(out[0], Output::Persist);
        }
        if let Input::Desk(DeskEvent::Ended { .. }) = input {
            m.live = None;
        }
        let mut forwarded_this_step = Vec::new();
        for o in out {
            match o {
                Output::Persist => {}
                Output::Retry { .. } => panic!("a retry, but every failure fed was final: {out:?}"),
                Output::StartChat(_) => {
                    assert!(m.live.is_none(), "StartChat while a chat is live: {out:?}");
                    m.live = Some(Live {
                        joined: false,
                        visitor_ended: false,
                    });
                }
                Output::Desk(action) => {
                    let live = m.live.expect("visitor action without a live chat");
                    assert!(!live.visitor_ended, "visitor action after End: {out:?}");
                    match action {
                        DeskRequest::End => {
                            m.live = Some(Live {
                                visitor_ended: true,
                                ..live
                            });
                        }
                        DeskRequest::Text(text) if text.starts_with("[Switchboard]") => {
                            for tag in tags(text, "agent-") {
                                *m.agent_reported.entry(tag).or_default() += 1;
                            }
                            if text.contains("did not reach the customer") {
                                let count: u32 = text["[Switchboard] ".len()..]
                                    .split(' ')
                                    .next()
                                    .and_then(|n| n.parse().ok())
                                    .expect("a lost report starts with its count");
                                m.lost_reported += count;
                            }
                        }
                        DeskRequest::Text(text) => {
                            for tag in tags(text, "user-") {
                                assert!(
                                    m.last_user_forwarded.is_none_or(|last| tag > last),
                                    "user text out of order or twice: {tag} after {:?}",
                                    m.last_user_forwarded
                                );
                                m.last_user_forwarded = Some(tag);
                                forwarded_this_step.push(tag);
                            }
                        }
                        other => panic!("unexpected visitor action {other:?}"),
                    }
                }
                Output::Send { id, message } => {
                    let carried = match message {
                        ToUser::Text(text) => tags(text, "agent-"),
                        ToUser::Typing | ToUser::Image { .. } => Vec::new(),
                    };
                    assert!(
                        m.pending.insert(id.0, (m.window, carried)).is_none(),
                        "id reused"
                    );
                    match message {
                        ToUser::Text(text) => {
                            let opened =
                                m.window_opened.expect("text sent before any user message");
                            assert!(self.now < opened + WINDOW, "sent after the window closed");
                            assert!(!m.closed_by_failure, "sent after the channel said closed");
                            m.sends_in_window += 1;
                            assert!(m.sends_in_window <= BUDGET, "over budget: {out:?}");
                            for tag in tags(text, "agent-") {
                                assert!(m.agent_sent.insert(tag), "agent text sent twice");
                                assert!(
                                    m.last_agent_sent.is_none_or(|last| tag > last),
                                    "agent text out of order"
                                );
                                m.last_agent_sent = Some(tag);
                            }
                        }
                        ToUser::Typing => {}
                        ToUser::Image { .. } => panic!("no image is ever sent"),
                    }
                }
            }
        }
        // A user text typed into a live chat goes to the agent at once.
        if let (Some(tag), Some(live)) = (user_tag, live_before)
            && !live.visitor_ended
        {
            assert_eq!(forwarded_this_step, vec![tag], "{out:?}");
        }
        if let Input::Desk(DeskEvent::AgentJoined(_)) = input
            && let Some(live) = &mut m.live
        {
            live.joined = true;
        }
        // Reports to the agent never quote a report.
        for text in out.iter().filter_map(|o| match o {
            Output::Desk(DeskRequest::Text(t)) => Some(t),
            _ => None,
        }) {
            assert!(
                text.matches("[Switchboard]").count() <= 1,
                "a report quotes a report: {text}"
            );
        }
    }

    fn user(&mut self, choice: u8) {
        let (message, tag) = match choice % 10 {
            0..=4 => {
                let tag = self.model.next_user;
                self.model.next_user += 1;
                (UserMessage::Text(format!("user-{tag}")), Some(tag))
            }
            5 => (UserMessage::Text("end".into()), None),
            6 => (
                UserMessage::Image {
                    media_id: "m".into(),
                    url: Some("http://img".into()),
                },
                None,
            ),
            7 => (UserMessage::MenuClick { key: "k".into() }, None),
            8 => (UserMessage::Subscribe, None),
            _ => (UserMessage::Unsubscribe, None),
        };
        match &message {
            UserMessage::Text(_) | UserMessage::Image { .. } | UserMessage::MenuClick { .. } => {
                self.model.window += 1;
                self.model.window_opened = Some(self.now);
                self.model.sends_in_window = 0;
                self.model.closed_by_failure = false;
            }
            UserMessage::Unsubscribe => self.model.closed_by_failure = true,
            _ => {}
        }
        self.feed(Input::User(message), tag);
    }

    fn session(&mut self, choice: u8) {
        let Some(live) = self.model.live else {
            return;
        };
        let agent = |name: &str| Agent {
            name: name.into(),
            id: format!("005{name}"),
        };
        let event = if live.visitor_ended && choice.is_multiple_of(3) {
            DeskEvent::Ended {
                reason: EndReason::Visitor,
                unsent: Vec::new(),
            }
        } else if !live.joined {
            match choice % 8 {
                0..=3 => DeskEvent::Queued {
                    position: Some(i64::from(choice % 5)),
                    wait_secs: Some(i64::from(choice)),
                },
                4..=6 => DeskEvent::AgentJoined(agent("Andy")),
                _ => DeskEvent::Ended {
                    reason: EndReason::Desk(DeskEnd::NoAgent),
                    unsent: Vec::new(),
                },
            }
        } else {
            match choice % 12 {
                0..=5 => {
                    let tag = self.model.next_agent;
                    self.model.next_agent += 1;
                    self.model.agent_fed.insert(tag);
                    DeskEvent::AgentText(format!("agent-{tag}"))
                }
                6 => DeskEvent::AgentTyping(true),
                7 => DeskEvent::Transferred(agent("Bea")),
                8 => DeskEvent::FileRequested,
                9 => DeskEvent::AgentTyping(false),
                10 => DeskEvent::Ended {
                    reason: EndReason::Agent,
                    unsent: Vec::new(),
                },
                _ => DeskEvent::Ended {
                    reason: EndReason::Unreachable,
                    unsent: Vec::new(),
                },
            }
        };
        self.feed(Input::Desk(event), None);
    }

    fn deliver(&mut self, pick: usize, outcome: u8) {
        if self.model.pending.is_empty() {
            return;
        }
        let id = *self
            .model
            .pending
            .keys()
            .nth(pick % self.model.pending.len())
            .expect("non-empty");
        let (window, carried) = self.model.pending.remove(&id).expect("pending");
        let id = DeliveryId(id);
        let input = match outcome % 6 {
            0..=2 => Input::Delivered { id },
            3 => Input::DeliveryFailed {
                id,
                failure: DeliveryFailure::WindowClosed,
            },
            4 => Input::DeliveryFailed {
                id,
                failure: DeliveryFailure::QuotaExhausted,
            },
            _ => Input::DeliveryFailed {
                id,
                failure: DeliveryFailure::GaveUp("HTTP 500".into()),
            },
        };
        if matches!(
            input,
            Input::DeliveryFailed {
                failure: DeliveryFailure::WindowClosed | DeliveryFailure::QuotaExhausted,
                ..
            }
        ) {
            self.model.refused_lines += carried.len() as u32;
            if window == self.model.window {
                self.model.closed_by_failure = true;
            }
        }
        self.feed(input, None);
    }

    /// Time passes; the driver wakes at each timer due on the way, then at the end.
    fn advance(&mut self, millis: u64) {
        let end = self.now + Duration::from_millis(millis);
        while let Some(at) = self.chat.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.feed(Input::Timeout, None);
        }
        self.now = end;
        self.feed(Input::Timeout, None);
    }

    fn restart(&mut self) {
        let bytes = serde_json::to_vec(self.chat.snapshot()).expect("encodes");
        let snapshot: Snapshot = serde_json::from_slice(&bytes).expect("decodes");
        self.chat = Conversation::restore(config(), snapshot, self.now);
        assert_eq!(self.chat.poll_output(), None, "restore outputs nothing");
    }

    /// After the run: every agent line went out once or is kept for the user's next message
    /// (nothing is lost to the keeping limit in runs this short); no loss is over-reported.
    fn finish(&mut self) {
        self.advance(10_000);
        let m = &self.model;
        let kept: BTreeSet<u32> = self
            .chat
            .kept_lines()
            .iter()
            .flat_map(|l| tags(l, "agent-"))
            .collect();
        for tag in &m.agent_fed {
            let sent = m.agent_sent.contains(tag);
            let reports = m.agent_reported.get(tag).copied().unwrap_or(0);
            assert!(reports <= 1, "agent-{tag} reported {reports} times");
            assert!(
                sent != kept.contains(tag),
                "agent-{tag}: sent {sent}, kept {}",
                kept.contains(tag)
            );
        }
        assert!(
            m.lost_reported <= m.refused_lines,
            "{} lost reported, {} refused",
            m.lost_reported,
            m.refused_lines
        );
        assert!(self.chat.has_live_chat() == m.live.is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn conversation_invariants_hold_under_random_interleavings(
        steps in proptest::collection::vec(step(), 1..80)
    ) {
        let mut run = Run::new();
        for step in steps {
            match step {
                Step::User(choice) => run.user(choice),
                Step::Session(choice) => run.session(choice),
                Step::Deliver { pick, outcome } => run.deliver(pick, outcome),
                Step::Advance(millis) => run.advance(millis),
                Step::Restart => run.restart(),
            }
        }
        run.finish();
    }
}
