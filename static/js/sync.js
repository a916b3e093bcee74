// Sync Now panel: keep "Last synced: 5 minutes ago" current without a reload, and let htmx
// show the panel that a refused trigger or cancel (403, 409, 503) answers with.
(function () {
  "use strict";
  if (window.syncPanelScript) return; // the panel file may be included more than once
  window.syncPanelScript = true;

  function plural(count, one, many) {
    return count === 1 ? one : count + " " + many;
  }

  // Close to Django's naturaltime, which renders the first text on the server.
  function ago(seconds) {
    if (seconds < 1) return "now";
    if (seconds < 60) return plural(Math.floor(seconds), "a second", "seconds") + " ago";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return plural(minutes, "a minute", "minutes") + " ago";
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return plural(hours, "an hour", "hours") + " ago";
    var days = Math.floor(hours / 24);
    var rest = hours % 24;
    var text = days + (days === 1 ? " day" : " days");
    if (rest) text += ", " + rest + (rest === 1 ? " hour" : " hours");
    return text + " ago";
  }

  function refreshLastSynced() {
    var elements = document.querySelectorAll("[data-synced-at]");
    for (var i = 0; i < elements.length; i++) {
      var time = elements[i].querySelector("time");
      var then = Date.parse(elements[i].getAttribute("data-synced-at"));
      if (time && !isNaN(then)) time.textContent = ago(Math.max(0, (Date.now() - then) / 1000));
    }
  }
  setInterval(refreshLastSynced, 60 * 1000);

  // The idle check of an idle panel (data-idle-check-seconds): every so many seconds while the
  // tab is visible, and at once when it becomes visible again, the panel asks whether a sync
  // started elsewhere. Not an htmx trigger filter ("[!document.hidden]"): htmx evaluates those
  // as script, which the site's Content-Security-Policy forbids.
  var lastIdleCheck = Date.now();
  function idleCheck(force) {
    var panel = document.querySelector("#sync-panel[data-idle-check-seconds]");
    if (!panel || document.hidden || !window.htmx) return;
    var every = 1000 * Number(panel.getAttribute("data-idle-check-seconds"));
    if (force || Date.now() - lastIdleCheck >= every) {
      lastIdleCheck = Date.now();
      window.htmx.trigger(panel, "sync-idle-check");
    }
  }
  setInterval(function () { idleCheck(false); }, 1000);
  document.addEventListener("visibilitychange", function () { idleCheck(true); });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var refused = [403, 409, 503].indexOf(detail.xhr.status) !== -1;
    if (refused && detail.target && detail.target.id === "sync-panel") {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });
})();
