//! Every text the user or the agent reads, with `{placeholder}` slots filled by
//! [`Templates::render`]. English and Simplified Chinese sets are built in.
//!
//! Placeholders: `{agent}` (agent name), `{position}` (1 = next), `{wait}` (rendered with
//! `wait_minutes`), `{count}` (a number), `{url}`, `{title}`, `{label}`, `{lat}`, `{lon}`,
//! `{text}`. Values are inserted verbatim and never scanned for placeholders themselves; an
//! unknown `{name}` stays as written.

use serde::{Deserialize, Serialize};

/// The texts of one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Templates {
    /// Language sent with the chat request (`zh-CN`); empty means not given.
    pub language: String,

    // --- to the user ---
    /// Waiting, position unknown.
    pub queued: String,
    /// Waiting: `{position}`.
    pub queued_position: String,
    /// Waiting: `{position}`, `{wait}`.
    pub queued_position_wait: String,
    /// How `{wait}` reads: `{count}` minutes.
    pub wait_minutes: String,
    /// `{agent}` accepted the chat.
    pub agent_joined: String,
    /// The chat moved to `{agent}`.
    pub transferred: String,
    /// `{agent}` asked for a picture.
    pub file_requested: String,
    /// `{agent}` ended the chat.
    pub ended_by_agent: String,
    /// The user ended the chat.
    pub ended_by_user: String,
    /// The user ended the chat before an agent joined.
    pub withdrawn: String,
    /// The user ended the chat before an agent joined; `{count}` messages they typed meanwhile
    /// were not sent to anyone.
    pub withdrawn_unsent: String,
    /// Ended for inactivity.
    pub ended_idle: String,
    /// No agent took the chat.
    pub no_agent: String,
    /// Ended, for any other reason.
    pub ended: String,
    /// The Live Agent session expired or became invalid.
    pub session_expired: String,
    /// The connection to Live Agent was lost.
    pub connection_lost: String,

    // --- to the agent ---
    /// `{count}` more messages can reach the user until they write again.
    pub budget_warning: String,
    /// The user's reply window closed; what the agent writes is kept until they write again.
    pub window_closed: String,
    /// `{count}` messages will never reach the user (refused as the window closed, or beyond
    /// what is kept); `{text}`: the latest of them, shortened.
    pub undelivered: String,
    /// `{count}` messages could not be delivered (the channel kept failing: `{label}`);
    /// `{text}`: the latest of them, shortened.
    pub delivery_failed: String,

    // --- the user's non-text messages, described for the agent ---
    /// A picture at `{url}`.
    pub image: String,
    /// A picture without a link.
    pub image_without_url: String,
    /// The picture the agent asked for, at `{url}`.
    pub requested_image: String,
    /// A voice note transcribed as `{text}`.
    pub voice: String,
    /// A voice note without transcription.
    pub voice_without_text: String,
    /// A video.
    pub video: String,
    /// A place: `{label}`, `{lat}`, `{lon}`.
    pub location: String,
    /// A link: `{title}`, `{url}`.
    pub link: String,
    /// Another kind of message: `{label}`.
    pub other: String,
    /// A place whose coordinates could not be read: `{label}`.
    pub location_without_coordinates: String,
    /// A periodic location report (when forwarded): `{lat}`, `{lon}`.
    pub location_report: String,
    /// A navigation event or notification (when forwarded): `{label}` (its kind and target).
    pub event: String,
}

impl Default for Templates {
    fn default() -> Self {
        Self::english()
    }
}

/// One text to render, with the values for its placeholders.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Notice<'a> {
    /// In the queue; `position` 0 = next, as Live Agent counts.
    Queued {
        /// Live Agent's position.
        position: Option<i64>,
        /// Estimated wait in seconds (negative = unknown).
        wait_secs: Option<i64>,
    },
    /// An agent accepted the chat.
    AgentJoined {
        /// Agent name.
        agent: &'a str,
    },
    /// Another agent took over.
    Transferred {
        /// Agent name.
        agent: &'a str,
    },
    /// The agent asked for a picture.
    FileRequested {
        /// Agent name.
        agent: &'a str,
    },
    /// The agent ended the chat.
    EndedByAgent {
        /// Agent name.
        agent: &'a str,
    },
    /// The user ended the chat.
    EndedByUser,
    /// The user ended the chat before an agent joined.
    Withdrawn {
        /// Texts typed while queued that never reached an agent.
        unsent: usize,
    },
    /// Ended for inactivity.
    EndedIdle,
    /// No agent available.
    NoAgent,
    /// Ended for another reason.
    Ended,
    /// The session expired.
    SessionExpired,
    /// The connection was lost.
    ConnectionLost,
    /// To the agent: sends left.
    BudgetWarning {
        /// How many.
        remaining: u32,
    },
    /// To the agent: the window closed.
    WindowClosed,
    /// To the agent: these lines will never reach the user.
    Undelivered {
        /// How many.
        count: u32,
        /// The latest, shortened.
        text: &'a str,
    },
    /// To the agent: these lines could not be delivered.
    DeliveryFailed {
        /// How many.
        count: usize,
        /// The latest, shortened.
        text: &'a str,
        /// The driver's explanation.
        reason: &'a str,
    },
    /// A picture.
    Image {
        /// Its link.
        url: Option<&'a str>,
        /// It answers the agent's request for a file.
        requested: bool,
    },
    /// A voice note.
    Voice {
        /// Its transcription.
        recognition: Option<&'a str>,
    },
    /// A video.
    Video,
    /// A place.
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
        /// Name.
        label: &'a str,
    },
    /// A link.
    Link {
        /// Title.
        title: &'a str,
        /// Address.
        url: &'a str,
    },
    /// Another kind.
    Other {
        /// The channel's kind name.
        kind: &'a str,
    },
    /// A place without readable coordinates.
    UnreadableLocation {
        /// Name.
        label: &'a str,
    },
    /// A periodic location report.
    LocationReport {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
    },
    /// A navigation event or a notification.
    Event {
        /// The channel's name for it.
        kind: &'a str,
        /// Its target, if any.
        target: Option<&'a str>,
    },
}

impl Templates {
    /// English texts.
    pub fn english() -> Self {
        let s = str::to_owned;
        Self {
            language: s("en-US"),
            queued: s("Please hold on, we are finding an agent for you."),
            queued_position: s("You are number {position} in the queue."),
            queued_position_wait: s(
                "You are number {position} in the queue. Expected wait: about {wait}.",
            ),
            wait_minutes: s("{count} min"),
            agent_joined: s("{agent} is now with you."),
            transferred: s("Your chat was passed to {agent}."),
            file_requested: s("{agent} would like a picture. Please send one here."),
            ended_by_agent: s(
                "{agent} closed the chat. Write to us any time if you need more help.",
            ),
            ended_by_user: s("You closed the chat. Thank you for contacting us."),
            withdrawn: s("You withdrew your request before an agent joined."),
            withdrawn_unsent: s(
                "You withdrew your request before an agent joined; the {count} message(s) you wrote meanwhile were not sent.",
            ),
            ended_idle: s("The chat was closed after a period without activity."),
            no_agent: s("Sorry, no agent can take your chat right now. Please try again later."),
            ended: s("The chat is over."),
            session_expired: s("The chat session timed out. Write again to start a new chat."),
            connection_lost: s(
                "We lost the connection to our agents. Write again to start a new chat.",
            ),
            budget_warning: s(
                "[Switchboard] The customer can receive {count} more message(s) until they write again.",
            ),
            window_closed: s(
                "[Switchboard] The customer's reply window is closed: what you write now is kept and sent when they write again.",
            ),
            undelivered: s(
                "[Switchboard] {count} message(s) did not reach the customer before their reply window closed. The latest: {text}",
            ),
            delivery_failed: s(
                "[Switchboard] {count} message(s) could not be delivered to the customer ({label}). The latest: {text}",
            ),
            image: s("[Picture] {url}"),
            image_without_url: s("[Picture, no link available]"),
            requested_image: s("[Requested picture] {url}"),
            voice: s("[Voice message] {text}"),
            voice_without_text: s("[Voice message, no transcription available]"),
            video: s("[Video, cannot be shown here]"),
            location: s("[Location] {label} ({lat}, {lon})"),
            link: s("[Link] {title} {url}"),
            other: s("[Unsupported message type: {label}]"),
            location_without_coordinates: s("[Location] {label} (no coordinates)"),
            location_report: s("[Location report] {lat}, {lon}"),
            event: s("[Customer action] {label}"),
        }
    }

    /// Simplified Chinese texts.
    pub fn simplified_chinese() -> Self {
        let s = str::to_owned;
        Self {
            language: s("zh-CN"),
            queued: s("正在为您转接人工客服，请稍候。"),
            queued_position: s("您当前排在第 {position} 位，请稍候。"),
            queued_position_wait: s("您当前排在第 {position} 位，预计等待约 {wait}。"),
            wait_minutes: s("{count} 分钟"),
            agent_joined: s("客服 {agent} 已为您服务。"),
            transferred: s("您的会话已转给客服 {agent}。"),
            file_requested: s("客服 {agent} 需要一张图片，请直接在此发送。"),
            ended_by_agent: s("客服 {agent} 已结束会话。如需帮助，欢迎随时留言。"),
            ended_by_user: s("您已结束会话，感谢您的咨询。"),
            withdrawn: s("您已在客服接入前取消了请求。"),
            withdrawn_unsent: s("您已在客服接入前取消了请求，期间发送的 {count} 条消息未发出。"),
            ended_idle: s("由于长时间没有互动，会话已结束。"),
            no_agent: s("抱歉，暂时没有客服可以接待，请稍后再试。"),
            ended: s("会话已结束。"),
            session_expired: s("会话已超时。再次发送消息即可开始新的会话。"),
            connection_lost: s("与客服系统的连接已中断。再次发送消息即可开始新的会话。"),
            budget_warning: s("[Switchboard] 在客户再次发消息之前，还能向其发送 {count} 条消息。"),
            window_closed: s(
                "[Switchboard] 客户的回复窗口已关闭：现在发送的消息会保留，待客户再次发消息时送达。",
            ),
            undelivered: s(
                "[Switchboard] 有 {count} 条消息在客户的回复窗口关闭前未能送达。最近一条：{text}",
            ),
            delivery_failed: s(
                "[Switchboard] 有 {count} 条消息无法送达客户（{label}）。最近一条：{text}",
            ),
            image: s("[图片] {url}"),
            image_without_url: s("[图片，无可用链接]"),
            requested_image: s("[您要的图片] {url}"),
            voice: s("[语音] {text}"),
            voice_without_text: s("[语音，无识别文字]"),
            video: s("[视频，无法在此显示]"),
            location: s("[位置] {label}（{lat}, {lon}）"),
            link: s("[链接] {title} {url}"),
            other: s("[不支持的消息类型：{label}]"),
            location_without_coordinates: s("[位置] {label}（无坐标）"),
            location_report: s("[位置上报] {lat}, {lon}"),
            event: s("[客户操作] {label}"),
        }
    }

    /// The text for `notice`, placeholders filled.
    pub fn render(&self, notice: &Notice<'_>) -> String {
        match *notice {
            Notice::Queued {
                position,
                wait_secs,
            } => {
                let Some(position) = position.filter(|p| *p >= 0) else {
                    return fill(&self.queued, &[]);
                };
                let shown = position.saturating_add(1).to_string();
                match wait_secs.filter(|w| *w > 0) {
                    Some(secs) => {
                        let minutes = secs.saturating_add(59) / 60;
                        let wait = fill(&self.wait_minutes, &[("count", &minutes.to_string())]);
                        fill(
                            &self.queued_position_wait,
                            &[("position", &shown), ("wait", &wait)],
                        )
                    }
                    None => fill(&self.queued_position, &[("position", &shown)]),
                }
            }
            Notice::AgentJoined { agent } => fill(&self.agent_joined, &[("agent", agent)]),
            Notice::Transferred { agent } => fill(&self.transferred, &[("agent", agent)]),
            Notice::FileRequested { agent } => fill(&self.file_requested, &[("agent", agent)]),
            Notice::EndedByAgent { agent } => fill(&self.ended_by_agent, &[("agent", agent)]),
            Notice::EndedByUser => fill(&self.ended_by_user, &[]),
            Notice::Withdrawn { unsent: 0 } => fill(&self.withdrawn, &[]),
            Notice::Withdrawn { unsent } => {
                fill(&self.withdrawn_unsent, &[("count", &unsent.to_string())])
            }
            Notice::EndedIdle => fill(&self.ended_idle, &[]),
            Notice::NoAgent => fill(&self.no_agent, &[]),
            Notice::Ended => fill(&self.ended, &[]),
            Notice::SessionExpired => fill(&self.session_expired, &[]),
            Notice::ConnectionLost => fill(&self.connection_lost, &[]),
            Notice::BudgetWarning { remaining } => {
                fill(&self.budget_warning, &[("count", &remaining.to_string())])
            }
            Notice::WindowClosed => fill(&self.window_closed, &[]),
            Notice::Undelivered { count, text } => fill(
                &self.undelivered,
                &[("count", &count.to_string()), ("text", text)],
            ),
            Notice::DeliveryFailed {
                count,
                text,
                reason,
            } => fill(
                &self.delivery_failed,
                &[
                    ("count", &count.to_string()),
                    ("text", text),
                    ("label", reason),
                ],
            ),
            Notice::Image {
                url: Some(url),
                requested: true,
            } => fill(&self.requested_image, &[("url", url)]),
            Notice::Image {
                url: Some(url),
                requested: false,
            } => fill(&self.image, &[("url", url)]),
            Notice::Image { url: None, .. } => fill(&self.image_without_url, &[]),
            Notice::Voice {
                recognition: Some(text),
            } => fill(&self.voice, &[("text", text)]),
            Notice::Voice { recognition: None } => fill(&self.voice_without_text, &[]),
            Notice::Video => fill(&self.video, &[]),
            Notice::Location {
                latitude,
                longitude,
                label,
            } => fill(
                &self.location,
                &[
                    ("label", label),
                    ("lat", &latitude.to_string()),
                    ("lon", &longitude.to_string()),
                ],
            ),
            Notice::Link { title, url } => fill(&self.link, &[("title", title), ("url", url)]),
            Notice::Other { kind } => fill(&self.other, &[("label", kind)]),
            Notice::UnreadableLocation { label } => {
                fill(&self.location_without_coordinates, &[("label", label)])
            }
            Notice::LocationReport {
                latitude,
                longitude,
            } => fill(
                &self.location_report,
                &[
                    ("lat", &latitude.to_string()),
                    ("lon", &longitude.to_string()),
                ],
            ),
            Notice::Event { kind, target } => {
                let label = match target {
                    Some(target) => format!("{kind} {target}"),
                    None => kind.to_owned(),
                };
                fill(&self.event, &[("label", &label)])
            }
        }
    }
}

/// Replaces each `{name}` in `template` with its value in one left-to-right pass.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_placeholders_once_and_keeps_unknown_ones() {
        assert_eq!(
            fill(
                "{agent} says {x} {text}",
                &[("agent", "{text}"), ("text", "hi")]
            ),
            "{text} says {x} hi"
        );
        assert_eq!(fill("a { b", &[]), "a { b");
    }

    #[test]
    fn queue_positions_count_from_one_and_round_the_wait_up() {
        let t = Templates::english();
        let n = Notice::Queued {
            position: Some(0),
            wait_secs: Some(61),
        };
        assert_eq!(
            t.render(&n),
            "You are number 1 in the queue. Expected wait: about 2 min."
        );
        let unknown = Notice::Queued {
            position: Some(2),
            wait_secs: Some(-1),
        };
        assert_eq!(t.render(&unknown), "You are number 3 in the queue.");
    }

    #[test]
    fn both_languages_fill_every_placeholder() {
        for t in [Templates::english(), Templates::simplified_chinese()] {
            let texts = [
                t.render(&Notice::AgentJoined { agent: "Andy" }),
                t.render(&Notice::Location {
                    latitude: 23.1,
                    longitude: 113.3,
                    label: "Guangzhou",
                }),
                t.render(&Notice::BudgetWarning { remaining: 1 }),
                t.render(&Notice::Queued {
                    position: Some(1),
                    wait_secs: Some(120),
                }),
            ];
            for text in texts {
                assert!(!text.contains('{'), "{text}");
            }
        }
    }
}
