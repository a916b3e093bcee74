// Small enhancements for the album list. Everything works without this file.
(function () {
  "use strict";

  // Filter a long <select> (the ~2,000 genres) by the text typed in its search box. The
  // options are read at each use: a sync replaces them (out-of-band swap) under the box.
  function narrowOptions(input) {
    var select = document.querySelector(input.dataset.filtersOptions);
    if (!select) return;
    var term = input.value.trim().toLowerCase();
    var options = select.options;
    for (var i = 0; i < options.length; i++) {
      var option = options[i];
      option.hidden = term !== "" && !option.selected &&
        option.text.toLowerCase().indexOf(term) === -1;
    }
  }

  function setUpOptionSearch(input) {
    if (input.dataset.ready) return;
    input.dataset.ready = "1";
    if (!document.querySelector(input.dataset.filtersOptions)) return;
    input.hidden = false;
    input.addEventListener("input", function (event) {
      // The box only narrows the list: it must not submit the filter form.
      event.stopPropagation();
      narrowOptions(input);
    });
    input.addEventListener("change", function (event) { event.stopPropagation(); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault();
    });
  }

  // New options (after a sync) are narrowed by what the box already holds.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.id) return;
    document.querySelectorAll("[data-filters-options]").forEach(function (input) {
      if (input.dataset.filtersOptions === "#" + target.id) narrowOptions(input);
    });
  });

  function setUp(root) {
    root.querySelectorAll("[data-filters-options]").forEach(setUpOptionSearch);
    // Where the filters sit above the albums (phones, tablets), they start folded.
    if (window.matchMedia("(max-width: 63.99rem)").matches) {
      root.querySelectorAll("details[data-collapse-on-mobile]").forEach(function (details) {
        if (details.dataset.ready) return;
        details.dataset.ready = "1";
        details.open = false;
      });
    }
  }

  // Shareable URLs: leave the form's empty fields (q=&year=...) out of the request and the URL.
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.hasAttribute("data-drop-empty-params")) return;
    var data = event.detail.formData;
    Array.from(new Set(data.keys())).forEach(function (key) {
      var values = data.getAll(key).filter(function (value) { return value !== ""; });
      data.delete(key);
      values.forEach(function (value) { data.append(key, value); });
    });
  });

  // "Log in" and "Log out" return to the page as it is now: filters change the address through
  // htmx without reloading the header, whose links still hold the path the page was loaded at.
  function currentPath() { return window.location.pathname + window.location.search; }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-return-here]");
    if (link) link.search = "?next=" + encodeURIComponent(currentPath());
  });
  document.addEventListener("submit", function (event) {
    var next = event.target.querySelector && event.target.querySelector("input[data-return-here]");
    if (next) next.value = currentPath();
  });

  // Content htmx swaps in (the whole body after a filter chip is removed) is set up too.
  document.addEventListener("htmx:load", function (event) { setUp(event.target); });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  } else {
    setUp(document);
  }
})();
