//! Model-based test of the session machine: proptest-state-machine generates runs of visitor
//! and agent actions, network loss and reordering, 503 failovers, 409s, ticks of time and
//! crash-restarts; the harness checks the invariants after every step and, at the end of each
//! run, that a fault-free network delivers everything that was sent.

use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use switchboard_core::model::harness::{Harness, Transition};
use switchboard_core::model::server::{DuplicatePost, Knobs};

/// The reference is the server's configuration; transitions do not depend on it.
#[derive(Debug, Clone)]
struct Setup {
    duplicate_post: DuplicatePost,
    /// 52 recovers with ReconnectSession, 36 with ResyncSession.
    api_version: u32,
    seed: u64,
}

struct Model;

impl ReferenceStateMachine for Model {
    type State = Setup;
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Setup> {
        (
            prop_oneof![
                Just(DuplicatePost::AcceptSilently),
                Just(DuplicatePost::Conflict)
            ],
            prop_oneof![3 => Just(52u32), 1 => Just(36u32)],
            any::<u64>(),
        )
            .prop_map(|(duplicate_post, api_version, seed)| Setup {
                duplicate_post,
                api_version,
                seed,
            })
            .boxed()
    }

    fn transitions(_: &Setup) -> BoxedStrategy<Transition> {
        // Weighted so that most runs get an agent and carry texts both ways before anything
        // ends the chat (ending transitions are rare, as in real chats).
        prop_oneof![
            60 => any::<u8>().prop_map(Transition::Deliver),
            60 => any::<u8>().prop_map(Transition::Respond),
            25 => Just(Transition::VisitorText),
            20 => Just(Transition::AgentText),
            12 => Just(Transition::AgentAccept),
            10 => Just(Transition::ReleasePolls),
            5 => any::<u8>().prop_map(Transition::DropRequest),
            5 => any::<u8>().prop_map(Transition::DropResponse),
            8 => (0u16..60).prop_map(Transition::Tick),
            5 => Just(Transition::Failover),
            5 => Just(Transition::Restart),
            5 => any::<u8>().prop_map(Transition::RespondThenCrash),
            3 => Just(Transition::VisitorTyping),
            3 => any::<bool>().prop_map(Transition::AgentTyping),
            3 => Just(Transition::QueueUpdate),
            2 => Just(Transition::AgentTransfer),
            1 => (150u16..400).prop_map(Transition::Tick),
            1 => Just(Transition::AgentEnd),
            1 => Just(Transition::AgentReject),
            1 => Just(Transition::VisitorEnd),
        ]
        .boxed()
    }

    fn apply(state: Setup, _: &Transition) -> Setup {
        state
    }
}

impl StateMachineTest for Model {
    type SystemUnderTest = Harness;
    type Reference = Model;

    fn init_test(setup: &Setup) -> Harness {
        let knobs = Knobs {
            duplicate_post: setup.duplicate_post,
            ..Knobs::default()
        };
        Harness::new(knobs, setup.seed, setup.api_version)
    }

    fn apply(mut harness: Harness, _: &Setup, transition: Transition) -> Harness {
        harness.apply(transition);
        harness
    }

    fn check_invariants(harness: &Harness, _: &Setup) {
        if let Err(violation) = harness.check() {
            panic!("invariant broken: {violation}");
        }
    }

    fn teardown(mut harness: Harness, _: Setup) {
        if let Err(violation) = harness.settle() {
            panic!("after settling: {violation}");
        }
    }
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000),
        failure_persistence: None,
        .. Config::default()
    })]

    #[test]
    fn session_keeps_its_invariants_through_faults_failovers_and_restarts(sequential 1..120 => Model);
}

/// Guards against a vacuous model test: the generated runs must actually reach agents joining,
/// texts flowing both ways, failovers recovered and restarts.
#[test]
fn generated_runs_reach_chats_failovers_and_restarts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = Model::sequential_strategy(1..120);
    let (mut joined, mut reconnected, mut restarted, mut both_ways, mut ended) = (0, 0, 0, 0, 0);
    let runs = 300;
    for _ in 0..runs {
        let (setup, transitions, _) = strategy.new_tree(&mut runner).unwrap().current();
        let mut harness = <Model as StateMachineTest>::init_test(&setup);
        for transition in transitions {
            harness.apply(transition);
        }
        harness.settle().unwrap();
        let c = harness.coverage();
        joined += usize::from(c.agent_joined);
        reconnected += usize::from(c.reconnected);
        restarted += usize::from(c.restarted);
        both_ways += usize::from(c.visitor_texts_delivered > 0 && c.agent_texts_delivered > 0);
        ended += usize::from(c.ended);
    }
    eprintln!(
        "of {runs} runs: agent joined {joined}, texts both ways {both_ways}, failover recovered {reconnected}, restarted {restarted}, ended {ended}"
    );
    assert!(joined * 2 > runs, "most runs get an agent");
    assert!(
        both_ways * 5 > runs,
        "a fifth of runs or more carry texts both ways"
    );
    assert!(
        reconnected * 10 > runs,
        "failovers are recovered in a tenth of runs or more"
    );
    assert!(
        restarted * 4 > runs,
        "restarts happen in a quarter of runs or more"
    );
}

proptest! {
    #![proptest_config(Config { cases: 200, failure_persistence: None, .. Config::default() })]

    /// The fuzz target's byte decoding, run on stable: raw bytes become a run of the same
    /// harness, and the invariants hold.
    #[test]
    fn byte_encoded_runs_keep_the_invariants(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut harness = Harness::new(Knobs::default(), u64::from(bytes.len() as u32), 52);
        for transition in Transition::decode_run(&bytes) {
            harness.apply(transition);
            prop_assert!(harness.check().is_ok(), "{:?}", harness.check());
        }
        prop_assert!(harness.settle().is_ok(), "{:?}", harness.settle());
    }
}
