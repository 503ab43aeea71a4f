// tiepdan web chat: both sides of the conversation read from the server (the newest first, older ones
// as the reader scrolls up), what the citizen types or taps sent, and a long-poll kept open for
// messages that arrive later, such as an officer's answer. Nothing received is ever put in as HTML:
// text goes in as text nodes, and only http(s) addresses and this site's own /media/ photos become
// links or images.
"use strict";
(function () {
  const TEXTS = JSON.parse(document.getElementById("page-texts").textContent);
  let lang = TEXTS[document.documentElement.lang] ? document.documentElement.lang : "vi";
  const T = (key) => (TEXTS[lang] && TEXTS[lang][key]) || TEXTS.vi[key] || key;

  const LIMIT = 4000;
  const COUNTER_FROM = LIMIT - 400;
  const POLL_SECONDS = 25;
  const PAGE = 40;
  const DRAFT = "tiepdan.draft";
  // An address in a message: http(s) up to the next space, or a photo of this site.
  const LINK = /(https?:\/\/[^\s<>"]+|\/media\/[A-Za-z0-9_-]{8,64}(?:\?[A-Za-z0-9=&_-]*)?)/g;
  const PHOTO = /^\/media\/[A-Za-z0-9_-]{8,64}(\?[A-Za-z0-9=&_-]*)?$/;
  // An emoji (a flag, a pictograph with its variation and joined parts) and the space after it.
  const EMOJI = /(?:\p{Regional_Indicator}{2}|\p{Extended_Pictographic}\uFE0F?(?:\u200D\p{Extended_Pictographic}\uFE0F?)*)[ ]?/gu;

  const log = document.getElementById("log");
  const older = document.getElementById("older");
  const fresh = document.getElementById("fresh");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");
  const sendButton = document.getElementById("send");
  const menuButton = document.getElementById("menu");
  const attachButton = document.getElementById("attach");
  const status = document.getElementById("status");
  const counter = document.getElementById("counter");

  let cursor = 0;        // id of the newest message shown
  let oldest = null;     // id of the oldest message shown; null before the first page
  let moreOlder = false; // the server has older messages than ``oldest``
  let loadingOlder = false;
  let busy = false;
  let unsent = null;     // {key, id} of a send that failed: a retry reuses the id so the server sees a resend
  const pending = new Map();  // the page's message id → its bubble, until the server's copy of it arrives

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---- language: the page's own texts follow the language the person chose in the chat ----
  function setLanguage(value) {
    if (!value || !TEXTS[value] || value === lang) return;
    lang = value;
    document.documentElement.lang = value;
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = T(el.dataset.t);
    for (const el of document.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", T(el.dataset.tLabel));
    for (const el of document.querySelectorAll("[data-t-title]")) el.title = T(el.dataset.tTitle);
    for (const el of document.querySelectorAll("[data-t-placeholder]")) el.placeholder = T(el.dataset.tPlaceholder);
    document.title = T("title");
    updateComposer();
  }

  // Emoji drawn as empty boxes (an old phone, a system without an emoji font): show words instead.
  function emojiMissing() {
    try {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 24;
      const context = canvas.getContext("2d");
      context.font = "20px sans-serif";
      context.fillText("📷", 0, 20);
      const data = context.getImageData(0, 0, 24, 24).data;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] && (data[i] !== data[i + 1] || data[i + 1] !== data[i + 2])) return false;  // colour: drawn
      }
      return true;
    } catch (error) {
      return false;
    }
  }
  if (emojiMissing()) document.documentElement.classList.add("no-emoji");

  // ---- scrolling: open at the newest, follow new messages unless the reader has scrolled up ----
  // Our own moves of the view are told apart from the reader's by where they left it: a scroll event
  // that finds the view elsewhere was the reader (finger, wheel, keys, scrollbar).
  let ownTop = null;       // where our last move left the view
  let readerUp = false;    // the reader has scrolled away from the newest on purpose
  let atEnd = true;        // the view showed the newest at the last look: kept there when the log resizes

  function nearEnd() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }

  function moveTo(top) {
    log.scrollTop = top;
    ownTop = log.scrollTop;
    atEnd = nearEnd();
  }

  function scrollToEnd() { moveTo(log.scrollHeight); readerUp = false; fresh.hidden = true; }

  function reveal(div) {
    moveTo(Math.min(log.scrollHeight - log.clientHeight, div.offsetTop - older.offsetTop - 8));
    if (atEnd) { readerUp = false; fresh.hidden = true; }
  }

  // Zoom, a turned phone or the on-screen keyboard resize the log (and the browser may shift the view
  // to keep some line in place): that is no scrolling by the reader, and one at the newest stays there.
  let size = "";
  function resized() {
    const now = log.clientWidth + "x" + log.clientHeight;
    if (now === size) return false;
    size = now;
    if (atEnd) moveTo(log.scrollHeight);
    return true;
  }
  resized();
  if (window.ResizeObserver) new ResizeObserver(resized).observe(log);

  log.addEventListener("scroll", () => {
    if (resized()) return;
    atEnd = nearEnd();
    if (ownTop === null || Math.abs(log.scrollTop - ownTop) > 2) {
      ownTop = null;
      readerUp = !atEnd;
    }
    if (atEnd) { readerUp = false; fresh.hidden = true; }
    if (log.scrollTop < 200) loadOlder();
  });
  fresh.addEventListener("click", () => { scrollToEnd(); input.focus({ preventScroll: true }); });

  // ---- rendering ----
  // Text with its emoji marked: hidden from screen readers (the words say it) and, where the phone
  // cannot draw them, from sight (.no-emoji), rather than shown as empty boxes.
  function withEmoji(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(EMOJI)) {
      const span = document.createElement("span");
      span.className = "emoji";
      span.setAttribute("aria-hidden", "true");
      span.textContent = match[0];
      fragment.append(document.createTextNode(text.slice(last, match.index)), span);
      last = match.index + match[0].length;
    }
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  // Text with its addresses made links (http/https only) and this site's photos shown as images;
  // a photo the message shows already (``shown``: an officer's item view lists its photos) is a link.
  function richText(text, shown) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(LINK)) {
      let address = match[0];
      const trailing = /[.,;:!?)\]}'»”]+$/.exec(address);  // sentence punctuation is not part of it
      if (trailing && !PHOTO.test(address)) address = address.slice(0, -trailing[0].length);
      const node = !PHOTO.test(address) ? webLink(address)
        : shown && shown.has(address) ? textLink(address, T("open_photo")) : photoLink(address, T("photo_alt"));
      if (!node) continue;
      fragment.append(withEmoji(text.slice(last, match.index)), node);
      last = match.index + address.length;
    }
    fragment.append(withEmoji(text.slice(last)));
    return fragment;
  }

  function textLink(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  }

  function webLink(address) {
    let url;
    try { url = new URL(address); } catch (error) { return null; }
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    return textLink(url.href, address);
  }

  function photoLink(src, alt) {
    const a = document.createElement("a");
    a.href = src;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.className = "photo";
    a.title = T("open_photo");
    const img = document.createElement("img");
    img.src = src;
    img.alt = alt;
    img.loading = "lazy";
    a.appendChild(img);
    return a;
  }

  function safePhoto(src) { return typeof src === "string" && (PHOTO.test(src) || /^https?:\/\//.test(src)); }

  function bubble(kind, text, shown) {
    const div = document.createElement("div");
    div.className = "msg " + kind;
    if (text) div.appendChild(richText(text, shown));
    return div;
  }

  function buttonRows(message, rows) {
    const box = document.createElement("div");
    box.className = "buttons";
    for (const row of rows) {
      const line = document.createElement("div");
      line.className = "row";
      for (const b of row) {
        const button = document.createElement("button");
        button.type = "button";
        button.appendChild(withEmoji(b.label));
        button.dataset.value = b.value;
        button.addEventListener("click", () => press(message, box, b));
        line.appendChild(button);
      }
      box.appendChild(line);
    }
    return box;
  }

  // Buttons of a message that is answered or superseded: greyed, out of the tab order, not pressable.
  function retire(box) {
    if (box.classList.contains("inert")) return;
    box.classList.add("inert");
    for (const button of box.querySelectorAll("button")) {
      button.disabled = true;
      button.setAttribute("aria-disabled", "true");
    }
  }

  function retireBefore(id) {
    for (const box of log.querySelectorAll(".msg.bot .buttons:not(.inert)")) {
      if (Number(box.parentElement.dataset.id) < id) retire(box);
    }
  }

  function labelOf(value, beforeId) {
    const messages = [...log.querySelectorAll(".msg.bot[data-id]")].reverse();
    for (const div of messages) {
      if (Number(div.dataset.id) >= beforeId) continue;
      for (const button of div.querySelectorAll(".buttons button")) {
        if (button.dataset.value === value) return button.textContent;
      }
    }
    return value;
  }

  function botMessage(message) {
    const photos = (message.photos || []).filter(safePhoto);
    const div = bubble("bot", message.text || "", new Set(photos));
    div.dataset.id = message.id;
    for (const src of photos.slice().reverse()) {  // not a platform's file id: nothing a browser can load
      div.insertBefore(photoLink(src, T("photo_alt")), div.firstChild);
    }
    if (message.buttons && message.buttons.length) {
      const box = buttonRows(message, message.buttons);
      div.appendChild(box);
      if (message.live === false) retire(box);
    }
    return div;
  }

  function myText(message) {
    if (message.text === "/menu") return T("menu");  // what the header's Menu button shows as sent
    if (message.text) return message.text;
    if (message.button !== undefined) return labelOf(message.button, message.id);
    return "";
  }

  function myMessage(message) {
    const adopted = message.ref !== undefined ? pending.get(message.ref) : undefined;
    if (adopted) {  // the bubble this page showed while sending: now the server's copy
      pending.delete(message.ref);
      adopted.dataset.id = message.id;
      adopted.classList.remove("pending");
      return adopted;
    }
    const div = bubble("me", message.photos && message.photos.length ? "" : myText(message));
    div.dataset.id = message.id;
    for (const src of message.photos || []) {
      if (safePhoto(src)) div.appendChild(photoLink(src, T("my_photo_alt")));
    }
    return div;
  }

  function element(message) {
    return message.from === "me" ? myMessage(message) : botMessage(message);
  }

  // The server has the line a bubble showed while sending: it takes the line's place in the order.
  function settle(id, mine, said) {
    mine.classList.remove("pending");
    if (!said || !pending.has(id)) return;  // the long-poll brought the server's copy first
    pending.delete(id);
    mine.dataset.id = said;
    retireBefore(said);
    cursor = Math.max(cursor, said);
  }

  function shownIds() { return new Set([...log.querySelectorAll(".msg[data-id]")].map((d) => Number(d.dataset.id))); }

  // Messages newer than those shown, at the end. anchor: an element to keep in view, "last" (the
  // newest's first line), true (the first new message) or false (follow only if at the end already).
  function render(messages, anchor) {
    const known = shownIds();
    const added = [];
    for (const message of messages) {
      if (known.has(message.id)) continue;
      const div = element(message);
      log.appendChild(div);  // an adopted bubble moves to its place in the order, if it had one
      if (message.from === "me") retireBefore(message.id);
      known.add(message.id);
      added.push(div);
      cursor = Math.max(cursor, message.id);
      if (oldest === null) oldest = message.id;
    }
    if (!added.length) return;
    const follow = Boolean(anchor) || nearEnd() || !readerUp;
    if (!follow) {
      fresh.hidden = false;
      return;
    }
    const target = anchor instanceof Element ? anchor : anchor === "last" ? added[added.length - 1] : added[0];
    reveal(target);
  }

  // Older messages go above those shown, without moving what the reader is looking at.
  async function loadOlder() {
    if (!moreOlder || loadingOlder || oldest === null) return;
    loadingOlder = true;
    older.hidden = false;
    older.textContent = T("loading_older");
    try {
      const data = await getJSON("/api/chat/history?limit=" + PAGE + "&before=" + oldest);
      const known = shownIds();
      const before = log.scrollHeight;
      let at = older.nextSibling;
      for (const message of data.messages || []) {
        if (known.has(message.id)) continue;
        log.insertBefore(element(message), at);
      }
      if (data.messages && data.messages.length) oldest = data.messages[0].id;
      moreOlder = Boolean(data.more);
      moveTo(log.scrollTop + log.scrollHeight - before);
    } catch (error) { /* tried again at the next scroll */ }
    older.textContent = moreOlder ? "" : T("beginning");
    older.hidden = moreOlder;
    loadingOlder = false;
  }

  // ---- status line and composer ----
  function setStatus(text, retry) {
    status.textContent = text || "";
    status.hidden = !text;
    if (text && retry) {
      const again = document.createElement("button");
      again.type = "button";
      again.textContent = T("retry");
      again.addEventListener("click", retry);
      status.appendChild(again);
    }
  }

  // While a message is on its way nothing else can be sent: the composer's controls are disabled and the
  // live menu's buttons look it (a tap then is not taken, and the answer brings a newer menu anyway).
  function setBusy(value) {
    busy = value;
    input.disabled = value;
    sendButton.disabled = value;
    menuButton.disabled = value;
    attachButton.disabled = value;
    log.setAttribute("aria-busy", value ? "true" : "false");
  }

  function updateComposer() {
    const length = input.value.length;
    counter.hidden = length < COUNTER_FROM;
    counter.textContent = T("counter").replace("{length}", length).replace("{limit}", LIMIT);
    counter.classList.toggle("full", length >= LIMIT);
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 160) + "px";
  }

  // The text being written survives a reload (and a closed tab) until it is sent.
  function saveDraft() {
    try {
      if (input.value) localStorage.setItem(DRAFT, input.value);
      else localStorage.removeItem(DRAFT);
    } catch (error) { /* storage disabled: nothing to keep */ }
  }

  function restoreDraft() {
    let draft = null;
    try { draft = localStorage.getItem(DRAFT); } catch (error) { return; }
    if (draft && !input.value) {
      input.value = draft;
      updateComposer();
    }
  }

  // ---- sending ----
  async function getJSON(url, signal) {
    const response = await fetch(url, { credentials: "same-origin", signal: signal });
    const data = await response.json().catch(() => ({}));
    if (response.status === 401 && data.error) setStatus(data.error, null);  // a staff chat whose session ended
    if (!response.ok) throw new Error("HTTP " + response.status);
    if (data.lang) setLanguage(data.lang);
    return data;
  }

  // typed: the text as it was in the box, put back there if it could not be sent. Returns whether it went.
  async function send(body, shown, typed) {
    if (busy) return false;
    const key = JSON.stringify(body);
    const id = unsent && unsent.key === key ? unsent.id : newId();
    setBusy(true);
    setStatus("");
    const mine = shown ? bubble("me pending", shown) : null;
    if (mine) {
      pending.set(id, mine);
      log.appendChild(mine);
      scrollToEnd();
    }
    let error = null;
    let retryable = false;
    let stale = false;
    try {
      const response = await fetch("/api/chat/send", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ id: id, after: cursor }, body)),
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok) {
        unsent = null;
        if (data.lang) setLanguage(data.lang);
        if (mine) settle(id, mine, data.said);
        render(data.messages || [], mine || true);
        // The long-poll may have shown the answer first: still show the question above its answer.
        if (mine) reveal(mine);
        if (typed !== undefined) { try { localStorage.removeItem(DRAFT); } catch (e) { /* nothing kept */ } }
        if (data.notice) setStatus(data.notice, null);  // e.g. a staff member has logged out
      } else {
        error = data.error || T("failed");
        retryable = response.status >= 500 || response.status === 429;
        stale = response.status === 409;
      }
    } catch (networkError) {
      error = T("offline");
      retryable = true;
    }
    setBusy(false);
    if (error) {
      pending.delete(id);
      if (mine) mine.remove();
      unsent = retryable ? { key: key, id: id } : null;
      if (typed !== undefined) {
        if (!input.value) input.value = typed;
        updateComposer();
        saveDraft();
      }
      const retry = typed !== undefined ? () => form.requestSubmit() : () => send(body, shown);
      setStatus(error, retryable ? retry : null);
    }
    if (typed !== undefined) input.focus();  // not after a tap: a phone would pop up its keyboard
    return !error || stale;
  }

  // A tap names its message, so the server can refuse a button of a menu that has moved on.
  async function press(message, box, b) {
    if (busy || box.classList.contains("inert")) return;
    retire(box);
    const went = await send({ button: b.value, message: message.id }, b.label);
    if (!went) {  // not sent (offline, a server error): the buttons can be tapped again
      box.classList.remove("inert");
      for (const button of box.querySelectorAll("button")) {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
      }
    }
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
  input.addEventListener("input", () => { updateComposer(); saveDraft(); });

  menuButton.addEventListener("click", () => send({ text: "/menu" }, T("menu")));

  // A photo goes up as multipart; the server checks its type and size and answers like /send.
  const photoInput = document.getElementById("photo");
  attachButton.addEventListener("click", () => photoInput.click());
  photoInput.addEventListener("change", async () => {
    const file = photoInput.files && photoInput.files[0];
    photoInput.value = "";
    if (!file || busy) return;
    setBusy(true);
    setStatus("");
    const id = newId();
    const mine = bubble("me pending", "");
    const preview = document.createElement("img");
    preview.src = URL.createObjectURL(file);
    preview.alt = T("my_photo_alt");
    mine.appendChild(preview);
    pending.set(id, mine);
    log.appendChild(mine);
    scrollToEnd();
    const upload = new FormData();
    upload.append("id", id);
    upload.append("after", String(cursor));
    upload.append("photo", file);
    try {
      const response = await fetch("/api/chat/photo", { method: "POST", credentials: "same-origin", body: upload });
      const data = await response.json().catch(() => ({}));
      if (response.ok) {
        settle(id, mine, data.said);
        render(data.messages || [], mine);
        reveal(mine);
      } else {
        pending.delete(id);
        mine.remove();
        setStatus(data.error || T("failed"), null);
      }
    } catch (networkError) {
      pending.delete(id);
      mine.remove();
      setStatus(T("offline"), null);
    }
    setBusy(false);
  });

  document.getElementById("where").addEventListener("click", () => {
    if (!navigator.geolocation) { setStatus(T("no_location"), null); return; }
    navigator.geolocation.getCurrentPosition(
      (position) => send({ location: { latitude: position.coords.latitude, longitude: position.coords.longitude } },
                         T("my_location")),
      () => setStatus(T("no_location"), null),
      { enableHighAccuracy: true, timeout: 15000 });
  });

  // ---- receiving ----
  async function fetchMessages(wait) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), (wait + 15) * 1000);  // a dropped mobile connection
    try {
      return (await getJSON("/api/chat/messages?after=" + cursor + "&wait=" + wait, abort.signal)).messages || [];
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

  // A public page's "chat about this" link: /?start=c70-p12 (bot/domain/deeplinks.py). Taken once: the
  // address loses it, so a reload does not open the same thing again.
  function linkedStart() {
    const params = new URLSearchParams(location.search);
    const code = params.get("start");
    if (code === null) return null;
    params.delete("start");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
    return /^[A-Za-z0-9_-]{1,64}$/.test(code) ? code : null;
  }

  async function start() {
    restoreDraft();
    updateComposer();
    const link = linkedStart();
    try {
      const data = await getJSON("/api/chat/history?limit=" + PAGE);
      const history = data.messages || [];
      moreOlder = Boolean(data.more);
      if (history.length) {
        render(history, "last");
        if (!moreOlder) { older.hidden = false; older.textContent = T("beginning"); }
        if (log.scrollHeight <= log.clientHeight) loadOlder();  // a short page: fill the screen
        if (link) await send({ text: "/start " + link }, null);
      } else {
        cursor = data.cursor || 0;
        await send({ text: link ? "/start " + link : "/start" }, null);
      }
    } catch (error) {
      setStatus(T("no_server"), () => location.reload());
    }
    poll();
  }

  start();
})();
