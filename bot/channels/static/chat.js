// tiepdan web chat: sends what the citizen types or taps, shows the bot's messages (read from the
// server in order, so a reload shows the conversation so far) and keeps a long-poll open for
// messages that arrive later, such as an officer's answer.
"use strict";
(function () {
  const TEXT = {
    retry: "Thử lại",
    failed: "Không gửi được. Vui lòng thử lại.",
    offline: "Mất kết nối. Tin nhắn chưa được gửi.",
    noServer: "Không kết nối được máy chủ. Vui lòng thử lại sau.",
    menu: "Menu",
    photo: "📷 Ảnh",
    location: "📍 Vị trí của tôi",
    noLocation: "Không lấy được vị trí. Hãy bật định vị hoặc gõ địa chỉ.",
  };
  const LIMIT = 4000;
  const COUNTER_FROM = LIMIT - 400;
  const POLL_SECONDS = 25;

  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const status = document.getElementById("status");
  const counter = document.getElementById("counter");

  let cursor = 0;      // id of the last bot message shown
  let busy = false;
  let unsent = null;   // {key, id} of a send that failed: a retry reuses the id so the server sees a resend

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  function nearEnd() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }

  function bubble(kind, text) {
    const div = document.createElement("div");
    div.className = "msg " + kind;
    div.textContent = text;
    log.appendChild(div);
    return div;
  }

  function buttonRows(rows) {
    const box = document.createElement("div");
    box.className = "buttons";
    for (const row of rows) {
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
    return box;
  }

  function botMessage(message) {
    const div = bubble("bot", message.text || "");
    for (const src of message.photos || []) {
      if (!/^(https?:\/\/|\/)/.test(src)) continue;  // a platform file id, not something a browser can load
      const img = document.createElement("img");
      img.src = src;
      img.alt = "";
      img.loading = "lazy";
      div.insertBefore(img, div.firstChild);
    }
    if (message.buttons && message.buttons.length) div.appendChild(buttonRows(message.buttons));
    return div;
  }

  function reveal(div) { log.scrollTop = Math.min(log.scrollHeight - log.clientHeight, div.offsetTop - 8); }

  // Shows the bot messages not seen yet. Follows them when asked to or when the reader was at the end,
  // but never scrolls past the anchor (by default the first new message): a long schedule is read
  // from its first line. anchor: an element, "last", true (the first new message) or false.
  function render(messages, anchor) {
    const fresh = messages.filter((m) => m.id > cursor);
    if (!fresh.length) return;
    const follow = Boolean(anchor) || nearEnd();
    const shown = fresh.map(botMessage);
    cursor = fresh[fresh.length - 1].id;
    if (!follow) return;
    reveal(anchor instanceof Element ? anchor : anchor === "last" ? shown[shown.length - 1] : shown[0]);
  }

  function setStatus(text, retry) {
    status.textContent = text || "";
    status.hidden = !text;
    if (text && retry) {
      const again = document.createElement("button");
      again.type = "button";
      again.textContent = TEXT.retry;
      again.addEventListener("click", retry);
      status.appendChild(again);
    }
  }

  function setBusy(value) {
    busy = value;
    input.disabled = value;
    sendButton.disabled = value;
  }

  function updateComposer() {
    const length = input.value.length;
    counter.hidden = length < COUNTER_FROM;
    counter.textContent = length + "/" + LIMIT;
    counter.classList.toggle("full", length >= LIMIT);
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 160) + "px";
  }

  // typed: the text as it was in the box, put back there if it could not be sent.
  async function send(body, shown, typed) {
    if (busy) return;
    const key = JSON.stringify(body);
    const id = unsent && unsent.key === key ? unsent.id : newId();
    setBusy(true);
    setStatus("");
    const mine = shown ? bubble("me pending", shown) : null;
    scrollToEnd();
    let error = null;
    let retryable = false;
    try {
      const response = await fetch("/api/chat/send", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ id: id, after: cursor }, body)),
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok) {
        unsent = null;
        if (mine) mine.classList.remove("pending");
        render(data.messages || [], mine || true);
        // The long-poll may have shown the answer first: still show the question above its answer.
        if (mine) reveal(mine);
        if (data.notice) setStatus(data.notice, null);  // e.g. a staff member has logged out
      } else {
        error = data.error || TEXT.failed;
        retryable = response.status >= 500 || response.status === 429;
      }
    } catch (networkError) {
      error = TEXT.offline;
      retryable = true;
    }
    setBusy(false);
    if (error) {
      if (mine) mine.remove();
      unsent = retryable ? { key: key, id: id } : null;
      if (typed !== undefined) {
        if (!input.value) input.value = typed;
        updateComposer();
      }
      const retry = typed !== undefined ? () => form.requestSubmit() : () => send(body, shown);
      setStatus(error, retryable ? retry : null);
    }
    if (typed !== undefined) input.focus();  // not after a tap: a phone would pop up its keyboard
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || busy) return;
    input.value = "";
    updateComposer();
    send({ text: text }, text, text);
  });

  input.addEventListener("keydown", (event) => {
    // Vietnamese is typed through an input method: Enter that ends a composition is not a send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", updateComposer);

  document.getElementById("menu").addEventListener("click", () => send({ text: "/menu" }, TEXT.menu));

  // A photo goes up as multipart; the server checks its type and size and answers like /send.
  const photoInput = document.getElementById("photo");
  photoInput.addEventListener("change", async () => {
    const file = photoInput.files && photoInput.files[0];
    photoInput.value = "";
    if (!file || busy) return;
    setBusy(true);
    setStatus("");
    const mine = bubble("me pending", TEXT.photo);
    const preview = document.createElement("img");
    preview.src = URL.createObjectURL(file);
    preview.alt = "";
    mine.insertBefore(preview, mine.firstChild);
    scrollToEnd();
    const upload = new FormData();
    upload.append("id", newId());
    upload.append("after", String(cursor));
    upload.append("photo", file);
    try {
      const response = await fetch("/api/chat/photo", { method: "POST", credentials: "same-origin", body: upload });
      const data = await response.json().catch(() => ({}));
      if (response.ok) {
        mine.classList.remove("pending");
        render(data.messages || [], mine);
        reveal(mine);
      } else {
        mine.remove();
        setStatus(data.error || TEXT.failed, null);
      }
    } catch (networkError) {
      mine.remove();
      setStatus(TEXT.offline, null);
    }
    setBusy(false);
  });

  document.getElementById("where").addEventListener("click", () => {
    if (!navigator.geolocation) { setStatus(TEXT.noLocation, null); return; }
    navigator.geolocation.getCurrentPosition(
      (position) => send({ location: { latitude: position.coords.latitude, longitude: position.coords.longitude } },
                         TEXT.location),
      () => setStatus(TEXT.noLocation, null),
      { enableHighAccuracy: true, timeout: 15000 });
  });

  async function fetchMessages(wait) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), (wait + 15) * 1000);  // a dropped mobile connection
    try {
      const response = await fetch("/api/chat/messages?after=" + cursor + "&wait=" + wait,
                                   { credentials: "same-origin", signal: abort.signal });
      if (response.status === 401) {  // a staff chat whose session ended: say why, keep polling slowly
        const data = await response.json().catch(() => ({}));
        if (data.error) setStatus(data.error, null);
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      return (await response.json()).messages || [];
    } finally {
      clearTimeout(timer);
    }
  }

  async function poll() {
    let delay = 1000;
    for (;;) {
      const started = Date.now();
      let messages = null;
      try {
        messages = await fetchMessages(POLL_SECONDS);
        render(messages, false);
      } catch (error) { /* offline or server restarting: back off below */ }
      // A real long-poll or news: ask again now. An error or an instant empty answer: wait first.
      if (messages && (messages.length || Date.now() - started > 5000)) {
        delay = 1000;
        continue;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 30000);
    }
  }

  async function start() {
    updateComposer();
    try {
      const history = await fetchMessages(0);
      if (history.length) render(history, "last");
      else await send({ text: "/start" }, null);
    } catch (error) {
      setStatus(TEXT.noServer, () => location.reload());
    }
    poll();
  }

  start();
})();
