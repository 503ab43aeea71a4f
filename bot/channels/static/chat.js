// tiepdan web chat: sends what the citizen types or taps, shows the bot's messages (read from the
// server in order), and keeps a long-poll open for messages that arrive later.
"use strict";
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const status = document.getElementById("status");
  const counter = document.getElementById("counter");
  const LIMIT = 4000;
  let cursor = 0;
  let busy = false;

  function newId() {
    return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function bubble(kind, text) {
    const div = document.createElement("div");
    div.className = "msg " + kind;
    div.textContent = text;
    log.appendChild(div);
    scrollDown();
    return div;
  }

  function showBot(message) {
    if (message.id <= cursor) return;
    cursor = message.id;
    const div = bubble("bot", message.text);
    if (message.buttons && message.buttons.length) {
      const box = document.createElement("div");
      box.className = "buttons";
      for (const row of message.buttons) {
        const line = document.createElement("div");
        line.className = "row";
        for (const b of row) {
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = b.label;
          button.addEventListener("click", () => send({ button: b.value }, b.label));
          line.appendChild(button);
        }
        box.appendChild(line);
      }
      div.appendChild(box);
    }
    scrollDown();
  }

  function setStatus(text, retry) {
    status.textContent = text || "";
    status.hidden = !text;
    if (retry) {
      const again = document.createElement("button");
      again.type = "button";
      again.textContent = "Thử lại";
      again.addEventListener("click", retry);
      status.appendChild(again);
    }
  }

  function setBusy(value) {
    busy = value;
    input.disabled = value;
    sendButton.disabled = value;
  }

  async function send(body, shown) {
    if (busy) return;
    const payload = Object.assign({ id: newId(), after: cursor }, body);
    if (shown) bubble("me", shown);
    setBusy(true);
    const attempt = async () => {
      try {
        const response = await fetch("/api/chat/send", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
        });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
          setStatus(data.error || "Không gửi được. Vui lòng thử lại.", response.status >= 500 ? attempt : null);
          if (response.status >= 500) return;
        } else {
          setStatus("");
          (data.messages || []).forEach(showBot);
        }
        setBusy(false);
        input.focus();
      } catch (error) {
        // Same id on retry: the server recognises a resend and does not process it twice.
        setStatus("Mất kết nối. Tin nhắn chưa gửi được.", attempt);
      }
    };
    await attempt();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    updateCounter();
    send({ text: text }, text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function updateCounter() {
    const length = input.value.length;
    counter.hidden = length < LIMIT - 500;
    counter.textContent = length + "/" + LIMIT;
  }
  input.addEventListener("input", updateCounter);

  document.getElementById("menu").addEventListener("click", () => send({ text: "/menu" }, "Menu"));

  async function poll() {
    let delay = 1000;
    for (;;) {
      try {
        const response = await fetch("/api/chat/messages?wait=25&after=" + cursor, { credentials: "same-origin" });
        if (response.ok) {
          const data = await response.json();
          (data.messages || []).forEach(showBot);
          delay = 1000;
          continue;
        }
      } catch (error) { /* offline: try again below */ }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30000);
    }
  }

  async function start() {
    try {
      const response = await fetch("/api/chat/messages?after=0&wait=0", { credentials: "same-origin" });
      const data = await response.json();
      (data.messages || []).forEach(showBot);
      if (!data.messages || !data.messages.length) await send({ text: "/start" }, null);
    } catch (error) {
      setStatus("Không kết nối được máy chủ. Vui lòng thử lại sau.", () => location.reload());
    }
    poll();
  }

  start();
})();
