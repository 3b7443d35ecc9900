// The phone page of the Telegram simulator: one user's private chat with the bot. Plain
// JavaScript, no build step. It polls the chat's inbox and sends the user's texts through the
// simulated Telegram server, which pushes them to the bot's webhook.
"use strict";

(function () {
  const POLL_MS = 500;
  // Telegram shows a chat action for five seconds, or until the bot's next message.
  const ACTION_MS = 5000;
  const byId = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const chatId = /^[1-9][0-9]{0,15}$/.test(params.get("chat_id") || "") ? params.get("chat_id") : "100200300";
  const firstName = params.get("first_name") || "";
  const base = "/__telegram/chats/" + chatId;
  const ACTION_WORDS = {
    typing: "typing…", upload_photo: "sending a photo…", record_video: "recording a video…",
    upload_video: "sending a video…", record_voice: "recording a voice message…",
    upload_voice: "sending a voice message…", upload_document: "sending a file…",
    choose_sticker: "choosing a sticker…", find_location: "choosing a location…",
    record_video_note: "recording a video message…", upload_video_note: "sending a video message…",
  };

  let botName = "Bot";
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

  function bubble(direction, content, atMs, testid) {
    const li = node("li", "msg " + direction);
    li.setAttribute("data-testid", testid);
    li.appendChild(content);
    li.appendChild(node("span", "time", hhmm(atMs)));
    return li;
  }

  function render() {
    const shown = entries.filter((e) => e.type !== "action");
    const key = shown.map((e) => e.seq).join(",");
    if (key !== renderedKey) {
      renderedKey = key;
      const items = [];
      let lastDay = "";
      for (const entry of shown) {
        const day = new Date(entry.atMs).toDateString();
        if (day !== lastDay) {
          items.push(node("li", "day", day));
          lastDay = day;
        }
        if (entry.type === "text") {
          items.push(bubble("in", node("span", "", entry.text), entry.atMs, "msg-in"));
        } else if (entry.type === "userText") {
          items.push(bubble("out", node("span", "", entry.text), entry.atMs, "msg-out"));
        } else if (entry.type === "photo") {
          const img = document.createElement("img");
          img.alt = "Photo";
          img.src = entry.src || "";
          items.push(bubble("in", img, entry.atMs, "msg-photo"));
        } else if (entry.type === "notice") {
          const notice = node("li", "notice", entry.text);
          notice.setAttribute("data-testid", "notice");
          items.push(notice);
        }
      }
      const list = byId("messages");
      list.replaceChildren(...items);
      list.scrollTop = list.scrollHeight;
    }
    renderStatus();
  }

  // The latest chat action, unless it is older than five seconds or a message followed it.
  function renderStatus() {
    let action = null;
    for (const entry of entries) {
      if (entry.type === "action") action = entry;
      else if (entry.type === "text" || entry.type === "photo") action = null;
    }
    const now = Date.now() + skewMs;
    const status = byId("status");
    if (action && action.action !== "cancel" && now - action.atMs < ACTION_MS) {
      status.textContent = ACTION_WORDS[action.action] || "typing…";
      status.className = "status typing";
      status.setAttribute("data-action", action.action);
    } else {
      status.textContent = "bot";
      status.className = "status";
      status.removeAttribute("data-action");
    }
  }

  async function getJson(path) {
    const response = await fetch(path, { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function loadBot() {
    try {
      const bot = await getJson("/__telegram/bot");
      botName = bot.firstName || bot.username || botName;
      byId("title").textContent = botName;
      byId("avatar").textContent = botName.slice(0, 1).toUpperCase();
      const banner = byId("banner");
      if (bot.webhook) {
        banner.hidden = true;
      } else {
        banner.textContent = "No webhook is set: the bot will not receive messages yet";
        banner.hidden = false;
        setTimeout(loadBot, 2000);
      }
    } catch (_) {
      setTimeout(loadBot, 2000);
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

  // Sends go one after another, so the bot sees them in the order they were typed.
  function send(text) {
    queue = queue.then(async () => {
      try {
        const body = { text };
        if (firstName) body.firstName = firstName;
        await fetch(base + "/send", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
      } catch (_) {
        // A failed delivery shows as a notice through the inbox.
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

  byId("me").textContent = "chat id " + chatId;
  setInterval(renderStatus, 1000);
  loadBot();
  poll();
})();
