//! Reading records back from the store must never panic, whatever bytes a damaged disk or an
//! unknown build left there: each reader answers a record or a `StoreError`. The first byte
//! picks the reader, the rest is the stored value (version header, then the bincode body).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::store::decode;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => drop(decode::session(bytes)),
        1 => drop(decode::outbox_event(bytes)),
        2 => drop(decode::conversation(bytes)),
        3 => drop(decode::action(bytes)),
        _ => drop(decode::forwarded_push(bytes)),
    }
});
