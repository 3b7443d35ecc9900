//! Several instances sharing one database, decided without I/O: which shard a conversation
//! belongs to ([`shard_of`]), and which shards an instance should take or give up given every
//! lease and the instances alive ([`plan`]). The engine's lease task reads the leases, calls
//! [`plan`] and carries the result out against the database, where a takeover raises the
//! lease's epoch and every write of an owner is checked against its epoch (fencing).
//!
//! Module map: [`shard`] (the stable hash), [`plan`] (the fair share and the steps towards it).

pub mod plan;
pub mod shard;

pub use plan::{Lease, Plan, plan};
pub use shard::{SHARDS, shard_of};
