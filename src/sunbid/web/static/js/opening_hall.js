/* sunbid: the live opening hall 开标大厅 (optional: the server renders the whole hall from the events so far).
 *
 * Live mode subscribes to the project's event stream (server-sent events, resumed with Last-Event-ID) and applies
 * each new event to the page; replay mode steps through a finished session's events (next / play), fetched from
 * events.json. Events are applied in seq order exactly once: a gap is filled from events.json first.
 *
 * The markup of new rows comes from the <template> elements the server renders with the same macros as its own
 * rows, and every text is set with textContent (never HTML), in the page language from #hall-texts; messages use
 * the server's %(name)s placeholders (see sunbid.opening.hall_views) so a line reads the same after a reload.
 * Mirrors sunbid.opening.hall_state.apply: keep the two in step.
 */
(function () {
  "use strict";

  var hall = document.getElementById("hall");
  if (!hall || !window.JSON) {
    return;
  }
  var T = JSON.parse(document.getElementById("hall-texts").textContent);
  var STAGES = ["waiting", "checking_in", "decrypting", "decrypted", "published", "closed", "failed"];
  var TERMINAL = { "session.closed": true, "session.failed": true };
  var FAILED = { revoked: true, withdrawn: true };
  var english = T.lang === "en";
  var lastSeq = parseInt(hall.getAttribute("data-last-seq"), 10) || 0;
  var serverOffset = Date.parse(hall.getAttribute("data-server-now")) - Date.now();
  if (isNaN(serverOffset)) {
    serverOffset = 0;
  }
  var replayNow = null; // in replay, "now" is the time of the last event applied

  // --- helpers ------------------------------------------------------------------------------------------

  function byId(id) {
    return document.getElementById(id);
  }

  function paramText(value) {
    if (value === null || value === undefined) {
      return "";
    }
    if (Array.isArray(value)) {
      return value.map(paramText).join("、");
    }
    if (typeof value === "object") {
      return String(value.code || value.label_zh || "");
    }
    return String(value);
  }

  function fill(template, params) {
    return String(template).replace(/%\((\w+)\)s/g, function (_, name) {
      return paramText(params[name]);
    });
  }

  function text(name) {
    return T.text[name] || "";
  }

  function str(data, name) {
    var v = data[name];
    return v === null || v === undefined || typeof v === "object" ? "" : String(v);
  }

  function int(data, name) {
    var v = data[name];
    if (typeof v === "number" && isFinite(v)) {
      return Math.floor(v);
    }
    if (Array.isArray(v)) {
      return v.length;
    }
    if (typeof v === "string" && /^\s*\d+\s*$/.test(v)) {
      return parseInt(v, 10);
    }
    return null;
  }

  function setText(el, value) {
    if (el && el.textContent !== value) {
      el.textContent = value;
    }
  }

  function show(el, visible) {
    if (el) {
      el.hidden = !visible;
    }
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  /* A UTC ISO time in China time (UTC+8, no daylight saving time): "HH:MM:SS" or with the date. */
  function chinaTime(iso, withDate) {
    var ms = Date.parse(iso);
    if (!iso || isNaN(ms)) {
      return "";
    }
    var d = new Date(ms + 8 * 3600 * 1000);
    var time = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    if (!withDate) {
      return time;
    }
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + time;
  }

  function clone(id) {
    return byId(id).content.firstElementChild.cloneNode(true);
  }

  function find(container, selector, attrs) {
    var items = container.querySelectorAll(selector);
    for (var i = 0; i < items.length; i++) {
      var ok = true;
      for (var k in attrs) {
        if (items[i].getAttribute(k) !== attrs[k]) {
          ok = false;
        }
      }
      if (ok) {
        return items[i];
      }
    }
    return null;
  }

  function safeUrl(url) {
    var u = String(url || "").trim();
    if (u.charAt(0) === "/" && u.charAt(1) !== "/") {
      return u;
    }
    if (/^https?:\/\//i.test(u) && !/[\s]/.test(u)) {
      return u;
    }
    return "";
  }

  function reasonOf(data) {
    var zh = str(data, "reason_zh");
    var en = str(data, "reason_en");
    return english ? en || zh : zh || en;
  }

  // --- the parts of the page ----------------------------------------------------------------------------

  function stage() {
    return hall.getAttribute("data-stage");
  }

  function setStage(next, force) {
    var current = stage();
    if (!force && (current === "closed" || current === "failed" || STAGES.indexOf(next) <= STAGES.indexOf(current))) {
      return;
    }
    hall.setAttribute("data-stage", next);
    var badge = byId("hall-stage");
    badge.setAttribute("data-stage", next);
    setText(badge, T.stages[next] || next);
  }

  function bidderRow(data) {
    var name = str(data, "bidder_name");
    if (!name) {
      return null;
    }
    var section = str(data, "section");
    var body = byId("hall-bidders");
    var row = find(body, "tr.hall-bidder", { "data-section": section, "data-name": name });
    var listed = section ? find(body, "tr.hall-bidder", { "data-section": "", "data-name": name }) : null;
    if (!row && listed) {
      // Named by session.started without a section: it keeps its place and gets its section now.
      row = listed;
      row.setAttribute("data-section", section);
      setText(row.querySelector(".c-section"), section);
      addSection(section);
    } else if (!row) {
      row = clone("tpl-bidder");
      row.setAttribute("data-section", section);
      row.setAttribute("data-name", name);
      setText(row.querySelector(".c-section"), section);
      setText(row.querySelector(".c-name"), name);
      body.appendChild(row);
      show(byId("hall-no-bidders"), false);
      if (section) {
        addSection(section);
      }
    }
    return row;
  }

  function addSection(section) {
    var el = byId("hall-sections");
    var list = el.textContent === "—" || !el.textContent ? [] : el.textContent.split("、");
    if (list.indexOf(section) < 0) {
      list.push(section);
      setText(el, list.join("、"));
    }
  }

  function setDecryption(row, status, by, reason) {
    row.setAttribute("data-decryption", status);
    var tag = row.querySelector(".hall-dec");
    tag.className = "tag hall-dec hall-dec-" + status;
    setText(tag, T.decryption[status] || status);
    setText(row.querySelector(".c-by"), status === "decrypted" && by.indexOf("custodian") >= 0 ? text("custodian_decrypted") : "");
    setText(row.querySelector(".c-reason"), reason);
  }

  function counts() {
    var rows = byId("hall-bidders").querySelectorAll("tr.hall-bidder");
    var decrypted = 0;
    var failed = 0;
    var checked = 0;
    for (var i = 0; i < rows.length; i++) {
      var status = rows[i].getAttribute("data-decryption");
      if (status === "decrypted") {
        decrypted++;
      } else if (FAILED[status]) {
        failed++;
      }
      if (rows[i].getAttribute("data-checked-in") === "1") {
        checked++;
      }
    }
    var closedDecrypted = hall.getAttribute("data-closed-decrypted");
    var closedFailed = hall.getAttribute("data-closed-failed");
    if (closedDecrypted !== "") {
      decrypted = parseInt(closedDecrypted, 10);
    }
    if (closedFailed !== "") {
      failed = parseInt(closedFailed, 10);
    }
    var bids = parseInt(hall.getAttribute("data-bids"), 10) || 0;
    return {
      decrypted: decrypted,
      failed: failed,
      checked: checked,
      total: Math.max(bids, decrypted + failed, rows.length),
    };
  }

  function updateProgress() {
    var c = counts();
    var bar = byId("hall-progress");
    bar.max = c.total || 1;
    bar.value = c.decrypted + c.failed;
    setText(bar, (c.total ? Math.min(100, Math.floor(((c.decrypted + c.failed) * 100) / c.total)) : 0) + "%");
    setText(
      byId("hall-progress-text"),
      fill(text("progress"), { done: c.decrypted + c.failed, total: c.total, decrypted: c.decrypted, failed: c.failed })
    );
    setText(byId("hall-checked-count"), String(c.checked));
  }

  function now() {
    return replayNow !== null ? replayNow : Date.now() + serverOffset;
  }

  function updateCountdown() {
    var box = byId("hall-countdown");
    var due = Date.parse(box.getAttribute("data-due"));
    if (isNaN(due)) {
      return;
    }
    var seconds = Math.floor((due - now()) / 1000);
    var left;
    if (box.getAttribute("data-over") === "1" || seconds <= 0) {
      left = text("window_closed");
      box.classList.add("is-over");
    } else {
      left = fill(text("left"), { m: Math.floor(seconds / 60), s: pad(seconds % 60) });
      box.classList.remove("is-over");
    }
    setText(byId("hall-left"), left);
  }

  function custodyItem(section) {
    var list = byId("hall-custody");
    var item = find(list, "li.hall-custody", { "data-section": section });
    if (!item) {
      item = clone("tpl-custody");
      item.setAttribute("data-section", section);
      setText(item.querySelector(".c-section"), section);
      list.appendChild(item);
      show(byId("custody"), true);
    }
    return item;
  }

  // A row's declared items (extra) as [name, value] pairs sorted by name; string values only (hall_state twin).
  function declaredItems(extra) {
    var out = [];
    if (!extra || typeof extra !== "object" || Array.isArray(extra)) {
      return out;
    }
    Object.keys(extra).forEach(function (name) {
      if (typeof extra[name] === "string") {
        out.push([name, extra[name]]);
      }
    });
    return out.sort(function (a, b) {
      return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
    });
  }

  function recordSection(sec) {
    var el = clone("tpl-record-section");
    var section = str(sec, "section");
    el.setAttribute("data-section", section);
    setText(el.querySelector(".c-section"), section);
    var body = el.querySelector("tbody");
    var rows = Array.isArray(sec.rows) ? sec.rows : [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (!r || typeof r !== "object") {
        continue;
      }
      var tr = clone("tpl-record-row");
      var deposit = paramText(r.deposit_status);
      var status = paramText(r.decryption_status);
      setText(tr.querySelector(".c-bidder"), str(r, "bidder_name"));
      setText(tr.querySelector(".c-price"), paramText(r.price));
      setText(tr.querySelector(".c-duration"), paramText(r.duration_days));
      setText(tr.querySelector(".c-quality"), paramText(r.quality));
      var declared = tr.querySelector(".hall-extra");
      var items = declaredItems(r.extra);
      for (var j = 0; j < items.length; j++) {
        var li = document.createElement("li");
        li.textContent = items[j][0] + (english ? ": " : "：") + items[j][1];
        declared.appendChild(li);
      }
      setText(tr.querySelector(".c-deposit"), T.deposit[deposit] || deposit);
      setText(tr.querySelector(".c-status"), T.decryption[status] || status);
      body.appendChild(tr);
    }
    return el;
  }

  function objectionItem(id) {
    var list = byId("hall-objections");
    var item = find(list, "li.hall-objection", { "data-id": id });
    if (!item) {
      item = clone("tpl-objection");
      item.setAttribute("data-id", id);
      setText(item.querySelector(".c-answer"), text("awaiting_answer"));
      list.appendChild(item);
      show(byId("hall-no-objections"), false);
    }
    return item;
  }

  // --- events -------------------------------------------------------------------------------------------

  var handlers = {
    "session.started": function (d, ev) {
      if (Array.isArray(d.sections)) {
        setText(byId("hall-sections"), d.sections.map(paramText).join("、") || "—");
      }
      var names = Array.isArray(d.bidders) ? d.bidders : [];
      for (var i = 0; i < names.length; i++) {
        if (typeof names[i] === "string" && names[i] && !find(byId("hall-bidders"), "tr.hall-bidder", { "data-name": names[i] })) {
          bidderRow({ section: "", bidder_name: names[i] });
        }
      }
      var bids = int(d, "bids") || 0;
      hall.setAttribute("data-bids", String(bids));
      setText(byId("hall-bids"), String(bids));
      var minutes = int(d, "window_minutes");
      if (minutes !== null) {
        setText(byId("hall-window"), fill(text("minutes"), { n: minutes }));
      }
      setStage("checking_in");
    },
    "session.failed": function (d) {
      var failure = byId("hall-failure");
      setText(failure, reasonOf(d));
      show(failure, true);
      setStage("failed", true);
    },
    "bidder.checked_in": function (d, ev) {
      var row = bidderRow(d);
      if (row && row.getAttribute("data-checked-in") !== "1") {
        row.setAttribute("data-checked-in", "1");
        setText(row.querySelector(".c-checkin"), fill(text("checked_in"), { time: chinaTime(ev.at) }));
      }
      setStage("checking_in");
    },
    "decryption.opened": function (d) {
      var box = byId("hall-countdown");
      var ms = Date.parse(str(d, "closes_at"));
      var iso = isNaN(ms) ? "" : new Date(ms).toISOString();
      box.setAttribute("data-due", iso);
      box.setAttribute("data-over", "0");
      var time = byId("hall-closes-at");
      time.setAttribute("datetime", iso);
      setText(time, chinaTime(iso, true));
      show(box, !!iso);
      setStage("decrypting");
    },
    "bid.decrypted": function (d) {
      var row = bidderRow(d);
      if (row) {
        setDecryption(row, "decrypted", str(d, "by"), "");
      }
    },
    "bid.decryption_failed": function (d) {
      var row = bidderRow(d);
      if (row) {
        var outcome = str(d, "outcome");
        setDecryption(row, FAILED[outcome] ? outcome : "revoked", "", reasonOf(d));
      }
    },
    "decryption.closed": function (d) {
      var decrypted = int(d, "decrypted");
      var failed = int(d, "failed");
      hall.setAttribute("data-closed-decrypted", decrypted === null ? "" : String(decrypted));
      hall.setAttribute("data-closed-failed", failed === null ? "" : String(failed));
      byId("hall-countdown").setAttribute("data-over", "1");
      setStage("decrypted");
    },
    "custodian.approved": function (d) {
      var item = custodyItem(str(d, "section"));
      var names = item.querySelector(".c-names");
      var list = names.textContent ? names.textContent.split("、") : [];
      var name = str(d, "custodian_name");
      if (name && list.indexOf(name) < 0) {
        list.push(name);
        setText(names, list.join("、"));
      }
      var threshold = int(d, "threshold");
      if (threshold) {
        item.setAttribute("data-threshold", String(threshold));
      }
      setText(
        item.querySelector(".c-approvals"),
        fill(text("approvals"), { approvals: list.length, threshold: item.getAttribute("data-threshold") || 0 })
      );
    },
    "key.rebuilt": function (d) {
      show(custodyItem(str(d, "section")).querySelector(".c-rebuilt"), true);
    },
    "coefficient.drawn": function (d) {
      var box = byId("hall-draws");
      var section = str(d, "section");
      var old = find(box, ".hall-draw", { "data-section": section });
      var el = clone("tpl-draw");
      el.setAttribute("data-section", section);
      setText(el.querySelector(".c-section"), section);
      setText(el.querySelector(".c-value"), paramText(d.value));
      var record = d.draw_record && typeof d.draw_record === "object" ? d.draw_record : {};
      setText(el.querySelector(".c-record"), JSON.stringify(sortKeys(record), null, 2));
      if (old) {
        box.replaceChild(el, old);
      } else {
        box.appendChild(el);
      }
      show(byId("hall-no-draws"), false);
    },
    "record.published": function (d) {
      var box = byId("hall-record");
      while (box.firstChild) {
        box.removeChild(box.firstChild);
      }
      var sections = Array.isArray(d.sections) ? d.sections : [];
      for (var i = 0; i < sections.length; i++) {
        if (sections[i] && typeof sections[i] === "object") {
          box.appendChild(recordSection(sections[i]));
        }
      }
      show(byId("hall-no-record"), box.children.length === 0);
      var hash = str(d, "record_hash");
      setText(byId("hall-record-hash"), hash);
      show(byId("hall-record-meta"), !!hash);
      var link = byId("hall-record-url");
      var url = safeUrl(str(d, "url"));
      link.setAttribute("href", url || "#record");
      show(link, !!url);
      var rows = byId("hall-bidders").querySelectorAll("tr.hall-bidder");
      for (var j = 0; j < rows.length; j++) {
        var cell = rows[j].querySelector(".c-confirm");
        if (!cell.textContent.trim()) {
          setText(cell, text("not_confirmed"));
        }
      }
      setStage("published");
    },
    "bidder.confirmed": function (d, ev) {
      var row = bidderRow(d);
      if (row && row.getAttribute("data-confirmed") !== "1") {
        row.setAttribute("data-confirmed", "1");
        setText(row.querySelector(".c-confirm"), fill(text("confirmed"), { time: chinaTime(ev.at) }));
      }
    },
    "objection.raised": function (d, ev) {
      var item = objectionItem(str(d, "id") || "seq-" + ev.seq);
      setText(item.querySelector(".c-bidder"), str(d, "bidder_name"));
      setText(item.querySelector(".c-section"), str(d, "section"));
      setText(item.querySelector(".c-time"), chinaTime(ev.at));
      setText(item.querySelector(".c-text"), str(d, "text"));
    },
    "objection.answered": function (d) {
      var item = objectionItem(str(d, "id"));
      item.setAttribute("data-answered", "1");
      setText(item.querySelector(".c-answer"), fill(text("answer"), { answer: str(d, "answer") }));
    },
    "session.closed": function (d) {
      var valid = byId("hall-valid");
      setText(valid, fill(text("valid_bids"), { valid_bids: int(d, "valid_bids") }));
      show(valid, int(d, "valid_bids") !== null);
      setStage("closed", true);
    },
  };

  function sortKeys(value) {
    if (Array.isArray(value)) {
      return value.map(sortKeys);
    }
    if (value && typeof value === "object") {
      var out = {};
      Object.keys(value)
        .sort()
        .forEach(function (k) {
          out[k] = sortKeys(value[k]);
        });
      return out;
    }
    return value;
  }

  function logParams(ev) {
    var params = {};
    var d = ev.data || {};
    for (var k in d) {
      if (Object.prototype.hasOwnProperty.call(d, k)) {
        params[k] = d[k];
      }
    }
    params.kind = ev.kind;
    params.reason = reasonOf(d);
    if (ev.kind === "bid.decryption_failed") {
      var outcome = str(d, "outcome");
      params.outcome = T.decryption[outcome] || outcome;
    }
    if (ev.kind === "decryption.opened") {
      params.closes_at = chinaTime(str(d, "closes_at"), true);
    }
    return params;
  }

  function log(ev) {
    var line = clone("tpl-log");
    line.setAttribute("data-seq", String(ev.seq));
    line.setAttribute("data-kind", ev.kind);
    setText(line.querySelector(".c-time"), chinaTime(ev.at));
    setText(line.querySelector(".c-text"), fill(T.log[ev.kind] || T.log["*"], logParams(ev)).trim());
    byId("hall-log").appendChild(line);
    show(byId("hall-no-log"), false);
  }

  /* Apply one event (the next seq; older ones are ignored). */
  function apply(ev) {
    if (!ev || typeof ev.seq !== "number" || ev.seq <= lastSeq) {
      return;
    }
    var data = ev.data && typeof ev.data === "object" ? ev.data : {};
    log(ev);
    var handler = handlers[ev.kind];
    if (handler) {
      handler(data, ev);
    }
    lastSeq = ev.seq;
    hall.setAttribute("data-last-seq", String(lastSeq));
    updateProgress();
    updateCountdown();
  }

  function fetchEvents(after) {
    var url = hall.getAttribute("data-events-url") + "?after=" + after + "&limit=1000";
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) {
        throw new Error("events.json: HTTP " + r.status);
      }
      return r.json();
    });
  }

  // --- live ---------------------------------------------------------------------------------------------

  function live() {
    var status = byId("hall-live");
    var queue = [];
    var busy = false;
    var source = null;
    var retryDelay = 1000;

    function setStatus(name) {
      status.setAttribute("data-status", name);
      setText(status, text(name));
    }

    function finished() {
      return stage() === "closed" || stage() === "failed";
    }

    function drain() {
      while (!busy && queue.length) {
        var ev = queue.shift();
        if (ev.seq <= lastSeq) {
          continue;
        }
        if (ev.seq > lastSeq + 1) {
          // A gap (an event kind this page does not listen to, or a lost message): fetch what is missing first.
          busy = true;
          queue.unshift(ev);
          fetchEvents(lastSeq)
            .then(function (list) {
              list.forEach(apply);
            })
            .then(
              function () {
                busy = false;
                var head = queue[0];
                if (head && head.seq > lastSeq + 1) {
                  lastSeq = head.seq - 1; // seq has no gaps: the server had nothing in between for us
                }
                drain();
              },
              function () {
                window.setTimeout(function () {
                  busy = false;
                  drain(); // try again: never apply an event before the ones it follows
                }, 2000);
              }
            );
          return;
        }
        apply(ev);
      }
      if (finished() && source) {
        source.close();
        source = null;
        setStatus("ended");
      }
    }

    function onEvent(e) {
      var ev;
      try {
        ev = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      queue.push(ev);
      drain();
    }

    function connect() {
      var url = hall.getAttribute("data-stream-url") + "?after=" + lastSeq;
      source = new EventSource(url);
      Object.keys(T.log).forEach(function (kind) {
        if (kind !== "*") {
          source.addEventListener(kind, onEvent);
        }
      });
      source.onmessage = onEvent;
      source.onopen = function () {
        retryDelay = 1000;
        setStatus("live");
      };
      source.onerror = function () {
        if (!source) {
          return;
        }
        if (source.readyState === EventSource.CLOSED) {
          // 204 (everything was sent) or an HTTP error: start again ourselves unless the session has ended.
          source = null;
          if (finished()) {
            setStatus("ended");
            return;
          }
          setStatus("reconnecting");
          window.setTimeout(connect, retryDelay);
          retryDelay = Math.min(retryDelay * 2, 30000);
        } else {
          setStatus("reconnecting"); // the browser reconnects by itself, sending Last-Event-ID
        }
      };
    }

    if (finished()) {
      setStatus("ended");
      return;
    }
    connect();
    window.setInterval(updateCountdown, 1000);
  }

  // --- replay -------------------------------------------------------------------------------------------

  function replay() {
    var total = parseInt(hall.getAttribute("data-total"), 10) || 0;
    var step = parseInt(hall.getAttribute("data-step"), 10) || 0;
    var base = hall.getAttribute("data-base-url") + "?replay=1&step=";
    var events = [];
    var timer = null;
    var play = byId("replay-play");
    var next = byId("replay-next");

    function render() {
      setText(byId("replay-step"), fill(text("step"), { step: step, total: total }));
      byId("replay-prev").setAttribute("href", base + Math.max(step - 1, 0));
      next.setAttribute("href", base + Math.min(step + 1, total));
      hall.setAttribute("data-step", String(step));
      if (step >= total && timer !== null) {
        stop();
      }
    }

    function forward() {
      if (step >= events.length) {
        return false;
      }
      var ev = events[step];
      replayNow = Date.parse(ev.at);
      if (isNaN(replayNow)) {
        replayNow = null;
      }
      apply(ev);
      step++;
      render();
      return true;
    }

    function stop() {
      window.clearInterval(timer);
      timer = null;
      setText(play, text("play"));
      play.setAttribute("aria-pressed", "false");
    }

    function load(after) {
      return fetchEvents(after).then(function (list) {
        events = events.concat(list);
        return list.length === 1000 ? load(list[list.length - 1].seq) : events;
      });
    }

    if (step > 0) {
      replayNow = null; // the server rendered the state after `step` events; its countdown text stands
    }
    load(0).then(function () {
      total = events.length;
      step = Math.min(step, total);
      render();
      next.addEventListener("click", function (e) {
        if (step < events.length) {
          e.preventDefault(); // step in the page; the link (no script) loads the next step from the server
          forward();
        }
      });
      play.hidden = false;
      play.addEventListener("click", function () {
        if (timer !== null) {
          stop();
          return;
        }
        if (step >= total) {
          return;
        }
        setText(play, text("pause"));
        play.setAttribute("aria-pressed", "true");
        timer = window.setInterval(function () {
          if (!forward()) {
            stop();
          }
        }, 800);
      });
    });
  }

  updateProgress();
  if (hall.getAttribute("data-mode") === "replay") {
    replay();
  } else {
    live();
    updateCountdown();
  }
})();
