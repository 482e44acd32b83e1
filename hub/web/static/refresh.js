/* fedhub live refresh: elements with data-refresh-url are re-fetched every
   data-refresh-seconds (default 10, minimum 1) and their content replaced by the fragment.
   - background fetches send "X-Fedhub-Refresh: 1" (they do not extend the login session);
   - a fragment answering 204 or with header "X-Refresh-Stop" ends the polling (finished run);
   - a redirect (session ended) stops polling and says so; other failures retry later;
   - data-refresh-now: fetch once at page load (slow content rendered after the page);
   - paused while the tab is hidden; dispatch "fedhub:refresh" on the element to refresh now;
   - fires "fedhub:refreshed" after each update that changed the content. */
(function () {
  "use strict";
  var MIN_SECONDS = 1;

  function start(el) {
    var url = el.getAttribute("data-refresh-url");
    var timer = null, busy = false, stopped = false, last = el.innerHTML;
    if (!url) { return; }

    function seconds() {
      var s = parseFloat(el.getAttribute("data-refresh-seconds") || "10");
      return isFinite(s) ? Math.max(s, MIN_SECONDS) : 10;
    }
    function schedule() {
      clearTimeout(timer);
      if (!stopped) { timer = setTimeout(tick, seconds() * 1000); }
    }
    function stop(message) {
      stopped = true;
      clearTimeout(timer);
      el.setAttribute("data-refresh-state", "stopped");
      if (message) {
        var p = document.createElement("p");
        p.className = "notice notice-warn";
        p.textContent = message;
        el.appendChild(p);
      }
    }
    function tick() {
      if (busy || stopped) { return; }
      if (document.hidden) { schedule(); return; }
      busy = true;
      fetch(url, {
        credentials: "same-origin", cache: "no-store",
        headers: { "X-Fedhub-Refresh": "1", "Accept": "text/html" }
      }).then(function (r) {
        if (r.redirected || r.status === 401) {
          stop("Your session has ended: reload the page to log in again.");
          return null;
        }
        if (r.status === 204) { stop(null); return null; }
        if (!r.ok) { throw new Error("refresh failed: HTTP " + r.status); }
        var final = r.headers.has("X-Refresh-Stop");
        return r.text().then(function (html) {
          el.removeAttribute("data-refresh-error");
          if (html !== last) {
            el.innerHTML = html;
            last = el.innerHTML;
            el.dispatchEvent(new CustomEvent("fedhub:refreshed", { bubbles: true }));
          }
          if (final) { stop(null); }
        });
      }).catch(function () {
        el.setAttribute("data-refresh-error", "1");
      }).then(function () {
        busy = false;
        schedule();
      });
    }

    el.addEventListener("fedhub:refresh", function () { clearTimeout(timer); tick(); });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && !stopped) { clearTimeout(timer); tick(); }
    });
    el.setAttribute("data-refresh-state", "running");
    if (el.hasAttribute("data-refresh-now")) { tick(); } else { schedule(); }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-refresh-url]"), start);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
