//! Whether this process may still act for a shard: send a desk request (a poll above all), open
//! a stream, or perform a conversation's action. One process alone may always; one of several
//! instances may only while its lease on the shard is sure by its own monotonic clock — after
//! a pause (SIGSTOP, a long GC-like stall, a frozen VM) it must not poll or send before it has
//! learned whether the shard is still its own. A Live Agent driver asks when its session decides
//! on a request and again as the request goes out (a pause can fall between the two).

use std::sync::{Arc, OnceLock};

/// Says whether a shard may be acted for now.
pub trait ShardGate: Send + Sync + 'static {
    /// Whether requests and actions for conversations of `shard` may go out now.
    fn allows(&self, shard: u16) -> bool;
}

/// The gate of a process: open until one is set.
#[derive(Default)]
pub struct Gate(OnceLock<Arc<dyn ShardGate>>);

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Gate(set)"
        } else {
            "Gate(open)"
        })
    }
}

impl Gate {
    /// Sets the gate (once; later calls are ignored).
    pub fn set(&self, gate: Arc<dyn ShardGate>) {
        let _ = self.0.set(gate);
    }

    /// Whether `shard` may be acted for now.
    pub fn allows(&self, shard: u16) -> bool {
        self.0.get().is_none_or(|gate| gate.allows(shard))
    }
}
