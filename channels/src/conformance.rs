//! The conformance suite every adapter runs against its platform simulator.
//!
//! An adapter's test provides a [`Harness`]: how to produce valid, forged, unknown, malformed and
//! oversized webhooks for its platform, how to see what the platform received, and how to make
//! the platform fail. [`run`] then checks the contract of [`crate::Channel`]:
//!
//! - a valid text webhook yields one `Text` event from the right user with a 2xx reply;
//! - a redelivery of the same push has the same dedupe key, distinct pushes distinct keys;
//! - forged → 401/403, malformed → 400, oversized → 413; nothing is ever answered with a 5xx;
//! - an unknown type is accepted (2xx) and kept as [`InboundKind::Other`];
//! - text is delivered verbatim, and text longer than `max_text_bytes` arrives in pieces that
//!   fit the platform's limit ([`Harness::fits_one_message`]) and concatenate back to the
//!   original, never cut inside a character;
//! - typing is accepted when the capabilities say so;
//! - a transient platform failure asks for a retry, an unreachable user for giving up.

use async_trait::async_trait;

use crate::capabilities::Capabilities;
use crate::channel::{Channel, UserId};
use crate::delivery::DeliveryAction;
use crate::outbound::{Outbound, TypingState};
use crate::webhook::{InboundKind, WebhookError, WebhookRequest};

/// The platform side of the suite, implemented by each adapter's tests.
#[async_trait]
pub trait Harness: Send + Sync {
    /// A user the platform currently lets the adapter write to.
    fn user(&self) -> UserId;
    /// A valid webhook carrying text `text` from [`Harness::user`]; each call is a new message.
    fn text_webhook(&self, text: &str) -> WebhookRequest;
    /// The platform's redelivery (retry) of the push in `req`.
    fn redelivery(&self, req: &WebhookRequest) -> WebhookRequest;
    /// A webhook whose authentication is wrong.
    fn forged_webhook(&self) -> WebhookRequest;
    /// A valid webhook of a type that did not exist when the adapter was written.
    fn unknown_webhook(&self) -> WebhookRequest;
    /// An authenticated request whose body cannot be parsed.
    fn malformed_webhook(&self) -> WebhookRequest;
    /// A request whose body exceeds what the adapter accepts.
    fn oversized_webhook(&self) -> WebhookRequest;
    /// Whether `piece` fits one platform message. By default: at most `max_text_bytes` UTF-8
    /// bytes; a platform that counts in other units (Telegram: UTF-16 code units) says so, and
    /// its adapter may then fill a message beyond the byte figure its capabilities guarantee.
    fn fits_one_message(&self, piece: &str, capabilities: &Capabilities) -> bool {
        piece.len() <= capabilities.max_text_bytes
    }
    /// Texts the platform accepted for `user`, in order.
    async fn delivered_texts(&self, user: &UserId) -> Vec<String>;
    /// The platform fails the next send transiently (e.g. "system busy").
    async fn fail_next_send_transiently(&self);
    /// The platform refuses the next send because the user cannot be reached now.
    async fn fail_next_send_unreachable(&self);
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Which check.
    pub check: &'static str,
    /// What was observed.
    pub detail: String,
}

/// The suite found broken rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} conformance check(s) failed: {failures:#?}", failures.len())]
pub struct ConformanceError {
    /// Every failed check.
    pub failures: Vec<Failure>,
}

/// Accumulates results.
#[derive(Debug, Default)]
struct Checks {
    passed: usize,
    failures: Vec<Failure>,
}

impl Checks {
    fn check(&mut self, check: &'static str, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failures.push(Failure {
                check,
                detail: detail(),
            });
        }
    }
}

/// Runs the suite; returns how many checks passed, or every failure.
pub async fn run(channel: &dyn Channel, harness: &dyn Harness) -> Result<usize, ConformanceError> {
    let mut c = Checks::default();
    inbound(channel, harness, &mut c);
    outbound(channel, harness, &mut c).await;
    if c.failures.is_empty() {
        Ok(c.passed)
    } else {
        Err(ConformanceError {
            failures: c.failures,
        })
    }
}

fn rejected_with(
    c: &mut Checks,
    check: &'static str,
    result: Result<crate::Webhook, WebhookError>,
    allowed: &[u16],
) {
    match result {
        Ok(w) => c.check(check, false, || format!("accepted: {w:?}")),
        Err(e) => {
            let status = e.status().as_u16();
            c.check(check, allowed.contains(&status), || {
                format!("status {status} ({e}), expected one of {allowed:?}")
            });
        }
    }
}

fn inbound(channel: &dyn Channel, h: &dyn Harness, c: &mut Checks) {
    let user = h.user();
    let req = h.text_webhook("conformance: hello 你好");
    match channel.parse_webhook(&req) {
        Ok(w) => {
            c.check(
                "valid text webhook is answered 2xx",
                w.reply.status.is_success(),
                || format!("{:?}", w.reply),
            );
            let ok = matches!(w.events.as_slice(),
                [e] if e.user == user
                    && matches!(&e.kind, InboundKind::Text { text } if text == "conformance: hello 你好")
                    && !e.dedupe_key.0.is_empty());
            c.check(
                "valid text webhook yields one text event from the user",
                ok,
                || format!("{:?}", w.events),
            );
            match channel.parse_webhook(&h.redelivery(&req)) {
                Ok(again) => c.check(
                    "a redelivery keeps the dedupe key",
                    again.events.first().map(|e| &e.dedupe_key)
                        == w.events.first().map(|e| &e.dedupe_key),
                    || format!("{:?} vs {:?}", again.events, w.events),
                ),
                Err(e) => c.check("a redelivery is accepted", false, || e.to_string()),
            }
            match channel.parse_webhook(&h.text_webhook("conformance: another")) {
                Ok(other) => c.check(
                    "distinct messages have distinct dedupe keys",
                    other.events.first().map(|e| &e.dedupe_key)
                        != w.events.first().map(|e| &e.dedupe_key),
                    || format!("{:?}", other.events),
                ),
                Err(e) => c.check("a second message is accepted", false, || e.to_string()),
            }
        }
        Err(e) => c.check("valid text webhook is accepted", false, || e.to_string()),
    }

    rejected_with(
        c,
        "forged webhook is refused with 401/403",
        channel.parse_webhook(&h.forged_webhook()),
        &[401, 403],
    );
    rejected_with(
        c,
        "malformed webhook is refused with 400",
        channel.parse_webhook(&h.malformed_webhook()),
        &[400],
    );
    rejected_with(
        c,
        "oversized webhook is refused with 413",
        channel.parse_webhook(&h.oversized_webhook()),
        &[413],
    );

    match channel.parse_webhook(&h.unknown_webhook()) {
        Ok(w) => {
            c.check(
                "unknown type is answered 2xx",
                w.reply.status.is_success(),
                || format!("{:?}", w.reply),
            );
            c.check(
                "unknown type is kept as Other",
                w.events
                    .iter()
                    .all(|e| matches!(e.kind, InboundKind::Other { .. })),
                || format!("{:?}", w.events),
            );
        }
        Err(e) => c.check("unknown type is accepted", false, || e.to_string()),
    }
}

async fn outbound(channel: &dyn Channel, h: &dyn Harness, c: &mut Checks) {
    let user = h.user();
    let caps = channel.capabilities();
    c.check(
        "max_text_bytes is positive",
        caps.max_text_bytes >= 4,
        || format!("{}", caps.max_text_bytes),
    );

    let before = h.delivered_texts(&user).await.len();
    let short = "conformance: short reply 😀";
    let result = channel.deliver(&user, &Outbound::Text(short.into())).await;
    c.check(
        "short text is delivered",
        result.as_ref().is_ok_and(|d| d.parts == 1),
        || format!("{result:?}"),
    );
    let texts = h.delivered_texts(&user).await;
    c.check(
        "short text arrives verbatim",
        texts.get(before).map(String::as_str) == Some(short),
        || format!("{:?}", &texts[before.min(texts.len())..]),
    );

    let unit = "ab😀中";
    let long = unit.repeat(caps.max_text_bytes * 5 / 2 / unit.len() + 1);
    let before = texts.len();
    let result = channel.deliver(&user, &Outbound::Text(long.clone())).await;
    c.check("long text is delivered", result.is_ok(), || {
        format!("{result:?}")
    });
    let texts = h.delivered_texts(&user).await;
    let pieces = &texts[before.min(texts.len())..];
    c.check(
        "long text arrives in pieces that fit and concatenate back",
        pieces.len() >= 2
            && pieces.iter().all(|p| h.fits_one_message(p, &caps))
            && pieces.concat() == long,
        || {
            format!(
                "{} pieces of {:?} bytes",
                pieces.len(),
                pieces.iter().map(String::len).collect::<Vec<_>>()
            )
        },
    );

    if caps.typing {
        let result = channel
            .deliver(&user, &Outbound::Typing(TypingState::On))
            .await;
        c.check("typing is accepted", result.is_ok(), || {
            format!("{result:?}")
        });
    }

    h.fail_next_send_transiently().await;
    let result = channel
        .deliver(&user, &Outbound::Text("conformance: busy".into()))
        .await;
    c.check(
        "a transient failure asks for a retry",
        result
            .as_ref()
            .is_err_and(|e| e.action() == DeliveryAction::RetryLater),
        || format!("{result:?}"),
    );

    h.fail_next_send_unreachable().await;
    let result = channel
        .deliver(&user, &Outbound::Text("conformance: gone".into()))
        .await;
    c.check(
        "an unreachable user means giving up and telling the agent",
        result
            .as_ref()
            .is_err_and(|e| e.action() == DeliveryAction::GiveUpAndTellAgent),
        || format!("{result:?}"),
    );
}
