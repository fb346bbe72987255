// SMS length counter: GSM-7 vs UCS-2 and segments. Same rules as mobiliza/providers/sms.py.
(function () {
  "use strict";
  var BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXTENDED = "^{}\\[~]|€\f";
  function smsLength(text) {
    var gsm = true, units = 0, i, ch;
    var chars = Array.from(text);
    for (i = 0; i < chars.length; i++) {
      ch = chars[i];
      if (EXTENDED.indexOf(ch) >= 0) { units += 2; }
      else if (BASIC.indexOf(ch) >= 0) { units += 1; }
      else { gsm = false; break; }
    }
    var single = 160, multi = 153, encoding = "GSM-7";
    if (!gsm) { units = text.length; single = 70; multi = 67; encoding = "UCS-2"; } // UTF-16 units
    var segments = units === 0 ? 0 : (units <= single ? 1 : Math.ceil(units / multi));
    var per = segments > 1 ? multi : single;
    return { encoding: encoding, units: units, segments: segments, remaining: segments > 1 ? segments * multi - units : single - units, per: per };
  }
  window.mobilizaSmsLength = smsLength;
  function update(field) {
    var out = document.querySelector('[data-sms-count-for="' + field.id + '"]');
    if (!out) return;
    var r = smsLength(field.value);
    out.textContent = r.units + " · " + r.encoding + " · " + r.segments + " SMS · " + r.remaining + " ↵";
    out.classList.toggle("warn", r.segments > 1);
  }
  document.addEventListener("input", function (e) {
    if (e.target && e.target.hasAttribute && e.target.hasAttribute("data-sms-counter")) update(e.target);
  });
  function init() { document.querySelectorAll("[data-sms-counter]").forEach(update); }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", init);
})();
