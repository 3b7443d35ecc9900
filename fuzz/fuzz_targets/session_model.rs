//! Drives the session model harness (the same one the proptest model test uses) with
//! fuzzer-chosen transitions; any broken invariant is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::model::harness::{Harness, Transition};
use switchboard_core::model::server::{DuplicatePost, Knobs};

fuzz_target!(|data: &[u8]| {
    let Some((&setup, steps)) = data.split_first() else {
        return;
    };
    let knobs = Knobs {
        duplicate_post: if setup % 2 == 0 {
            DuplicatePost::AcceptSilently
        } else {
            DuplicatePost::Conflict
        },
        ..Knobs::default()
    };
    let api_version = if setup % 4 < 2 { 52 } else { 36 };
    let mut harness = Harness::new(knobs, u64::from(setup), api_version);
    for transition in Transition::decode_run(steps) {
        harness.apply(transition);
        if let Err(violation) = harness.check() {
            panic!("invariant broken: {violation}");
        }
    }
    if let Err(violation) = harness.settle() {
        panic!("after settling: {violation}");
    }
});
