// Click-to-load players: the embedded player (a third-party page) is created only when the
// visitor presses the button, so loading the album page makes no request to its host.
(function () {
  "use strict";

  function load(section, button) {
    var frame = document.createElement("iframe");
    frame.src = section.dataset.embedSrc;
    frame.title = section.dataset.embedTitle;
    frame.className = "player__frame";
    frame.width = "100%";
    frame.height = "352";
    frame.allow = "autoplay; clipboard-write; encrypted-media; fullscreen; picture-in-picture";
    frame.setAttribute("loading", "lazy");
    section.querySelectorAll(".player__note").forEach(function (note) { note.remove(); });
    button.replaceWith(frame);
    // The button is gone: keep keyboard focus where it was, on the player that replaced it.
    frame.focus();
  }

  function setUp() {
    document.querySelectorAll("[data-player]").forEach(function (section) {
      var button = section.querySelector("[data-player-load]");
      if (!button || !section.dataset.embedSrc) return;
      button.hidden = false;
      section.querySelectorAll(".player__note").forEach(function (note) { note.hidden = false; });
      button.addEventListener("click", function () { load(section, button); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
