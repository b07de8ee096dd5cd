/* sunbid: tick the countdowns of running time limits (optional: the page is complete without it).
 *
 * The server renders every remaining time; this script only keeps it current. It reads the server's time
 * (data-server-now) to ignore a wrong clock on the user's computer, and the texts in the page language from
 * data-fmt-days / data-fmt-hours / data-fmt-over, with {d}, {h} and {m} placeholders.
 */
(function () {
  "use strict";

  function format(template, values) {
    return template.replace(/\{([dhm])\}/g, function (_, key) {
      return String(values[key]);
    });
  }

  function start(list) {
    var serverNow = Date.parse(list.getAttribute("data-server-now"));
    if (isNaN(serverNow)) {
      return;
    }
    var offset = serverNow - Date.now();
    var fmtDays = list.getAttribute("data-fmt-days");
    var fmtHours = list.getAttribute("data-fmt-hours");
    var fmtOver = list.getAttribute("data-fmt-over");
    var items = list.querySelectorAll("[data-due]");

    function tick() {
      var now = Date.now() + offset;
      for (var i = 0; i < items.length; i++) {
        var el = items[i];
        var due = Date.parse(el.getAttribute("data-due"));
        if (isNaN(due)) {
          continue;
        }
        var seconds = Math.round((due - now) / 1000); // as the server counts it at the same instant
        var text;
        if (seconds <= 0) {
          text = fmtOver;
          var row = el.closest(".countdown");
          if (row) {
            row.classList.add("is-over");
          }
        } else {
          var d = Math.floor(seconds / 86400);
          var h = Math.floor((seconds % 86400) / 3600);
          var m = Math.floor((seconds % 3600) / 60);
          text = d > 0 ? format(fmtDays, { d: d, h: h, m: m }) : format(fmtHours, { d: d, h: h, m: m });
        }
        if (el.textContent !== text) {
          el.textContent = text;
        }
      }
    }

    tick();
    list.setAttribute("data-ticking", "");
    window.setInterval(tick, 15000);
  }

  function init() {
    var lists = document.querySelectorAll("[data-countdowns]");
    for (var i = 0; i < lists.length; i++) {
      start(lists[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
