// Progressive enhancement only: every page works without it.
// "/" jumps to the search box (as on many sites); a form is sent once, even on a double tap.
"use strict";
document.addEventListener("keydown", (event) => {
  const field = document.querySelector('input[type="search"]');
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
  if (event.key === "/" && field && !typing) { event.preventDefault(); field.focus(); field.select(); }
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = true; });
});
// Back to a page whose form was sent (the browser's page cache): its buttons work again.
window.addEventListener("pageshow", () => {
  document.querySelectorAll("form[data-sent]").forEach((form) => {
    delete form.dataset.sent;
    form.querySelectorAll("button[type=submit]").forEach((button) => { button.disabled = false; });
  });
});
