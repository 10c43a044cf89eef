/* Oshirase embeddable notice: <script src="https://STATUS/embed.js" data-product="ID" async></script>
   Shows the product's open incidents and maintenance under way or soon.
   No cookies, no eval, no inline style: the banner lives in a shadow root
   styled by a stylesheet from the status origin. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.fetch) return;
  var origin = new URL(me.src).origin;
  var product = me.getAttribute("data-product") || "";
  if (!/^[1-9][0-9]{0,17}$/.test(product)) return;
  var frame = me.hasAttribute("data-frame");
  var wanted = [me.getAttribute("data-lang"), document.documentElement.lang].concat(navigator.languages || [navigator.language]);
  var lang = "en";
  for (var i = 0; i < wanted.length; i++) {
    var m = /^(ja|en)\b/i.exec(wanted[i] || "");
    if (m) { lang = m[1].toLowerCase(); break; }
  }
  var key = "oshirase-dismissed:" + origin;
  function dismissed() {
    try { return JSON.parse(localStorage.getItem(key) || "[]"); } catch (e) { return []; }
  }
  function remember(id) {
    var list = dismissed().filter(function (x) { return x !== id; });
    list.push(id);
    try { localStorage.setItem(key, JSON.stringify(list.slice(-50))); } catch (e) { /* private mode: for this page only */ }
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }
  fetch(origin + "/embed/products/" + product + "/" + lang + ".json", { credentials: "omit", referrerPolicy: "no-referrer" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (doc) {
      if (!doc || !doc.notices) return;
      var gone = dismissed();
      var shown = doc.notices.filter(function (n) { return gone.indexOf(n.id + ":" + n.state) < 0; });
      if (!shown.length) return;
      var target = document.getElementById(me.getAttribute("data-target") || "");
      var host = el("div");
      host.setAttribute("data-oshirase", product);
      var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
      var css = el("link");
      css.rel = "stylesheet";
      css.href = origin + doc.css;
      var region = el("div", "osh");
      region.setAttribute("role", "region");
      region.setAttribute("aria-label", doc.labels.region + " — " + doc.product.name);
      region.lang = doc.lang;
      region.hidden = true;
      css.onload = function () { region.hidden = false; };
      css.onerror = css.onload;
      shown.forEach(function (n) {
        var box = el("div", "osh-notice osh-" + n.kind + " osh-" + n.state);
        var text = el("p", "osh-text");
        text.appendChild(el("strong", "osh-label", n.label));
        text.appendChild(document.createTextNode(" "));
        text.appendChild(el("span", "osh-title", n.title));
        text.appendChild(document.createTextNode(" "));
        text.appendChild(el("span", "osh-when", n.when));
        text.appendChild(document.createTextNode(" "));
        var a = el("a", "osh-link", doc.labels.details);
        a.href = n.url;
        if (frame) { a.target = "_blank"; a.rel = "noopener"; }
        a.setAttribute("aria-label", doc.labels.details + ": " + n.title);
        text.appendChild(a);
        var close = el("button", "osh-close");
        close.type = "button";
        close.setAttribute("aria-label", doc.labels.dismiss + ": " + n.title);
        close.appendChild(el("span", "", "\u00d7")).setAttribute("aria-hidden", "true");
        close.addEventListener("click", function () {
          remember(n.id + ":" + n.state);
          var next = box.nextElementSibling || box.previousElementSibling;
          box.remove();
          if (next) next.querySelector("a").focus();
          else host.remove();
        });
        box.setAttribute("role", "status");
        box.appendChild(text);
        box.appendChild(close);
        region.appendChild(box);
      });
      root.appendChild(css);
      root.appendChild(region);
      if (target) target.appendChild(host);
      else if (document.body) document.body.insertBefore(host, document.body.firstChild);
    })
    .catch(function () { /* the status page is unreachable: nothing to show */ });
})();
