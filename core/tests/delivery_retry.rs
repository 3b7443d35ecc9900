//! Property test: the conversation owns retrying. A driver that performs one attempt per `Send`
//! or `Retry`, in queue order, and reports each outcome, sees every send settled exactly once
//! (delivered, or given up with the agent told), never attempts a send before the time the
//! conversation named, waits that grow up to the policy's longest, one immediate attempt after a
//! credentials renewal, no retry once the give-up time has passed, and nothing queued behind a
//! retrying send goes first — through restarts that forget the attempts.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;
use switchboard_core::conversation::{
    Conversation, ConversationConfig, DeliveryFailure, DeliveryId, Input, Output, RetryPolicy,
    ToUser, UserMessage, UserRef,
};
use switchboard_core::desk::{Agent, DeskEvent, DeskRequest};
use switchboard_core::time::Timestamp;

const POLICY: RetryPolicy = RetryPolicy {
    first_backoff: Duration::from_millis(500),
    max_backoff: Duration::from_secs(8),
    give_up_after: Duration::from_secs(60),
};

/// How one attempt goes.
#[derive(Debug, Clone)]
enum Attempt {
    Delivered,
    /// Fails for now; the channel may name a wait (seconds).
    Transient(Option<u8>),
    CredentialsRenewed,
    Refused,
}

#[derive(Debug, Clone)]
enum Step {
    /// The agent writes a line (sent after the merge window).
    AgentWrites,
    /// The head of the queue is attempted, when it is due.
    Attempt(Attempt),
    /// The driver is restarted from the snapshot (the queue is durable, the attempts are not).
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    let attempt = prop_oneof![
        2 => Just(Attempt::Delivered),
        6 => proptest::option::weighted(0.2, 0u8..20).prop_map(Attempt::Transient),
        1 => Just(Attempt::CredentialsRenewed),
        1 => Just(Attempt::Refused),
    ];
    prop_oneof![
        2 => Just(Step::AgentWrites),
        8 => attempt.prop_map(Step::Attempt),
        1 => Just(Step::Restart),
    ]
}

/// A queued send, as the driver holds it.
struct Queued {
    id: DeliveryId,
    /// Not before this time (set by a `Retry`).
    not_before: Option<Timestamp>,
    /// When its first failure was reported since the last restart.
    first_failure: Option<Timestamp>,
    /// The last wait a `Retry` chose on its own (no wait named by the channel), to see waits grow.
    last_wait: Option<Duration>,
    renewed: bool,
    /// Whether it carries agent text (the agent is told when such a send is given up).
    agent_text: bool,
}

struct Driver {
    chat: Conversation,
    config: ConversationConfig,
    now: Timestamp,
    queue: VecDeque<Queued>,
    settled: Vec<DeliveryId>,
    reasons_told: usize,
    /// Sends with agent text given up.
    given_up: usize,
    lines_written: usize,
}

impl Driver {
    fn new() -> Driver {
        let config = ConversationConfig {
            retry: POLICY,
            window_budget: u32::MAX,
            window: ConversationConfig::NO_WINDOW,
            typing: false,
            ..ConversationConfig::default()
        };
        let user = UserRef {
            id: "oUser0000000001".into(),
            nickname: None,
            channel: "test".into(),
        };
        let now = Timestamp::from_millis(0);
        let mut driver = Driver {
            chat: Conversation::new(config.clone(), user, now),
            config,
            now,
            queue: VecDeque::new(),
            settled: Vec::new(),
            reasons_told: 0,
            given_up: 0,
            lines_written: 0,
        };
        driver.feed(Input::User(UserMessage::Text("hello".into())));
        driver.feed(Input::Desk(DeskEvent::AgentJoined(Agent {
            name: "Andy".into(),
            id: "005x".into(),
        })));
        driver
    }

    /// Feeds `input`; returns the `Retry` it caused, if any.
    fn feed(&mut self, input: Input) -> Option<(DeliveryId, Timestamp)> {
        self.chat.handle(input, self.now).expect("legal input");
        let mut retry = None;
        while let Some(output) = self.chat.poll_output() {
            match output {
                Output::Send { id, message } => {
                    let agent_text =
                        matches!(&message, ToUser::Text(text) if text.contains("agent line"));
                    assert_ne!(message, ToUser::Typing);
                    self.queue.push_back(Queued {
                        agent_text,
                        id,
                        not_before: None,
                        first_failure: None,
                        last_wait: None,
                        renewed: false,
                    });
                }
                Output::Retry { id, at } => {
                    assert!(retry.is_none(), "two retries for one report");
                    retry = Some((id, at));
                }
                Output::Desk(DeskRequest::Text(text))
                    if text.contains("could not be delivered") =>
                {
                    self.reasons_told += 1;
                }
                Output::Desk(_) | Output::StartChat(_) | Output::Persist => {}
            }
        }
        retry
    }

    fn agent_writes(&mut self) {
        self.lines_written += 1;
        let line = format!("agent line {}", self.lines_written);
        self.feed(Input::Desk(DeskEvent::AgentText(line)));
        self.now = self.now + self.config.merge_window;
        self.feed(Input::Timeout);
    }

    fn restart(&mut self) {
        let snapshot = self.chat.snapshot().clone();
        self.chat = Conversation::restore(self.config.clone(), snapshot, self.now);
        for queued in &mut self.queue {
            queued.not_before = None;
            queued.first_failure = None;
            queued.last_wait = None;
            queued.renewed = false;
        }
    }

    fn attempt(&mut self, attempt: Attempt) {
        let Some(head) = self.queue.front_mut() else {
            return;
        };
        // The driver waits until the head is due; what is behind it waits too.
        if let Some(at) = head.not_before {
            self.now = self.now.max(at);
        }
        let id = head.id;
        let (failure, after) = match attempt {
            Attempt::Delivered => {
                assert_eq!(self.feed(Input::Delivered { id }), None);
                self.settle(id);
                return;
            }
            Attempt::Transient(after) => {
                let after = after.map(|s| Duration::from_secs(s.into()));
                let reason = "HTTP 503".to_owned();
                (DeliveryFailure::Transient { reason, after }, after)
            }
            Attempt::CredentialsRenewed => (
                DeliveryFailure::CredentialsRenewed("errcode 40001".into()),
                None,
            ),
            Attempt::Refused => (DeliveryFailure::GaveUp("errcode 45002".into()), None),
        };
        let renewal = matches!(failure, DeliveryFailure::CredentialsRenewed(_));
        let refused = matches!(failure, DeliveryFailure::GaveUp(_));
        let now = self.now;
        let told_before = self.reasons_told;
        let retry = self.feed(Input::DeliveryFailed { id, failure });
        let head = self.queue.front_mut().expect("the head is still queued");
        let first_failure = *head.first_failure.get_or_insert(now);
        match retry {
            Some((retried, at)) => {
                assert_eq!(retried, id, "a retry for a send that is not the head");
                assert!(!refused, "a refused send was retried");
                assert!(
                    now.saturating_since(first_failure) < POLICY.give_up_after,
                    "retried past the give-up time"
                );
                let wait = at.saturating_since(now);
                if renewal {
                    assert!(!head.renewed, "two immediate attempts after renewals");
                    assert_eq!(wait, Duration::ZERO);
                    head.renewed = true;
                } else {
                    assert!(wait >= POLICY.first_backoff);
                    assert!(wait >= after.unwrap_or_default());
                    assert!(wait <= POLICY.max_backoff.max(after.unwrap_or_default()));
                    if let (Some(last), None) = (head.last_wait, after) {
                        assert!(
                            wait >= last.min(POLICY.max_backoff),
                            "the wait shrank: {last:?} then {wait:?}"
                        );
                    }
                    if after.is_none() {
                        head.last_wait = Some(wait);
                    }
                }
                assert!(
                    self.reasons_told == told_before,
                    "agent told of a send still retried"
                );
                head.not_before = Some(at);
            }
            None => {
                if !refused && !renewal {
                    assert!(
                        now.saturating_since(first_failure) >= POLICY.give_up_after,
                        "given up before the give-up time"
                    );
                }
                if renewal && now.saturating_since(first_failure) < POLICY.give_up_after {
                    assert!(head.renewed, "a renewal given up without its one attempt");
                }
                let told = usize::from(head.agent_text);
                assert_eq!(
                    self.reasons_told,
                    told_before + told,
                    "the agent was not told once"
                );
                self.given_up += told;
                self.settle(id);
            }
        }
    }

    fn settle(&mut self, id: DeliveryId) {
        let head = self.queue.pop_front().expect("a head");
        assert_eq!(head.id, id);
        assert!(!self.settled.contains(&id), "{id} settled twice");
        self.settled.push(id);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn failed_sends_are_retried_as_the_conversation_says_and_settled_once(
        steps in proptest::collection::vec(step(), 1..120)
    ) {
        let mut driver = Driver::new();
        for step in steps {
            match step {
                Step::AgentWrites => driver.agent_writes(),
                Step::Attempt(attempt) => driver.attempt(attempt),
                Step::Restart => driver.restart(),
            }
        }
        // Drain: every send still queued is settled by failing for now until given up.
        let mut rounds = 0;
        while !driver.queue.is_empty() {
            rounds += 1;
            prop_assert!(rounds < 10_000, "a send is retried for ever");
            driver.attempt(Attempt::Transient(None));
        }
        // Settled in the order they were sent.
        let mut sorted = driver.settled.clone();
        sorted.sort();
        prop_assert_eq!(&sorted, &driver.settled);
        prop_assert_eq!(driver.reasons_told, driver.given_up);
    }
}

#[test]
fn a_send_failing_for_now_is_retried_then_given_up_and_the_agent_told_once() {
    let mut driver = Driver::new();
    driver.agent_writes();
    // The join notice, then the agent's line.
    assert_eq!(driver.queue.len(), 2);
    driver.attempt(Attempt::Delivered);
    let mut retries = 0;
    while !driver.queue.is_empty() {
        driver.attempt(Attempt::Transient(None));
        retries += 1;
    }
    // 0.5 + 1 + 2 + 4 s, then 8 s waits until a minute has passed since the first failure.
    assert_eq!(retries, 12);
    assert_eq!(driver.given_up, 1);
    assert_eq!(driver.reasons_told, 1);
}
