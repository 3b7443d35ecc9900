//! A WeChat push body, whatever it holds, never panics the parser: the XML reader (size-capped,
//! no DOCTYPE or entities) and the typing of its fields either accept it or say why not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_channels::wechat::message::Message;
use switchboard_channels::wechat::push::inbound_event;
use switchboard_channels::wechat::xml;

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = xml::parse(data, 64 * 1024) {
        let _ = fields.to_text_map();
        if let Ok(message) = Message::from_fields(&fields) {
            let _ = inbound_event(&message);
        }
    }
});
