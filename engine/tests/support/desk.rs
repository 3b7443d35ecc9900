//! The agent desk a gateway test runs against, either simulator behind one face: start it,
//! point the simulated configuration at it, accept every waiting chat, find a user's chat, read
//! what the visitor wrote, answer, and disrupt every chat's connection (a Live Agent failover,
//! an Enhanced Chat stream dropped mid-frame). The suites run once per desk, not copied.

use std::time::Duration;

use switchboard_engine::simulated::Simulated;
use switchboard_sim::enhanced::{DropMode, EnhancedChatSim, EnhancedSimConfig};
use switchboard_sim::liveagent::{LiveAgentSim, SimConfig};
use switchboard_sim::wechat::WeChatApiSim;

use super::{APP_ID, eventually};

/// Which desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskKind {
    LiveAgent,
    EnhancedChat,
}

/// A running desk simulator (the Live Agent one always runs: the configuration names it).
pub struct Desk {
    pub kind: DeskKind,
    pub live_agent: LiveAgentSim,
    pub enhanced: Option<EnhancedChatSim>,
}

impl Desk {
    pub async fn start(kind: DeskKind) -> Desk {
        let live_agent = LiveAgentSim::start(SimConfig::with_hold(Duration::from_millis(500)))
            .await
            .expect("Live Agent simulator");
        let enhanced = match kind {
            DeskKind::LiveAgent => None,
            DeskKind::EnhancedChat => {
                let mut config = EnhancedSimConfig {
                    ping_interval: Duration::from_secs(1),
                    ..EnhancedSimConfig::default()
                };
                config.knobs.routing_delay = Duration::from_millis(50);
                Some(
                    EnhancedChatSim::start(config)
                        .await
                        .expect("Enhanced Chat simulator"),
                )
            }
        };
        Desk {
            kind,
            live_agent,
            enhanced,
        }
    }

    /// The gateway's simulated configuration, pointed at this desk.
    pub fn simulated(&self, wechat: &WeChatApiSim, data_dir: std::path::PathBuf) -> Simulated {
        let simulated = Simulated::new(&self.live_agent, wechat, APP_ID, data_dir);
        match &self.enhanced {
            Some(sim) => simulated.on_enhanced_chat(sim),
            None => simulated,
        }
    }

    /// Waits until `count` chats wait for an agent, and accepts each (`Agent 0`, …).
    pub async fn accept_all(&self, count: usize) {
        match &self.enhanced {
            None => super::accept_all(&self.live_agent.control(), count).await,
            Some(sim) => {
                let agent = sim.agent();
                let ids: Vec<String> = eventually("the conversations waiting", || {
                    let waiting = agent.waiting();
                    (waiting.len() == count)
                        .then(|| waiting.into_iter().map(|w| w.conversation_id).collect())
                })
                .await;
                for (i, id) in ids.iter().enumerate() {
                    agent
                        .accept(id, &format!("Agent {i}"))
                        .expect("the agent accepts");
                }
            }
        }
    }

    /// The chat (Live Agent session, Enhanced Chat conversation) of the user `openid`.
    pub fn chat_of(&self, openid: &str) -> String {
        match &self.enhanced {
            None => super::session_of(&self.live_agent.control(), openid),
            Some(sim) => sim
                .agent()
                .conversations()
                .into_iter()
                .find(|c| carries(&c.routing_attributes, openid))
                .map(|c| c.id)
                .unwrap_or_else(|| panic!("no conversation for {openid}")),
        }
    }

    /// The channel the chat request of the user `id` named (`WeChat`, `Telegram`).
    pub fn channel_of(&self, id: &str) -> String {
        match &self.enhanced {
            None => {
                let view = self.live_agent_view(id);
                let channel = view.prechat.iter().find(|(label, _)| label == "Channel");
                channel.map(|(_, v)| v.clone()).unwrap_or_default()
            }
            Some(sim) => enhanced_attribute(sim, id, "Channel_Source"),
        }
    }

    /// The visitor's name the agent sees for the user `id`.
    pub fn visitor_name_of(&self, id: &str) -> String {
        match &self.enhanced {
            None => self.live_agent_view(id).visitor_name,
            Some(sim) => enhanced_attribute(sim, id, "Visitor_Name"),
        }
    }

    /// The Live Agent session of the user `id`.
    fn live_agent_view(&self, id: &str) -> switchboard_sim::liveagent::SessionView {
        let control = self.live_agent.control();
        let session = super::session_of(&control, id);
        control.session(&session).expect("session")
    }

    /// How many chats the user `openid` has had at the desk.
    pub fn chats_of(&self, openid: &str) -> usize {
        match &self.enhanced {
            None => self
                .live_agent
                .control()
                .sessions()
                .into_iter()
                .filter(|s| s.phase != switchboard_sim::liveagent::Phase::Created)
                .filter(|s| s.prechat.iter().any(|(_, v)| v == openid))
                .count(),
            Some(sim) => sim
                .agent()
                .conversations()
                .into_iter()
                .filter(|c| carries(&c.routing_attributes, openid))
                .count(),
        }
    }

    /// What the visitor of `chat` wrote, as the agent sees it, in order.
    pub fn visitor_texts(&self, chat: &str) -> Vec<String> {
        match &self.enhanced {
            None => self
                .live_agent
                .control()
                .session(chat)
                .map(|s| s.visitor_texts)
                .unwrap_or_default(),
            Some(sim) => sim
                .agent()
                .conversation(chat)
                .map(|c| c.end_user_texts)
                .unwrap_or_default(),
        }
    }

    /// The agent of `chat` writes `text`.
    pub fn send_text(&self, chat: &str, text: &str) {
        match &self.enhanced {
            None => self.live_agent.control().send_text(chat, text).unwrap(),
            Some(sim) => {
                sim.agent().send_text(chat, text).unwrap();
            }
        }
    }

    /// The agent of `chat` ends it.
    pub fn end(&self, chat: &str) {
        match &self.enhanced {
            None => self.live_agent.control().end(chat).unwrap(),
            Some(sim) => sim.agent().end_session(chat).unwrap(),
        }
    }

    /// Chat requests the desk received (ChasitorInit; conversation creates), repeats included.
    pub fn chat_requests(&self) -> usize {
        match &self.enhanced {
            None => self
                .live_agent
                .control()
                .recorded()
                .iter()
                .filter(|r| {
                    r.request.resource == switchboard_core::liveagent::Resource::ChasitorInit
                })
                .count(),
            Some(sim) => sim
                .agent()
                .recorded()
                .iter()
                .filter(|r| {
                    r.request.path == "/iamessage/api/v2/conversation"
                        && r.request.method == switchboard_core::model::enhanced::Method::Post
                })
                .count(),
        }
    }

    /// Every chat's connection breaks: Live Agent fails every session over; Enhanced Chat drops
    /// every stream mid-frame. How many chats were hit.
    pub fn disrupt_all(&self) -> usize {
        match &self.enhanced {
            None => self.live_agent.control().failover_all(),
            Some(sim) => {
                let agent = sim.agent();
                agent
                    .conversations()
                    .into_iter()
                    .map(|c| agent.drop_streams(&c.subject, DropMode::MidFrame).min(1))
                    .sum()
            }
        }
    }
}

/// Whether an Enhanced Chat conversation's pre-chat fields carry the user id `id` (under
/// whichever channel's field).
fn carries(attributes: &serde_json::Value, id: &str) -> bool {
    attributes
        .as_object()
        .is_some_and(|fields| fields.values().any(|v| v == id))
}

/// The pre-chat field `field` of the Enhanced Chat conversation of the user `id`.
fn enhanced_attribute(sim: &EnhancedChatSim, id: &str, field: &str) -> String {
    sim.agent()
        .conversations()
        .into_iter()
        .find(|c| carries(&c.routing_attributes, id))
        .and_then(|c| c.routing_attributes[field].as_str().map(str::to_owned))
        .unwrap_or_default()
}
