//! Runs of the session model that once broke an invariant, replayed exactly.

use switchboard_core::model::harness::{Harness, Transition};
use switchboard_core::model::server::{DuplicatePost, Knobs};

fn replay(duplicate_post: DuplicatePost, api_version: u32, steps: &[Transition]) {
    let knobs = Knobs {
        duplicate_post,
        ..Knobs::default()
    };
    let mut harness = Harness::new(knobs, 0, api_version);
    for step in steps {
        harness.apply(*step);
        if let Err(violation) = harness.check() {
            panic!("invariant broken after {step:?}: {violation}");
        }
    }
    if let Err(violation) = harness.settle() {
        panic!("after settling: {violation}");
    }
}

#[test]
fn a_failover_after_a_restart_with_a_post_in_flight_keeps_sequences_increasing() {
    use Transition::*;
    replay(
        DuplicatePost::Conflict,
        52,
        &[
            Deliver(0),
            Respond(0),
            Deliver(11),
            Restart,
            DropRequest(111),
            Deliver(73),
            Failover,
            Tick(0),
            VisitorText,
            Deliver(0),
            Respond(103),
            Deliver(0),
            Respond(61),
            Deliver(0),
        ],
    );
}
