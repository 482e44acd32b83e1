/* fedhub dialogs. Buttons open and close <dialog>s with the platform's invoker commands
   (commandfor / command="show-modal" | "close"); this file only
   - adds the same behaviour where the browser lacks invoker commands, and
   - turns a dialog re-rendered open after a failed submit (data-reopen) into a modal one
     with focus on its first field needing attention. */
(function () {
  "use strict";

  function init() {
    var native = "commandForElement" in HTMLButtonElement.prototype;
    if (!native) {
      Array.prototype.forEach.call(document.querySelectorAll("button[commandfor]"), function (b) {
        b.addEventListener("click", function () {
          var d = document.getElementById(b.getAttribute("commandfor"));
          var cmd = b.getAttribute("command");
          if (!d || typeof d.showModal !== "function") { return; }
          if (cmd === "show-modal" && !d.open) { d.showModal(); }
          if (cmd === "close" && d.open) { d.close(); }
        });
      });
    }
    Array.prototype.forEach.call(document.querySelectorAll("dialog[data-reopen]"), function (d) {
      if (typeof d.showModal !== "function") { return; }
      if (d.open) { d.close(); }
      d.showModal();
      var first = d.querySelector("[aria-invalid='true'], input:not([type='hidden'])");
      if (first) { first.focus(); }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
