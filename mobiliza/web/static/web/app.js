// Mobiliza: small shared behaviours. Pages work without JavaScript; this only adds comfort.
(function () {
  "use strict";
  // <form data-confirm="Question?"> asks before submitting (the text stays HTML, never JavaScript).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // A form marked data-once submits once: a double click or a held Enter key sends one request.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) return;
    if (form.dataset.submitting === "1") { event.preventDefault(); return; }
    form.dataset.submitting = "1";
    setTimeout(function () { form.dataset.submitting = ""; }, 4000);
  }, true);
  // Copy buttons: <button data-copy="#id">
  document.addEventListener("click", function (event) {
    var btn = event.target.closest && event.target.closest("[data-copy]");
    if (!btn) return;
    var el = document.querySelector(btn.getAttribute("data-copy"));
    if (!el) return;
    var text = el.value || el.textContent;
    if (navigator.clipboard) navigator.clipboard.writeText(text.trim());
    btn.classList.add("copied");
    setTimeout(function () { btn.classList.remove("copied"); }, 1500);
  });
})();
