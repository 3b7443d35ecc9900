//! # switchboard-tests
//!
//! End-to-end tests live in `tests/tests/`: they run the engine against the simulators over real
//! loopback HTTP with a real sled database in a temporary directory. This library holds the
//! helpers those tests share.
