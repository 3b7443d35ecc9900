// The phone page of the WeChat simulator: one user's chat with the Official Account. Plain
// JavaScript, no build step. It polls the user's inbox and sends the user's texts through the
// simulated WeChat server, which pushes them to the gateway's webhook.
"use strict";

(function () {
  const POLL_MS = 500;
  const TYPING_MS = 15000;
  const STAMP_GAP_MS = 3 * 60 * 1000;
  const byId = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const openid = params.get("openid") || "o6_demo_user";
  const base = "/__wechat/users/" + encodeURIComponent(openid);

  let name = "公众号";
  let entries = [];
  let skewMs = 0;
  let renderedKey = "";
  let queue = Promise.resolve();

  function node(tag, className, text) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function hhmm(ms) {
    const d = new Date(ms);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function row(direction, content, testid) {
    const li = node("li", "row " + direction);
    li.setAttribute("data-testid", testid);
    const avatar = node("div", "avatar", direction === "in" ? (name.slice(0, 1) || "公") : "我");
    const bubble = node("div", "bubble");
    bubble.appendChild(content);
    li.append(avatar, bubble);
    return li;
  }

  function render() {
    const shown = entries.filter((e) => e.type !== "typing" && e.type !== "cancelTyping");
    const key = shown.map((e) => e.seq).join(",");
    if (key !== renderedKey) {
      renderedKey = key;
      const list = byId("messages");
      const items = [];
      let lastStamp = -Infinity;
      for (const entry of shown) {
        if (entry.atMs - lastStamp > STAMP_GAP_MS) {
          items.push(node("li", "stamp", hhmm(entry.atMs)));
          lastStamp = entry.atMs;
        }
        if (entry.type === "text") {
          items.push(row("in", node("span", "", entry.text), "msg-in"));
        } else if (entry.type === "userText") {
          items.push(row("out", node("span", "", entry.text), "msg-out"));
        } else if (entry.type === "image") {
          const img = document.createElement("img");
          img.alt = "图片";
          img.src = "/__wechat/media/" + encodeURIComponent(entry.mediaId || "");
          items.push(row("in", img, "msg-image"));
        } else if (entry.type === "notice") {
          const notice = node("li", "notice", entry.text);
          notice.setAttribute("data-testid", "notice");
          items.push(notice);
        }
      }
      list.replaceChildren(...items);
      list.scrollTop = list.scrollHeight;
    }
    renderTyping();
  }

  // The account shows as typing after `Typing` until it cancels, sends something, or 15 s pass.
  function renderTyping() {
    let typingSince = null;
    for (const entry of entries) {
      if (entry.type === "typing") typingSince = entry.atMs;
      else if (entry.type === "cancelTyping" || entry.type === "text" || entry.type === "image") typingSince = null;
    }
    const now = Date.now() + skewMs;
    const typing = typingSince !== null && now - typingSince < TYPING_MS;
    byId("typing").hidden = !typing;
    byId("title").textContent = typing ? "对方正在输入…" : name;
  }

  async function getJson(path) {
    const response = await fetch(path, { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function loadAccount() {
    try {
      const about = await getJson("/__wechat/phone");
      const banner = byId("banner");
      if (about.configured) {
        name = about.name || about.account || name;
        banner.hidden = true;
      } else {
        banner.textContent = "模拟器尚未连接网关：消息无法送达";
        banner.hidden = false;
        setTimeout(loadAccount, 2000);
      }
      renderTyping();
    } catch (_) {
      setTimeout(loadAccount, 2000);
    }
  }

  async function poll() {
    try {
      const inbox = await getJson(base + "/inbox");
      skewMs = inbox.nowMs - Date.now();
      entries = inbox.entries || [];
      render();
    } catch (_) {
      // The simulator is restarting or gone; keep trying.
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  function tick() {
    byId("clock").textContent = hhmm(Date.now());
    renderTyping();
  }

  // Sends go one after another, so the gateway sees them in the order they were typed.
  function send(text) {
    queue = queue.then(async () => {
      try {
        await fetch(base + "/send", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ text }),
        });
      } catch (_) {
        // The notice (if any) arrives through the inbox.
      }
    });
  }

  byId("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId("text");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send(text);
  });

  byId("me").textContent = "OpenID " + openid;
  tick();
  setInterval(tick, 1000);
  loadAccount();
  poll();
})();
