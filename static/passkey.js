// Passkeys: sign in with one, use one after the password, register one.
// Each widget ([data-passkey]) is hidden until this script finds WebAuthn
// in the browser; what it is doing and what went wrong is said in its
// status line, which screen readers announce. The server's JSON errors
// are already in the operator's language; the other messages come from
// the widget's data-msg-* attributes.
(function () {
  "use strict";

  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // For browsers without parse*OptionsFromJSON: the binary members of the
  // options arrive as base64url.
  function creationOptions(o) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(o);
    o.challenge = b64urlToBuf(o.challenge);
    o.user.id = b64urlToBuf(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return o;
  }

  function requestOptions(o) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(o);
    o.challenge = b64urlToBuf(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return o;
  }

  // credentialJSON is PublicKeyCredential.toJSON(), done by hand where the
  // browser lacks it.
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") return cred.toJSON();
    var r = cred.response, resp = { clientDataJSON: bufToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      resp.attestationObject = bufToB64url(r.attestationObject);
      if (r.getTransports) resp.transports = r.getTransports();
    } else {
      resp.authenticatorData = bufToB64url(r.authenticatorData);
      resp.signature = bufToB64url(r.signature);
      if (r.userHandle) resp.userHandle = bufToB64url(r.userHandle);
    }
    return {
      id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type, response: resp,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }

  // A refusal the server explains carries its message; anything else
  // (no answer, an answer that is not ours) gets one of the widget's.
  function Refused(message) { this.message = message; }

  function post(box, url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": box.getAttribute("data-csrf") },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Refused(data.error || box.getAttribute("data-msg-failed"));
        return data;
      });
    }, function () {
      throw new Refused(box.getAttribute("data-msg-network"));
    });
  }

  function setup(box) {
    var kind = box.getAttribute("data-passkey");
    var status = box.querySelector("[data-passkey-status]");
    var start = box.querySelector("[data-passkey-start]");
    var fallback = box.parentNode.querySelector("[data-passkey-fallback]");
    function say(text, isError) {
      status.textContent = text;
      status.classList.toggle("form-error", !!isError);
    }
    if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
      if (fallback) fallback.textContent = box.getAttribute("data-msg-unsupported");
      return;
    }
    if (fallback) fallback.hidden = true;
    box.hidden = false;

    var busy = false;
    function run() {
      if (busy) return;
      var extra = {};
      if (kind === "register") {
        var pw = box.querySelector("[name=passkey_password]");
        if (!pw.value) { pw.focus(); return; }
        extra.password = pw.value;
      }
      busy = true;
      start.disabled = true;
      box.setAttribute("aria-busy", "true");
      say(box.getAttribute(kind === "register" ? "data-msg-working-add" : "data-msg-working"));
      post(box, box.getAttribute("data-begin"), extra).then(function (begin) {
        var ask = kind === "register"
          ? navigator.credentials.create({ publicKey: creationOptions(begin.publicKey) })
          : navigator.credentials.get({ publicKey: requestOptions(begin.publicKey) });
        return ask.then(function (cred) {
          say(box.getAttribute("data-msg-checking"));
          var body = { ticket: begin.ticket, credential: credentialJSON(cred) };
          if (kind === "register") body.name = box.querySelector("[name=passkey_name]").value;
          else body.next = box.getAttribute("data-next") || "";
          return post(box, box.getAttribute("data-finish"), body);
        }, function (err) {
          // The operator closed the prompt, it timed out, or (creating)
          // this authenticator already holds one of their passkeys.
          if (err && err.name === "InvalidStateError") throw new Refused(box.getAttribute("data-msg-exists"));
          if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) throw new Refused(box.getAttribute("data-msg-cancelled"));
          throw new Refused(box.getAttribute("data-msg-failed"));
        });
      }).then(function (done) {
        say(done.message || box.getAttribute("data-msg-signed-in"));
        location.assign(done.redirect || "/admin");
      }, function (err) {
        busy = false;
        start.disabled = false;
        box.removeAttribute("aria-busy");
        say(err instanceof Refused ? err.message : box.getAttribute("data-msg-failed"), true);
        start.focus();
      });
    }
    if (box.tagName === "FORM") {
      box.addEventListener("submit", function (e) { e.preventDefault(); run(); });
    } else {
      start.addEventListener("click", run);
    }
  }

  document.querySelectorAll("[data-passkey]").forEach(setup);
})();
