//! A Telegram webhook body, whatever it holds, never panics the adapter: with the right secret
//! header, the JSON reader (size-capped) and the typing of the update either give events or a
//! 4xx that says why.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use switchboard_channels::telegram::{SECRET_HEADER, TelegramChannel, TelegramConfig};
use switchboard_channels::{Channel, WebhookRequest};

const SECRET: &str = "fuzz-secret";

fn channel() -> &'static TelegramChannel {
    static CHANNEL: OnceLock<TelegramChannel> = OnceLock::new();
    CHANNEL.get_or_init(|| {
        TelegramChannel::new(TelegramConfig::new("123:fuzz", SECRET)).expect("a valid config")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut request = WebhookRequest::new(http::Method::POST, "", data.to_vec());
    request
        .headers
        .insert(SECRET_HEADER, http::HeaderValue::from_static(SECRET));
    if let Err(refused) = channel().parse_webhook(&request) {
        assert!(refused.status().is_client_error(), "{refused}");
    }
});
