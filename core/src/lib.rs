//! # switchboard-core
//! Pure protocol core (placeholder while the session machine is written).
