//! The agent console both desk simulators serve: one page of plain HTML, CSS and JavaScript
//! compiled into the binary and answered at `GET /console` on the simulator's own listener. No
//! build step: the files here are what the browser gets, except that the page's `{{desk}}` and
//! `{{failover-all}}` placeholders name the desk serving it.
//!
//! Contract: the page drives `/__sim/` on the same origin and expects, from `GET /__sim/chats`,
//! a JSON array of chats shaped `{id, phase, agent, visitorName, prechat: [[label, value]…],
//! transcript: [{from: "visitor"|"agent", text, atMs}…], polling, moved, visitorTyping}`, and
//! from each `POST /__sim/chats/{id}/{action}` the chat after the action (or `{"error":…}`).
//! Phases it knows: `waiting` (Accept and Reject offered), `established` (reply, typing,
//! transfer, file request), `ended`; any other phase is listed without actions.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// Which simulator serves the page: the words the page shows for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Desk {
    /// The tag beside the title, and the window title.
    pub(crate) name: &'static str,
    /// The hover text of "Fail over all".
    pub(crate) failover_all: &'static str,
}

/// The Live Agent simulator's console.
pub(crate) const LIVE_AGENT: Desk = Desk {
    name: "Live Agent simulator",
    failover_all: "Every session's chat server restarts: requests get 503 until ReconnectSession",
};

/// The Enhanced Chat simulator's console.
pub(crate) const ENHANCED_CHAT: Desk = Desk {
    name: "Enhanced Chat simulator",
    failover_all: "Every open event stream is cut mid-frame: clients must reconnect and catch up",
};

/// The console's files by path for `desk`, or `None` for any other path.
pub(crate) fn asset(path: &str, desk: Desk) -> Option<Response<Full<Bytes>>> {
    let (body, content_type) = match path {
        "/console" | "/console/" | "/console/index.html" => {
            (Bytes::from(page(desk)), "text/html; charset=utf-8")
        }
        "/console/console.js" => (
            Bytes::from_static(SCRIPT.as_bytes()),
            "text/javascript; charset=utf-8",
        ),
        "/console/console.css" => (
            Bytes::from_static(STYLE.as_bytes()),
            "text/css; charset=utf-8",
        ),
        _ => return None,
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}

/// The HTML page with `desk`'s words in place.
fn page(desk: Desk) -> String {
    INDEX
        .replace("{{desk}}", desk.name)
        .replace("{{failover-all}}", desk.failover_all)
}

#[cfg(test)]
mod tests {
    use super::{ENHANCED_CHAT, LIVE_AGENT, page};

    #[test]
    fn each_desk_gets_the_page_with_its_own_name_and_no_placeholder_left() {
        for desk in [LIVE_AGENT, ENHANCED_CHAT] {
            let html = page(desk);
            assert!(!html.contains("{{"), "{html}");
            assert!(html.contains(&format!("<title>Agent console · {}</title>", desk.name)));
            assert!(html.contains(&format!("title=\"{}\"", desk.failover_all)));
        }
    }
}
