//! Shared adapter conformance suite (placeholder, filled in below).
