// Progressive enhancement only; every page works without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  // After a failed submit, move focus to the error summary so screen readers hear it first.
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }
  // Copy buttons: <button data-copy="#id">
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var el = document.querySelector(btn.getAttribute("data-copy"));
      if (!el) { return; }
      var text = el.value || el.textContent;
      navigator.clipboard.writeText(text).then(function () {
        var done = btn.getAttribute("data-copied");
        if (done) { btn.textContent = done; }
      });
    });
  });
  // Filters folded into <details data-open-wide>: open on a wide screen, folded on a phone.
  if (window.matchMedia && window.matchMedia("(min-width: 48rem)").matches) {
    document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
  }
  // Confirmations: <form data-confirm="question">
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
});
