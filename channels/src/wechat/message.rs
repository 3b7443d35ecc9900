//! Typed WeChat pushes (§2.2–§2.4): every normal message type and the events a bridge acts on,
//! with everything else kept as [`MessageKind::Unknown`] / [`EventKind::Other`].

use std::collections::BTreeMap;

use super::xml::{Document, Fields};

/// Why a decoded `<xml>` document is not a WeChat push.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A common field is absent.
    #[error("missing field <{0}>")]
    Missing(&'static str),
    /// A numeric field is not a number in range.
    #[error("field <{field}> is not an unsigned integer: {value:?}")]
    BadNumber {
        /// Field name.
        field: &'static str,
        /// Its text.
        value: String,
    },
}

/// One push: common header plus its typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `ToUserName`: the account's original id (`gh_…`).
    pub to: String,
    /// `FromUserName`: the user's OpenID.
    pub from: String,
    /// `CreateTime`: unix seconds.
    pub create_time: u64,
    /// `MsgId` of a normal message (64-bit; never parsed as a signed or floating number).
    pub msg_id: Option<u64>,
    /// What kind of push this is.
    pub kind: MessageKind,
    /// All top-level fields as text, for the kinds the bridge does not model
    /// ([`MessageKind::Unknown`]); empty for every other kind, whose fields are typed above.
    pub fields: BTreeMap<String, String>,
}

/// The typed body of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// `text`: `Content`, and `bizmsgmenuid` when it came from a msgmenu tap.
    Text {
        /// The text.
        content: String,
        /// Menu option id, when the text is a msgmenu answer.
        menu_id: Option<String>,
    },
    /// `image`.
    Image {
        /// System URL of the picture.
        pic_url: Option<String>,
        /// Media id for `media/get`.
        media_id: String,
    },
    /// `voice`.
    Voice {
        /// Media id for `media/get`.
        media_id: String,
        /// Audio format (`amr`, `speex`, …).
        format: Option<String>,
        /// Speech recognition result, if enabled.
        recognition: Option<String>,
    },
    /// `video` or `shortvideo`.
    Video {
        /// Media id.
        media_id: String,
        /// Thumbnail media id.
        thumb_media_id: Option<String>,
        /// `true` for `shortvideo`.
        short: bool,
    },
    /// `location`.
    Location {
        /// `Location_X`: latitude.
        latitude: String,
        /// `Location_Y`: longitude.
        longitude: String,
        /// `Scale`: map zoom.
        scale: Option<String>,
        /// `Label`: place text.
        label: Option<String>,
    },
    /// `link`.
    Link {
        /// Title.
        title: String,
        /// Description.
        description: Option<String>,
        /// Target URL.
        url: String,
    },
    /// `event`.
    Event {
        /// The `Event` value exactly as sent.
        name: String,
        /// `EventKey`, if present.
        key: Option<String>,
        /// The typed event.
        event: EventKind,
    },
    /// A `MsgType` this adapter does not know: kept and acknowledged.
    Unknown {
        /// The `MsgType` value.
        msg_type: String,
    },
}

/// Events, matched case-insensitively on `Event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `subscribe`; via a parametric QR code the key is `qrscene_<scene>`.
    Subscribe {
        /// Scene (with the `qrscene_` prefix removed), if subscribed via a QR code.
        scene: Option<String>,
    },
    /// `unsubscribe`.
    Unsubscribe,
    /// `SCAN` by a user who already follows.
    Scan {
        /// Scene value.
        scene: String,
    },
    /// `LOCATION` auto-report.
    Location {
        /// Latitude.
        latitude: String,
        /// Longitude.
        longitude: String,
        /// Precision.
        precision: Option<String>,
    },
    /// `CLICK` on a menu button.
    Click {
        /// The button's key.
        key: String,
    },
    /// `VIEW`: a menu link was opened.
    View {
        /// The URL.
        url: String,
    },
    /// `scancode_push` / `scancode_waitmsg`.
    ScanCode {
        /// Button key.
        key: String,
        /// `ScanCodeInfo/ScanResult`.
        result: Option<String>,
    },
    /// `TEMPLATESENDJOBFINISH`, whose id field is spelled `MsgID`.
    TemplateSendJobFinish {
        /// `MsgID`.
        msg_id: Option<u64>,
        /// `Status`.
        status: Option<String>,
    },
    /// Any other event (including ones that did not exist when this was written).
    Other,
}

impl Message {
    /// Types the fields of a decoded push.
    pub fn from_fields(fields: &Fields) -> Result<Self, MessageError> {
        Self::from_document(&fields.as_document())
    }

    /// Types the fields of a parsed push.
    pub fn from_document(doc: &Document<'_>) -> Result<Self, MessageError> {
        let to = required(doc, "ToUserName")?;
        let from = required(doc, "FromUserName")?;
        let create_time = number(doc, "CreateTime")?.ok_or(MessageError::Missing("CreateTime"))?;
        let msg_type = required_str(doc, "MsgType")?;
        let opt = |name: &str| doc.text(name).map(str::to_owned);
        let req = |name: &'static str| required(doc, name);

        let kind = match msg_type {
            "text" => MessageKind::Text {
                content: doc
                    .text_untrimmed("Content")
                    .ok_or(MessageError::Missing("Content"))?
                    .to_owned(),
                menu_id: opt("bizmsgmenuid"),
            },
            "image" => MessageKind::Image {
                pic_url: opt("PicUrl"),
                media_id: req("MediaId")?,
            },
            "voice" => MessageKind::Voice {
                media_id: req("MediaId")?,
                format: opt("Format"),
                recognition: opt("Recognition").filter(|r| !r.is_empty()),
            },
            "video" | "shortvideo" => MessageKind::Video {
                media_id: req("MediaId")?,
                thumb_media_id: opt("ThumbMediaId"),
                short: msg_type == "shortvideo",
            },
            "location" => MessageKind::Location {
                latitude: req("Location_X")?,
                longitude: req("Location_Y")?,
                scale: opt("Scale"),
                label: opt("Label"),
            },
            "link" => MessageKind::Link {
                title: req("Title")?,
                description: opt("Description"),
                url: req("Url")?,
            },
            "event" => {
                let name = req("Event")?;
                let key = opt("EventKey");
                let event = event_kind(doc, &name, key.as_deref())?;
                MessageKind::Event { name, key, event }
            }
            _ => MessageKind::Unknown {
                msg_type: msg_type.to_owned(),
            },
        };
        // Unknown types keep whatever id they carry only if it parses; they must never fail.
        let (msg_id, fields) = match &kind {
            MessageKind::Event { .. } => (None, BTreeMap::new()),
            MessageKind::Unknown { .. } => (number(doc, "MsgId").ok().flatten(), doc.to_text_map()),
            _ => (number(doc, "MsgId")?, BTreeMap::new()),
        };
        Ok(Self {
            to,
            from,
            create_time,
            msg_id,
            kind,
            fields,
        })
    }
}

fn event_kind(
    doc: &Document<'_>,
    name: &str,
    key: Option<&str>,
) -> Result<EventKind, MessageError> {
    let key_owned = || key.unwrap_or_default().to_owned();
    let opt = |name: &str| doc.text(name).map(str::to_owned);
    Ok(match name.to_ascii_lowercase().as_str() {
        "subscribe" => EventKind::Subscribe {
            scene: key
                .and_then(|k| k.strip_prefix("qrscene_"))
                .map(str::to_owned),
        },
        "unsubscribe" => EventKind::Unsubscribe,
        "scan" => EventKind::Scan { scene: key_owned() },
        "location" => EventKind::Location {
            latitude: required(doc, "Latitude")?,
            longitude: required(doc, "Longitude")?,
            precision: opt("Precision"),
        },
        "click" => EventKind::Click { key: key_owned() },
        "view" => EventKind::View { url: key_owned() },
        "scancode_push" | "scancode_waitmsg" => EventKind::ScanCode {
            key: key_owned(),
            result: doc
                .field("ScanCodeInfo")
                .and_then(|e| e.child("ScanResult"))
                .map(|e| e.text.trim().to_owned()),
        },
        "templatesendjobfinish" => EventKind::TemplateSendJobFinish {
            msg_id: number(doc, "MsgID").ok().flatten(),
            status: opt("Status"),
        },
        _ => EventKind::Other,
    })
}

fn required_str<'d>(doc: &'d Document<'_>, name: &'static str) -> Result<&'d str, MessageError> {
    doc.text(name).ok_or(MessageError::Missing(name))
}

fn required(doc: &Document<'_>, name: &'static str) -> Result<String, MessageError> {
    required_str(doc, name).map(str::to_owned)
}

fn number(doc: &Document<'_>, name: &'static str) -> Result<Option<u64>, MessageError> {
    match doc.text(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| MessageError::BadNumber {
                field: name,
                value: v.to_owned(),
            }),
    }
}
