// Texter keyboard flow: Enter sends the first message, Ctrl/Cmd+Enter sends a reply.
// One physical press sends once: key repeats are ignored, the key must be released before the
// next send, and a guarded form cannot be submitted again while its request is in flight (the
// server is idempotent as well, so a retry after a network error is still one message).
(function () {
  "use strict";
  var armed = true, inFlight = false, programmatic = false;
  var GUARDED = "form[data-send-first], form[data-reply]";
  document.addEventListener("keyup", function (e) { if (e.key === "Enter") armed = true; });
  function submit(form) {
    if (!form || inFlight) return;
    inFlight = true; programmatic = true;
    try { if (form.requestSubmit) form.requestSubmit(); else form.submit(); } finally { programmatic = false; }
  }
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    var target = e.target;
    var inField = target && /^(TEXTAREA|INPUT|SELECT)$/.test(target.tagName);
    var first = document.querySelector("form[data-send-first]");
    var reply = target.closest && target.closest("form[data-reply]");
    var wants = (first && !inField) || (reply && (e.ctrlKey || e.metaKey));
    if (!wants) return;
    e.preventDefault();
    if (e.repeat || !armed) return; // a held key: nothing more
    armed = false;
    submit(first && !inField ? first : reply);
  });
  // Clicks and taps: the first submit goes, the next ones wait for the answer.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.matches(GUARDED) || programmatic) return;
    if (inFlight) { e.preventDefault(); e.stopPropagation(); return; }
    inFlight = true;
  }, true);
  document.addEventListener("htmx:afterRequest", function () { inFlight = false; });
  document.addEventListener("htmx:afterSwap", function () {
    var btn = document.querySelector("form[data-send-first] button");
    if (btn) btn.focus();
    var thread = document.getElementById("thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
  });
  document.addEventListener("DOMContentLoaded", function () {
    var thread = document.getElementById("thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
  });
})();
