/* sunbid: upload a sealed bid container from the bid page (/projects/{id}/bid).
 *
 * The file is already sealed on the bidder's computer (sunbid bidder seal); this script never reads its
 * contents beyond hashing them. It computes the SHA-256 with WebCrypto, then speaks the resumable upload
 * protocol of docs/upload-protocol.md with the page session (cookie) and its CSRF token:
 *   POST /api/v1/projects/{id}/sections/{code}/uploads {length, container_hash}  → upload id, offset 0
 *   PATCH /api/v1/uploads/{uid}  Upload-Offset: k, body = bytes [k, k + chunk)  → 204, new Upload-Offset
 *   GET  /api/v1/uploads/{uid}   → the server's offset (resume after a failure or a reload)
 *   POST /api/v1/uploads/{uid}/complete → {bid, receipt}
 * The upload id is kept in localStorage under the project, section and hash, so choosing the same file again
 * (even after closing the page) resumes from the server's offset. Network failures and 429/502/503/504 are
 * retried with backoff. The receipt is shown and offered as a JSON download.
 */
(function () {
  "use strict";

  var API = "/api/v1";
  var RETRIES = 6;
  var form = document.getElementById("bid-upload");
  if (!form) {
    wireWithdraw();
    return;
  }
  var projectId = form.getAttribute("data-project");
  var csrf = form.getAttribute("data-csrf");
  var chunkSize = parseInt(form.getAttribute("data-chunk"), 10) || 2097152;
  var texts = JSON.parse(form.getAttribute("data-texts") || "{}");
  var english = (document.documentElement.getAttribute("lang") || "").indexOf("en") === 0;
  var status = document.getElementById("bid-status");
  var bar = document.getElementById("bid-progress");
  var start = document.getElementById("bid-start");
  var retry = document.getElementById("bid-retry");
  var busy = false;

  // .btn sets a display, which beats the hidden attribute: hide through the style as well
  function setHidden(el, hidden) {
    el.hidden = hidden;
    el.style.display = hidden ? "none" : "";
  }
  setHidden(retry, true);

  function say(key, values) {
    var text = texts[key] || key;
    Object.keys(values || {}).forEach(function (k) {
      text = text.replace("{" + k + "}", String(values[k]));
    });
    status.textContent = text;
  }

  function Refusal(problem, httpStatus) {
    this.problem = problem || {};
    this.status = httpStatus;
    this.message = (english ? this.problem.message_en : this.problem.message_zh) || this.problem.detail || "HTTP " + httpStatus;
  }

  function Transient(httpStatus) {
    this.status = httpStatus;
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, ms);
    });
  }

  function hex(buffer) {
    var bytes = new Uint8Array(buffer);
    var out = "";
    for (var i = 0; i < bytes.length; i++) {
      out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return out;
  }

  function call(method, path, options) {
    options = options || {};
    var headers = { Accept: "application/json" };
    if (method !== "GET" && method !== "HEAD") {
      headers["X-CSRF-Token"] = csrf;
    }
    Object.keys(options.headers || {}).forEach(function (k) {
      headers[k] = options.headers[k];
    });
    var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (options.body !== undefined) {
      init.body = options.body;
    }
    return fetch(API + path, init).then(
      function (response) {
        if ([429, 502, 503, 504].indexOf(response.status) >= 0) {
          throw new Transient(response.status);
        }
        if (!response.ok) {
          return response.json().then(
            function (body) {
              throw new Refusal(body, response.status);
            },
            function () {
              throw new Refusal({}, response.status);
            }
          );
        }
        return response;
      },
      function () {
        throw new Transient(0);
      }
    );
  }

  // retry transient failures with backoff (0.5 s, 1 s, 2 s …)
  function withRetry(fn) {
    var attempt = 0;
    function run() {
      return fn().catch(function (err) {
        if (!(err instanceof Transient) || attempt >= RETRIES) {
          throw err;
        }
        attempt += 1;
        say("js_network", { n: attempt });
        return sleep(500 * Math.pow(2, attempt - 1)).then(run);
      });
    }
    return run();
  }

  function json(response) {
    return response.json();
  }

  function storageKey(section, hash) {
    return "sunbid-upload:" + projectId + ":" + section + ":" + hash;
  }

  function remember(key, value) {
    try {
      if (value === null) {
        window.localStorage.removeItem(key);
      } else {
        window.localStorage.setItem(key, value);
      }
    } catch (e) {
      /* private mode: resuming then works only while the page stays open */
    }
  }

  function recall(key) {
    try {
      return window.localStorage.getItem(key);
    } catch (e) {
      return null;
    }
  }

  function show(done, total) {
    bar.max = total;
    bar.value = done;
    say("js_uploading", { done: done, total: total });
  }

  function findUpload(key) {
    var saved = recall(key);
    if (!saved) {
      return Promise.resolve(null);
    }
    return withRetry(function () {
      return call("GET", "/uploads/" + encodeURIComponent(saved));
    })
      .then(json)
      .catch(function (err) {
        if (err instanceof Refusal && err.status === 404) {
          remember(key, null);
          return null;
        }
        throw err;
      });
  }

  function openUpload(key, section, length, hash) {
    return findUpload(key).then(function (found) {
      if (found && found.length === length && found.status !== "expired") {
        if (found.offset > 0) {
          say("js_resuming", { done: found.offset, total: length });
        }
        return found;
      }
      say("js_opening");
      return withRetry(function () {
        return call("POST", "/projects/" + projectId + "/sections/" + encodeURIComponent(section) + "/uploads", {
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ length: length, container_hash: hash }),
        });
      })
        .then(json)
        .then(function (created) {
          remember(key, String(created.id));
          return created;
        });
    });
  }

  function sendFrom(file, upload, offset) {
    var length = file.size;
    var failures = 0;
    function next() {
      show(offset, length);
      if (offset >= length) {
        return Promise.resolve();
      }
      var piece = file.slice(offset, Math.min(offset + chunkSize, length));
      return call("PATCH", "/uploads/" + upload.id, {
        headers: { "Content-Type": "application/offset+octet-stream", "Upload-Offset": String(offset) },
        body: piece,
      }).then(
        function (response) {
          failures = 0;
          offset = parseInt(response.headers.get("Upload-Offset"), 10);
          return next();
        },
        function (err) {
          if (err instanceof Refusal && err.problem.code === "bid.offset_mismatch" && err.problem.details) {
            offset = err.problem.details.offset;
            return next();
          }
          if (!(err instanceof Transient) || failures >= RETRIES) {
            throw err;
          }
          failures += 1;
          say("js_network", { n: failures });
          return sleep(500 * Math.pow(2, failures - 1))
            .then(function () {
              return withRetry(function () {
                return call("GET", "/uploads/" + upload.id);
              });
            })
            .then(json)
            .then(function (current) {
              offset = current.offset;
              return next();
            });
        }
      );
    }
    return next();
  }

  function showReceipt(result, hash) {
    var body = result.receipt.receipt || {};
    document.getElementById("receipt-bid").textContent = String(result.bid.id);
    document.getElementById("receipt-time").textContent = body.received_at || result.bid.received_at;
    document.getElementById("receipt-hash").textContent = body.container_hash || hash;
    document.getElementById("receipt-index").textContent = String(body.ledger_index);
    var blob = new Blob([JSON.stringify(result.receipt, null, 2)], { type: "application/json" });
    var link = document.getElementById("receipt-download");
    link.href = URL.createObjectURL(blob);
    link.setAttribute("download", "receipt-" + hash.slice(0, 16) + ".json");
    var card = document.getElementById("bid-receipt");
    card.hidden = false;
    card.setAttribute("data-bid", String(result.bid.id));
  }

  function submit() {
    if (busy) {
      return;
    }
    var input = document.getElementById("bid-file");
    var section = document.getElementById("bid-section").value;
    var file = input.files && input.files[0];
    if (!file || !section) {
      say("js_choose");
      return;
    }
    if (!window.crypto || !window.crypto.subtle) {
      say("js_no_crypto");
      return;
    }
    busy = true;
    start.disabled = true;
    setHidden(retry, true);
    var hash;
    var key;
    var upload;
    say("js_hashing");
    file
      .arrayBuffer()
      .then(function (buffer) {
        var magic = new Uint8Array(buffer, 0, Math.min(8, buffer.byteLength));
        var expected = [0x89, 0x53, 0x42, 0x49, 0x44, 0x0d, 0x0a, 0x1a];
        for (var i = 0; i < expected.length; i++) {
          if (magic[i] !== expected[i]) {
            throw new Refusal({ message_zh: texts.js_not_sbid, message_en: texts.js_not_sbid }, 0);
          }
        }
        return window.crypto.subtle.digest("SHA-256", buffer);
      })
      .then(function (digest) {
        hash = hex(digest);
        key = storageKey(section, hash);
        return openUpload(key, section, file.size, hash);
      })
      .then(function (opened) {
        upload = opened;
        if (opened.status === "completed") {
          return null;
        }
        return sendFrom(file, opened, opened.offset);
      })
      .then(function () {
        say("js_completing");
        return withRetry(function () {
          return call("POST", "/uploads/" + upload.id + "/complete");
        });
      })
      .then(json)
      .then(function (result) {
        remember(key, null);
        bar.max = 1;
        bar.value = 1;
        say("js_done");
        showReceipt(result, hash);
        return refreshMine();
      })
      .catch(function (err) {
        var message = err instanceof Refusal ? err.message : "HTTP " + (err && err.status);
        status.textContent = (texts.js_failed || "") + message;
        status.setAttribute("data-error", err instanceof Refusal ? err.problem.code || "" : "network");
        setHidden(retry, false);
      })
      .then(function () {
        busy = false;
        start.disabled = false;
      });
  }

  // the list of the bidder's own bids, re-read from the server (the page itself, parsed, not a second template)
  function refreshMine() {
    return fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("mine");
        var current = document.getElementById("mine");
        if (fresh && current) {
          current.replaceWith(document.importNode(fresh, true));
          wireWithdraw();
        }
      })
      .catch(function () {
        /* the list refreshes on the next visit */
      });
  }

  function wireWithdraw() {
    var forms = document.querySelectorAll("form.withdraw-form[data-confirm]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (event) {
        if (!window.confirm(event.currentTarget.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  retry.addEventListener("click", submit);
  wireWithdraw();
})();
