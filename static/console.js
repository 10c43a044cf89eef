// Console enhancements. Every page works without this script; with it, the
// "who will be emailed" line follows the form as the operator edits it.
(function () {
  "use strict";
  document.querySelectorAll("form[data-audience]").forEach(function (form) {
    var out = form.querySelector("[data-audience-text]");
    if (!out) return;
    var pending = 0;
    function refresh() {
      var url = new URL(form.getAttribute("data-audience"), location.href);
      var impact = form.querySelector("select[name=impact]");
      if (impact) url.searchParams.set("impact", impact.value);
      var status = form.querySelector("select[name=status]");
      if (status && url.searchParams.has("maintenance_id")) url.searchParams.set("status", status.value);
      form.querySelectorAll("select[name^=component_]").forEach(function (sel) {
        if (sel.value) url.searchParams.append("component", sel.name.slice("component_".length));
      });
      form.querySelectorAll("input[name=components]:checked").forEach(function (box) {
        url.searchParams.append("component", box.value);
      });
      var ticket = ++pending;
      // The sentence comes back in the page's language, whatever the
      // browser would send by itself.
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json", "Accept-Language": document.documentElement.lang || "ja" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data && ticket === pending) out.textContent = data.text; })
        .catch(function () {});
    }
    form.addEventListener("change", function (e) {
      var n = e.target.name || "";
      if (n === "impact" || n === "status" || n === "components" || n.indexOf("component_") === 0) refresh();
    });
  });

  // Destructive actions ask first. Without script the server shows its own
  // confirmation page; with it, a dialog asks and the form says it did.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        e.preventDefault();
        return;
      }
      if (!form.querySelector("input[name=confirm]")) {
        var ok = document.createElement("input");
        ok.type = "hidden";
        ok.name = "confirm";
        ok.value = "1";
        form.appendChild(ok);
      }
    });
  });

  // Writing up a past incident: once the start lies more than an hour
  // back, the email box is unticked (the operator may tick it again).
  var started = document.querySelector("input[name=started_at]");
  var notify = document.querySelector("input[name=notify]");
  if (started && notify) {
    started.addEventListener("change", function () {
      var t = Date.parse(started.value);
      if (!isNaN(t) && Date.now() - t > 3600 * 1000) notify.checked = false;
    });
  }

  // Choosing a template fills the form at once.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (sel) {
    sel.addEventListener("change", function () { if (sel.value) sel.form.submit(); });
  });
})();
