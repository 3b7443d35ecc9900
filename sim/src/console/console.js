// Agent console of the desk simulators (Live Agent, Enhanced Chat). Plain JavaScript, no build
// step: it polls the simulator's JSON control API (/__sim/...) and renders waiting chats, chats
// and one transcript.
"use strict";

(function () {
  const POLL_MS = 500;
  const byId = (id) => document.getElementById(id);

  let chats = [];
  let selected = null;
  const rendered = { waiting: null, chats: null, transcript: null, head: null };
  let errorTimer = null;

  function node(tag, props, children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "text") el.textContent = value;
      else if (key === "onclick") el.addEventListener("click", value);
      else if (key.startsWith("data-")) el.setAttribute(key, value);
      else el[key] = value;
    }
    for (const child of children || []) el.appendChild(child);
    return el;
  }

  async function call(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      throw new Error((data && data.error) || "HTTP " + response.status);
    }
    return data;
  }

  function act(id, action, body) {
    return call("POST", "/__sim/chats/" + encodeURIComponent(id) + "/" + action, body || {})
      .then((session) => {
        merge(session);
        render();
        return session;
      })
      .catch(showError);
  }

  function merge(session) {
    if (!session || !session.id) return;
    const at = chats.findIndex((c) => c.id === session.id);
    if (at >= 0) chats[at] = session;
  }

  function showError(error) {
    const box = byId("error");
    box.textContent = String(error && error.message ? error.message : error);
    box.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  function clock(ms) {
    const d = new Date(ms);
    const two = (n) => String(n).padStart(2, "0");
    return two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }

  function agentName() {
    return byId("agent-name").value.trim() || "Agent";
  }

  function lastLine(chat) {
    const t = chat.transcript || [];
    return t.length ? t[t.length - 1].text : "";
  }

  function renderWaiting() {
    const waiting = chats.filter((c) => c.phase === "waiting");
    byId("waiting-count").textContent = String(waiting.length);
    byId("waiting-empty").hidden = waiting.length > 0;
    const key = JSON.stringify(waiting.map((c) => [c.id, c.visitorName, c.prechat]));
    if (key === rendered.waiting) return;
    rendered.waiting = key;
    const list = byId("waiting");
    list.replaceChildren(...waiting.map((chat) => {
      const details = (chat.prechat || []).map((p) => p[0] + ": " + p[1]).join(" · ");
      return node("li", { className: "card waiting", "data-testid": "waiting-chat", "data-session": chat.id }, [
        node("div", { className: "name", text: chat.visitorName || "Visitor" }),
        node("div", { className: "sub", text: details || chat.id, title: chat.id }),
        node("div", { className: "buttons" }, [
          node("button", {
            className: "primary small", type: "button", text: "Accept", "data-testid": "accept",
            onclick: () => act(chat.id, "accept", { agent: agentName() }).then((s) => {
              if (s) select(s.id);
            }),
          }),
          node("button", {
            className: "small", type: "button", text: "Reject", "data-testid": "reject",
            onclick: () => act(chat.id, "reject", { reason: "Unavailable" }),
          }),
        ]),
      ]);
    }));
  }

  function renderChats() {
    const open = chats.filter((c) => c.phase !== "waiting");
    byId("chat-count").textContent = String(open.length);
    byId("chats-empty").hidden = open.length > 0;
    const key = JSON.stringify([selected, open.map((c) => [c.id, c.phase, c.agent, c.visitorName, c.moved, lastLine(c)])]);
    if (key === rendered.chats) return;
    rendered.chats = key;
    byId("chats").replaceChildren(...open.map((chat) => {
      const phase = node("span", { className: "phase " + chat.phase, text: chat.phase });
      const title = node("div", { className: "name", text: chat.visitorName || "Visitor" }, [phase]);
      const sub = chat.moved ? "failover pending" : (lastLine(chat) || (chat.agent ? "with " + chat.agent : chat.id));
      return node("li", {
        className: "card chat-item" + (chat.id === selected ? " selected" : ""),
        "data-testid": "chat-item", "data-session": chat.id,
        onclick: () => select(chat.id),
      }, [title, node("div", { className: "sub", text: sub })]);
    }));
  }

  function flag(text, kind, testid) {
    return node("span", { className: "flag" + (kind ? " " + kind : ""), text, "data-testid": testid });
  }

  function renderSelected() {
    const chat = chats.find((c) => c.id === selected);
    byId("chat").hidden = !chat;
    byId("empty").hidden = !!chat;
    if (!chat) return;
    const established = chat.phase === "established";
    const ended = chat.phase === "ended";

    const head = JSON.stringify([chat.id, chat.phase, chat.agent, chat.polling, chat.moved, chat.visitorName, chat.prechat]);
    if (head !== rendered.head) {
      rendered.head = head;
      byId("chat-visitor").textContent = chat.visitorName || "Visitor";
      byId("chat-meta").textContent =
        (chat.agent ? "with " + chat.agent + " · " : "") + chat.phase + " · session " + chat.id;
      byId("chat-flags").replaceChildren(
        flag(chat.phase, established ? "on" : "", "flag-phase"),
        flag(chat.polling ? "visitor polling" : "no poll held", chat.polling ? "on" : "", "flag-polling"),
        ...(chat.moved ? [flag("failover pending", "alert", "flag-failover")] : []),
      );
      byId("prechat").replaceChildren(...(chat.prechat || []).flatMap((p) => [
        node("dt", { text: p[0] }), node("dd", { text: p[1] }),
      ]));
    }

    const lines = chat.transcript || [];
    const key = chat.id + "|" + lines.length;
    if (key !== rendered.transcript) {
      rendered.transcript = key;
      const list = byId("transcript");
      list.replaceChildren(...lines.map((line) => node("li", {
        className: "line " + line.from, "data-testid": "line-" + line.from,
      }, [
        node("span", {
          className: "who",
          text: (line.from === "agent" ? (chat.agent || "Agent") : (chat.visitorName || "Visitor")) + " · " + clock(line.atMs),
        }),
        node("span", { className: "text", text: line.text, "data-testid": "line-text" }),
      ])));
      list.scrollTop = list.scrollHeight;
    }
    byId("visitor-typing").hidden = !(chat.visitorTyping && !ended);

    byId("reply").disabled = !established;
    byId("send").disabled = !established;
    byId("typing").disabled = !established;
    byId("transfer").disabled = !established;
    byId("request-file").disabled = !established;
    byId("end").disabled = ended;
    byId("failover").disabled = ended;
    if (!established) byId("typing").checked = false;
  }

  function render() {
    renderWaiting();
    renderChats();
    renderSelected();
  }

  function select(id) {
    selected = id;
    rendered.transcript = null;
    rendered.head = null;
    byId("typing").checked = false;
    render();
  }

  function setStatus(ok, text) {
    const status = byId("status");
    status.className = "status " + (ok ? "ok" : "down");
    status.textContent = text;
  }

  async function poll() {
    try {
      chats = await call("GET", "/__sim/chats");
      if (selected && !chats.some((c) => c.id === selected)) selected = null;
      if (!selected) {
        const first = chats.find((c) => c.phase === "established");
        if (first) select(first.id);
      }
      setStatus(true, "live");
      render();
    } catch (error) {
      setStatus(false, "simulator unreachable");
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  byId("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = byId("reply");
    const text = input.value;
    if (!selected || !text.trim()) return;
    input.value = "";
    const typing = byId("typing");
    act(selected, "text", { text }).then(() => {
      if (typing.checked) {
        typing.checked = false;
        return act(selected, "typing", { typing: false });
      }
      return null;
    });
  });
  byId("typing").addEventListener("change", (event) => {
    if (selected) act(selected, "typing", { typing: event.target.checked });
  });
  byId("transfer").addEventListener("click", () => {
    const to = byId("transfer-to").value.trim();
    if (selected && to) act(selected, "transfer", { agent: to });
  });
  byId("request-file").addEventListener("click", () => { if (selected) act(selected, "file"); });
  byId("end").addEventListener("click", () => { if (selected) act(selected, "end"); });
  byId("failover").addEventListener("click", () => { if (selected) act(selected, "failover"); });
  byId("failover-all").addEventListener("click", () => {
    call("POST", "/__sim/failover", {}).catch(showError);
  });

  poll();
})();
