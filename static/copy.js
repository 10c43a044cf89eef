// Copy buttons: a button[data-copy] copies the text of the element whose id
// it names (an input's value, else its text) and says so in the
// .copy-status beside it. Without this script the buttons stay hidden and
// the text is there to select by hand.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    var status = button.parentNode.querySelector(".copy-status");
    function text() {
      return target.tagName === "INPUT" || target.tagName === "TEXTAREA" ? target.value : target.textContent.trim();
    }
    function select() {
      if (typeof target.select === "function") {
        target.select();
        return;
      }
      var range = document.createRange();
      range.selectNodeContents(target);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
    function say(ok) {
      if (status) status.textContent = button.getAttribute(ok ? "data-copied" : "data-failed") || "";
    }
    function fallback() {
      select();
      try {
        return document.execCommand("copy");
      } catch (e) {
        return false;
      }
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      // Selected either way, so a failed copy leaves the text ready for
      // Ctrl+C.
      select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text()).then(function () { say(true); }, function () { say(fallback()); });
      } else {
        say(fallback());
      }
    });
  });
})();
