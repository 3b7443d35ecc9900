//! Header names of the visitor API (spec §2.3). Names are case-insensitive on the wire.

/// API version selecting behaviour and shapes; required on every request.
pub const API_VERSION: &str = "X-LIVEAGENT-API-VERSION";
/// The affinity token pinning a session to one chat server (`null` on SessionId and
/// ReconnectSession).
pub const AFFINITY: &str = "X-LIVEAGENT-AFFINITY";
/// The session key. A secret: never log it.
pub const SESSION_KEY: &str = "X-LIVEAGENT-SESSION-KEY";
/// The visitor POST sequence number, 1 for ChasitorInit and +1 per POST.
pub const SEQUENCE: &str = "X-LIVEAGENT-SEQUENCE";

/// The literal affinity value sent when no token is held yet.
pub const AFFINITY_NULL: &str = "null";

/// The first API version with `ReconnectSession`; older versions use `ResyncSession`.
pub const RECONNECT_SESSION_SINCE: u32 = 37;
