//! # switchboard-channels
//!
//! The plug-in side of Switchboard: the [`Channel`] trait that every messaging-app adapter
//! implements, and the adapters themselves, each behind a cargo feature and listed explicitly in
//! the engine's configuration (no linker magic).
//!
//! Contract: an adapter turns an inbound webhook into typed events plus the exact HTTP reply the
//! platform expects, and delivers outbound messages, reporting failures as a `DeliveryError` that
//! tells the engine what to do next. Adapters hold no conversation state; the engine persists.
//!
//! Status: the trait and the WeChat Official Account adapter land with the WeChat channel work.
