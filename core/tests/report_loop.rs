//! Property test: an agent side that answers every visitor line at once (a bot or an
//! auto-responder) cannot make the gateway write to it on its own. Whatever the user does, however
//! the channel refuses or accepts sends and however time passes, the lines the conversation
//! sends the agent stay bounded by the user's messages — never by the agent's replies — no
//! report quotes another, reports stay short, and no report ever reaches the user.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use switchboard_core::conversation::{
    Conversation, ConversationConfig, DeliveryFailure, DeliveryId, Input, Output, ToUser,
    UserMessage, UserRef,
};
use switchboard_core::desk::{Agent, DeskEvent, DeskRequest};
use switchboard_core::time::Timestamp;

const WINDOW: Duration = Duration::from_secs(60);
const BUDGET: u32 = 3;
/// Lines one window can make the conversation send the agent: the user's message, a lost
/// report when it reopens, the budget warning, the closed notice, and one report per refused or
/// given-up send (at most `BUDGET` sends per window, each refused or given up once).
const PER_USER_MESSAGE: usize = 4 + 2 * BUDGET as usize;
/// Longest report to the agent (the quote is cut to 120 characters).
const LONGEST_REPORT: usize = 260;

#[derive(Debug, Clone)]
enum Step {
    /// The user writes.
    UserWrites,
    /// The agent writes on its own.
    AgentWrites,
    /// One outstanding send's outcome: 0 delivered, 1 window closed, 2 quota, 3 given up.
    Outcome { pick: usize, outcome: u8 },
    /// Time passes (up to past the window); the driver wakes at every timer on the way.
    Advance(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::UserWrites),
        3 => Just(Step::AgentWrites),
        4 => (any::<usize>(), 0u8..4).prop_map(|(pick, outcome)| Step::Outcome { pick, outcome }),
        2 => (0u64..90_000).prop_map(Step::Advance),
    ]
}

struct Run {
    chat: Conversation,
    now: Timestamp,
    user_messages: usize,
    agent_replies: usize,
    to_agent: Vec<String>,
    pending: BTreeMap<u64, ()>,
    joined: bool,
}

impl Run {
    fn new() -> Run {
        let config = ConversationConfig {
            merge_window: Duration::from_secs(2),
            window_budget: BUDGET,
            window: WINDOW,
            ..ConversationConfig::default()
        };
        let user = UserRef {
            id: "oUser0000000001".into(),
            nickname: None,
            channel: "wechat".into(),
        };
        Run {
            chat: Conversation::new(config, user, Timestamp::from_millis(0)),
            now: Timestamp::from_millis(0),
            user_messages: 0,
            agent_replies: 0,
            to_agent: Vec::new(),
            pending: BTreeMap::new(),
            joined: false,
        }
    }

    /// Feeds `input`, then lets the bot answer every visitor line the outputs carry, until the
    /// conversation falls silent.
    fn feed(&mut self, input: Input) {
        let mut inputs = vec![input];
        let mut rounds = 0;
        while let Some(input) = inputs.pop() {
            rounds += 1;
            assert!(
                rounds < 10_000,
                "the conversation and the bot never fall silent"
            );
            let joins = matches!(input, Input::Desk(DeskEvent::AgentJoined(_)));
            self.chat.handle(input, self.now).expect("legal input");
            while let Some(output) = self.chat.poll_output() {
                match output {
                    Output::StartChat(_) => {
                        inputs.insert(0, Input::Desk(DeskEvent::AgentJoined(agent())));
                    }
                    Output::Desk(DeskRequest::Text(text)) => {
                        self.check_report(&text);
                        self.to_agent.push(text.clone());
                        if self.joined {
                            self.agent_replies += 1;
                            let reply = format!("Thanks! I read {} characters.", text.len());
                            inputs.insert(0, agent_line(reply));
                        }
                    }
                    Output::Desk(_) | Output::Persist => {}
                    Output::Retry { .. } => panic!("a retry, but every failure fed was final"),
                    Output::Send { id, message } => {
                        if let ToUser::Text(text) = &message {
                            assert!(
                                !text.contains("[Switchboard]"),
                                "a report reached the user: {text}"
                            );
                        }
                        self.pending.insert(id.0, ());
                    }
                }
            }
            self.joined |= joins;
        }
    }

    fn check_report(&self, text: &str) {
        if !text.starts_with("[Switchboard]") {
            return;
        }
        assert_eq!(
            text.matches("[Switchboard]").count(),
            1,
            "a report quotes a report: {text}"
        );
        assert!(
            text.chars().count() <= LONGEST_REPORT,
            "a report of {} characters: {text}",
            text.chars().count()
        );
    }

    fn advance(&mut self, millis: u64) {
        let end = self.now + Duration::from_millis(millis);
        while let Some(at) = self.chat.poll_timeout().filter(|at| *at <= end) {
            self.now = self.now.max(at);
            self.feed(Input::Timeout);
        }
        self.now = end;
        self.feed(Input::Timeout);
    }

    fn outcome(&mut self, pick: usize, outcome: u8) {
        let Some(id) = self
            .pending
            .keys()
            .nth(pick % self.pending.len().max(1))
            .copied()
        else {
            return;
        };
        self.pending.remove(&id);
        let id = DeliveryId(id);
        self.feed(match outcome {
            0 => Input::Delivered { id },
            1 => Input::DeliveryFailed {
                id,
                failure: DeliveryFailure::WindowClosed,
            },
            2 => Input::DeliveryFailed {
                id,
                failure: DeliveryFailure::QuotaExhausted,
            },
            _ => Input::DeliveryFailed {
                id,
                failure: DeliveryFailure::GaveUp("errcode 45002: content too long".into()),
            },
        });
    }
}

fn agent() -> Agent {
    Agent {
        name: "Bot".into(),
        id: "005Bot".into(),
    }
}

fn agent_line(text: String) -> Input {
    Input::Desk(DeskEvent::AgentText(text))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn lines_to_an_answering_agent_are_bounded_by_the_users_messages(
        steps in proptest::collection::vec(step(), 1..60)
    ) {
        let mut run = Run::new();
        for step in steps {
            match step {
                Step::UserWrites => {
                    run.user_messages += 1;
                    let text = format!("question {}", run.user_messages);
                    run.feed(Input::User(UserMessage::Text(text)));
                }
                Step::AgentWrites if run.joined => {
                    run.feed(agent_line("Anything else I can do?".into()));
                }
                Step::AgentWrites => {}
                Step::Outcome { pick, outcome } => run.outcome(pick, outcome),
                Step::Advance(millis) => run.advance(millis),
            }
            prop_assert!(
                run.to_agent.len() <= run.user_messages * PER_USER_MESSAGE,
                "{} lines to the agent for {} user messages (the bot answered {}): {:#?}",
                run.to_agent.len(),
                run.user_messages,
                run.agent_replies,
                run.to_agent
            );
        }
    }
}

/// The runs above are not vacuous: many close the window while the bot is answering, and in
/// many the bot writes more lines than the user does.
#[test]
fn the_generated_runs_close_windows_on_an_answering_bot() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut closed, mut outnumbered, mut lost_reported) = (0, 0, 0);
    for _ in 0..300 {
        let steps = proptest::collection::vec(step(), 1..60)
            .new_tree(&mut runner)
            .expect("a run")
            .current();
        let mut run = Run::new();
        for step in steps {
            match step {
                Step::UserWrites => {
                    run.user_messages += 1;
                    run.feed(Input::User(UserMessage::Text("question".into())));
                }
                Step::AgentWrites if run.joined => run.feed(agent_line("More?".into())),
                Step::AgentWrites => {}
                Step::Outcome { pick, outcome } => run.outcome(pick, outcome),
                Step::Advance(millis) => run.advance(millis),
            }
        }
        closed += usize::from(run.to_agent.iter().any(|t| t.contains("window is closed")));
        outnumbered += usize::from(run.agent_replies > run.user_messages);
        lost_reported += usize::from(run.to_agent.iter().any(|t| t.contains("did not reach")));
    }
    eprintln!(
        "of 300 runs: {closed} closed the window on the bot, in {outnumbered} the bot wrote more \
         than the user, {lost_reported} reported lost lines"
    );
    assert!(closed >= 60, "{closed}");
    assert!(outnumbered >= 60, "{outnumbered}");
    assert!(lost_reported >= 20, "{lost_reported}");
}
