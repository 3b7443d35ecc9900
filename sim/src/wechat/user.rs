//! A simulated WeChat user and the WeChat server that pushes on their behalf: builds pushes
//! signed (plaintext mode) or encrypted (compatible and safe mode) exactly as WeChat does, sends
//! them to a webhook URL, and repeats the same payload the way WeChat retries.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::Method;

use super::api::ApiHandle;
use super::crypto::{aes_key, encrypt, random_digits, random16, signature};
use super::http::{Answer, ClientError, send};

/// How the account's server settings encrypt pushes ("消息加解密方式").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// 明文: plaintext XML, `signature` only.
    Plaintext,
    /// 兼容: plaintext fields plus `<Encrypt>`, `encrypt_type=aes`.
    Compatible,
    /// 安全: only `<ToUserName>` and `<Encrypt>`, `encrypt_type=aes`.
    Safe,
}

/// The account's server settings as WeChat holds them.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// The account's original id (`gh_…`).
    pub account: String,
    /// AppID.
    pub app_id: String,
    /// The Token for signatures.
    pub token: String,
    /// The EncodingAESKey.
    pub encoding_aes_key: String,
    /// Encryption mode.
    pub mode: PushMode,
}

/// One webhook request as WeChat would send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// `GET` for URL verification, `POST` for pushes.
    pub method: Method,
    /// The query string (without `?`).
    pub query: String,
    /// The body.
    pub body: Bytes,
    /// The plaintext XML carried (empty for verification).
    pub inner_xml: String,
}

/// A user of the account.
#[derive(Debug)]
pub struct WeChatUser {
    settings: AccountSettings,
    openid: String,
    api: Option<ApiHandle>,
    next_msg_id: AtomicU64,
    clock_offset: AtomicU64,
}

/// Escapes text for a CDATA section.
fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

impl WeChatUser {
    /// A user with OpenID `openid`; interactions are reported to `api` (to open send windows).
    pub fn new(
        settings: AccountSettings,
        openid: impl Into<String>,
        api: Option<ApiHandle>,
    ) -> Self {
        Self {
            settings,
            openid: openid.into(),
            api,
            // Above i64::MAX, as real MsgIds can be.
            next_msg_id: AtomicU64::new(9_300_000_000_000_000_000),
            clock_offset: AtomicU64::new(0),
        }
    }

    /// The same user with MsgIds counting up from `first` (users that must not share MsgIds,
    /// e.g. across demo runs against one store).
    #[must_use]
    pub fn with_first_msg_id(self, first: u64) -> Self {
        self.next_msg_id.store(first, Ordering::Relaxed);
        self
    }

    /// The user's OpenID.
    pub fn openid(&self) -> &str {
        &self.openid
    }

    /// The account settings.
    pub fn settings(&self) -> &AccountSettings {
        &self.settings
    }

    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Moves this user's notion of `CreateTime` forward.
    pub fn advance_secs(&self, secs: u64) {
        self.clock_offset.fetch_add(secs, Ordering::Relaxed);
    }

    fn header(&self, create_time: u64, msg_type: &str) -> String {
        format!(
            "<ToUserName>{}</ToUserName>\n<FromUserName>{}</FromUserName>\n<CreateTime>{create_time}</CreateTime>\n<MsgType>{}</MsgType>\n",
            cdata(&self.settings.account),
            cdata(&self.openid),
            cdata(msg_type)
        )
    }

    /// The user writes `text`: a `text` push with a new MsgId.
    pub fn text(&self, text: &str) -> Push {
        let id = self.next_msg_id.fetch_add(1, Ordering::Relaxed);
        let xml = format!(
            "<xml>{}<Content>{}</Content>\n<MsgId>{id}</MsgId>\n</xml>",
            self.header(self.now(), "text"),
            cdata(text)
        );
        if let Some(api) = &self.api {
            api.user_messaged(&self.openid);
        }
        self.push(&xml)
    }

    /// The user sends an image stored under `media_id`.
    pub fn image(&self, media_id: &str) -> Push {
        let id = self.next_msg_id.fetch_add(1, Ordering::Relaxed);
        let xml = format!(
            "<xml>{}<PicUrl>{}</PicUrl>\n<MediaId>{}</MediaId>\n<MsgId>{id}</MsgId>\n</xml>",
            self.header(self.now(), "image"),
            cdata("http://mmbiz.qpic.cn/sim"),
            cdata(media_id)
        );
        if let Some(api) = &self.api {
            api.user_messaged(&self.openid);
        }
        self.push(&xml)
    }

    /// An event push (`subscribe`, `CLICK`, …) with optional `EventKey`.
    pub fn event(&self, event: &str, key: Option<&str>) -> Push {
        let key_xml = key
            .map(|k| format!("<EventKey>{}</EventKey>\n", cdata(k)))
            .unwrap_or_default();
        let xml = format!(
            "<xml>{}<Event>{}</Event>\n{key_xml}</xml>",
            self.header(self.now(), "event"),
            cdata(event)
        );
        if let Some(api) = &self.api {
            match event.to_ascii_lowercase().as_str() {
                "subscribe" | "scan" | "click" | "scancode_push" | "scancode_waitmsg" => {
                    api.user_event(&self.openid);
                }
                "unsubscribe" => api.user_unfollowed(&self.openid),
                _ => {}
            }
        }
        self.push(&xml)
    }

    /// A `LOCATION` event: the periodic report WeChat sends every few seconds while the user
    /// allows location reporting (not a message; it grants no send window).
    pub fn location_report(&self, latitude: &str, longitude: &str) -> Push {
        let xml = format!(
            "<xml>{}<Event>{}</Event>\n<Latitude>{latitude}</Latitude>\n<Longitude>{longitude}</Longitude>\n<Precision>65.0</Precision>\n</xml>",
            self.header(self.now(), "event"),
            cdata("LOCATION")
        );
        self.push(&xml)
    }

    /// A push of a `MsgType` WeChat may introduce some day.
    pub fn unknown(&self, msg_type: &str) -> Push {
        let xml = format!(
            "<xml>{}<Payload>{}</Payload>\n</xml>",
            self.header(self.now(), msg_type),
            cdata("future")
        );
        self.push(&xml)
    }

    /// Wraps arbitrary plaintext XML as a push in the account's mode.
    pub fn push(&self, xml: &str) -> Push {
        self.push_with(xml, &self.now().to_string(), &random_digits(), random16())
    }

    /// Wraps `xml` with the given timestamp, nonce and random prefix (deterministic pushes).
    pub fn push_with(&self, xml: &str, timestamp: &str, nonce: &str, random: [u8; 16]) -> Push {
        let s = &self.settings;
        let sig = signature(&[&s.token, timestamp, nonce]);
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("signature", &sig)
            .append_pair("timestamp", timestamp)
            .append_pair("nonce", nonce)
            .append_pair("openid", &self.openid);
        let body = match s.mode {
            PushMode::Plaintext => xml.to_owned(),
            PushMode::Compatible | PushMode::Safe => {
                let key = aes_key(&s.encoding_aes_key).unwrap_or([0; 32]);
                let enc = encrypt(&key, random, xml.as_bytes(), &s.app_id);
                let msg_sig = signature(&[&s.token, timestamp, nonce, &enc]);
                query
                    .append_pair("encrypt_type", "aes")
                    .append_pair("msg_signature", &msg_sig);
                let encrypt_el = format!("<Encrypt>{}</Encrypt>", cdata(&enc));
                match s.mode {
                    PushMode::Safe => format!(
                        "<xml><ToUserName>{}</ToUserName>{encrypt_el}</xml>",
                        cdata(&s.account)
                    ),
                    _ => xml.replacen("<xml>", &format!("<xml>{encrypt_el}\n"), 1),
                }
            }
        };
        Push {
            method: Method::POST,
            query: query.finish(),
            body: Bytes::from(body),
            inner_xml: xml.to_owned(),
        }
    }

    /// The `GET` WeChat sends when the server URL is saved.
    pub fn verification(&self, echostr: &str) -> Push {
        let timestamp = self.now().to_string();
        let nonce = random_digits();
        let sig = signature(&[&self.settings.token, &timestamp, &nonce]);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("signature", &sig)
            .append_pair("echostr", echostr)
            .append_pair("timestamp", &timestamp)
            .append_pair("nonce", &nonce)
            .finish();
        Push {
            method: Method::GET,
            query,
            body: Bytes::new(),
            inner_xml: String::new(),
        }
    }

    /// The same content re-wrapped with a fresh timestamp, nonce and random prefix, as a retry
    /// might be (whether WeChat re-encrypts retries is UNCONFIRMED; dedupe must not care).
    pub fn rewrap(&self, push: &Push) -> Push {
        self.push(&push.inner_xml)
    }
}

impl Push {
    /// Sends this push to `url` once.
    pub async fn send_to(&self, url: &str) -> Result<Answer, ClientError> {
        let target = format!("{url}?{}", self.query);
        let content_type = (self.method == Method::POST).then_some("text/xml");
        send(
            self.method.clone(),
            &target,
            content_type,
            self.body.clone(),
        )
        .await
    }

    /// Sends this exact payload `deliveries` times, as WeChat does when answers are late
    /// (the docs say it retries three times; 4 deliveries in total is the safe assumption).
    pub async fn send_with_retries(
        &self,
        url: &str,
        deliveries: usize,
    ) -> Result<Vec<Answer>, ClientError> {
        let mut answers = Vec::with_capacity(deliveries);
        for _ in 0..deliveries {
            answers.push(self.send_to(url).await?);
        }
        Ok(answers)
    }

    /// The same push with a different query parameter value (for forging tests).
    pub fn with_query_param(&self, name: &str, value: &str) -> Push {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .map(|(k, v)| {
                if k == name {
                    (k, value.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Push {
            query,
            ..self.clone()
        }
    }
}
