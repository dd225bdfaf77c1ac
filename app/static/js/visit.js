/* Stillpoint visit note: autosave and the clickable body chart.
 * The page works without this file: Save draft keeps everything, and marks can be
 * entered in the list under the chart. This only makes both quicker. */
(function () {
  "use strict";
  var form = document.getElementById("visit-form");
  if (!form) { return; }
  var statusEl = document.getElementById("autosave-status");
  var url = form.getAttribute("data-autosave-url");
  var dirty = false, saving = false, stopped = false;
  var INTERVAL = 4000;

  function say(text, isError) {
    if (!statusEl) { return; }
    statusEl.textContent = text;
    statusEl.className = "autosave" + (isError ? " autosave-error" : "");
  }

  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });

  function autosave() {
    if (!dirty || saving || stopped) { return; }
    saving = true;
    dirty = false;
    var data = new FormData(form);
    data.set("action", "autosave");
    fetch(url, { method: "POST", body: data, credentials: "same-origin",
                 headers: { "X-Requested-With": "fetch", "Accept": "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      })
      .then(function (result) {
        if (result.body.ok) {
          form.querySelector("input[name=lock_version]").value = result.body.lock_version;
          var when = new Date(result.body.saved_at);
          say("Draft saved automatically at " + when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) + ".");
        } else {
          if (result.status === 409) { stopped = true; }
          dirty = result.status !== 409;
          say(result.body.error || "Not saved.", true);
        }
      })
      .catch(function () { dirty = true; say("Not saved: the connection failed. Your text is still here; use Save draft.", true); })
      .then(function () { saving = false; });
  }
  window.setInterval(autosave, INTERVAL);
  form.addEventListener("submit", function () { stopped = true; });

  // Enter in the protocol search box searches instead of saving.
  var query = document.getElementById("protocol_query");
  if (query) {
    query.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        form.querySelector("button[name=action][value=search]").click();
      }
    });
  }

  // ---- body chart -------------------------------------------------------------
  var chart = document.getElementById("body-chart");
  var rows = document.getElementById("mark-rows");
  if (!chart || !rows) { return; }
  Array.prototype.forEach.call(document.querySelectorAll("[data-js-only]"), function (el) { el.hidden = false; });
  var kindClass = { pain: "mk-pain", trigger_point: "mk-tp", treated: "mk-treated" };

  function emptyRow() {
    var all = rows.querySelectorAll(".mark-row");
    for (var i = 0; i < all.length; i++) {
      if (!all[i].querySelector("select[name$=-region]").value) { return all[i]; }
    }
    var last = all[all.length - 1];
    var copy = last.cloneNode(true);
    var index = all.length;
    Array.prototype.forEach.call(copy.querySelectorAll("[id],[name],[for],[aria-describedby]"), function (el) {
      ["id", "name", "for", "aria-describedby"].forEach(function (attr) {
        var v = el.getAttribute(attr);
        if (v) { el.setAttribute(attr, v.replace(/marks-\d+-/g, "marks-" + index + "-")); }
      });
    });
    Array.prototype.forEach.call(copy.querySelectorAll("select,input"), function (el) { el.value = ""; });
    Array.prototype.forEach.call(copy.querySelectorAll(".error"), function (el) { el.remove(); });
    copy.setAttribute("data-index", String(index));
    rows.appendChild(copy);
    return copy;
  }

  function mark(region) {
    var tool = form.querySelector("input[name=bc-tool]:checked");
    var kind = tool ? tool.value : "pain";
    var intensity = document.getElementById("bc-intensity");
    var row = emptyRow();
    row.querySelector("select[name$=-region]").value = region.getAttribute("data-region");
    row.querySelector("select[name$=-side]").value = region.getAttribute("data-side") || "";
    row.querySelector("select[name$=-kind]").value = kind;
    row.querySelector("input[name$=-intensity]").value = intensity ? intensity.value : "";
    region.classList.add(kindClass[kind]);
    dirty = true;
    say("Mark added: " + (region.getAttribute("aria-label") || "").replace(/^Mark /, "") + ".");
  }

  Array.prototype.forEach.call(chart.querySelectorAll(".bc-region"), function (region) {
    region.addEventListener("click", function () { mark(region); });
    region.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); mark(region); }
    });
  });
})();
