// andon UI: follows the journal over server-sent events and adds each new event to the
// page's feed without a reload. No framework, no build step.
(function () {
  "use strict";
  // A service page's logs: every line as it is printed, newest at the bottom.
  var logs = document.getElementById("logs");
  if (logs && logs.dataset.src) {
    var ls = new EventSource(logs.dataset.src);
    ls.onmessage = function (m) {
      var l = JSON.parse(m.data);
      var atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
      var who = l.instance === 4294967295 ? "andon" : String(l.instance);
      logs.appendChild(document.createTextNode(l.time.slice(11, 19) + " [" + who + "] " + l.text + "\n"));
      while (logs.childNodes.length > 1000) logs.removeChild(logs.firstChild);
      if (atBottom) logs.scrollTop = logs.scrollHeight;
    };
  }
  // A rollout page's buttons: the command goes to the API, then the page reloads.
  var actions = document.querySelector("[data-rollout]");
  if (actions) {
    actions.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-action]");
      if (!b) return;
      var out = document.getElementById("rollout-result");
      var action = b.dataset.action;
      if (action === "override-freeze") {
        // The reason is required and recorded in the journal with the actor.
        action += "?reason=" + encodeURIComponent(document.getElementById("freeze-reason").value);
      }
      fetch(actions.dataset.rollout + action, { method: "POST", headers: { "Andon-Actor": "ui" } })
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
        .then(function (x) {
          out.textContent = x.ok ? x.j.message : (x.j.detail || x.j.title || "failed");
          out.className = x.ok ? "ok" : "bad";
          if (x.ok) setTimeout(function () { location.reload(); }, 700);
        })
        .catch(function (e) { out.textContent = String(e); out.className = "bad"; });
    });
  }
  // The Alerts page: silence an alert (every label matched exactly) or expire a silence.
  function amCall(method, path, body) {
    var out = document.getElementById("silence-result");
    var init = { method: method, headers: { "Andon-Actor": "ui", "Content-Type": "application/json" } };
    if (body) init.body = JSON.stringify(body);
    fetch(path, init)
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (x) {
        out.textContent = x.ok ? (x.j.silenceID ? "silenced: " + x.j.silenceID : "expired") : (x.j.detail || x.j.title || "failed");
        out.className = x.ok ? "ok" : "bad";
        if (x.ok) setTimeout(function () { location.reload(); }, 700);
      })
      .catch(function (e) { out.textContent = String(e); out.className = "bad"; });
  }
  function durationMs(text) {
    var m = /^(\d+)(ms|s|m|h|d|w)$/.exec(text.trim());
    if (!m) return 0;
    var unit = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2]];
    return Number(m[1]) * unit;
  }
  document.addEventListener("click", function (ev) {
    var s = ev.target.closest("button[data-silence]");
    if (s) {
      var cell = s.closest("[data-matchers]");
      var ms = durationMs(cell.querySelector("[name=duration]").value);
      if (!ms) {
        var out = document.getElementById("silence-result");
        out.textContent = "duration: use a number and a unit, like 30m or 2h";
        out.className = "bad";
        return;
      }
      var now = Date.now();
      amCall("POST", "/alertmanager/api/v2/silences", {
        matchers: JSON.parse(cell.dataset.matchers),
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + ms).toISOString(),
        createdBy: "ui",
        comment: cell.querySelector("[name=comment]").value || "silenced from the Alerts page"
      });
      return;
    }
    var x = ev.target.closest("button[data-expire]");
    if (x) amCall("DELETE", "/alertmanager/api/v2/silence/" + encodeURIComponent(x.dataset.expire));
  });
  var feed = document.getElementById("feed");
  if (!feed) return;
  var plurals = JSON.parse(feed.dataset.plurals || "{}");
  var status = document.getElementById("live");
  var after = feed.dataset.after || "0";
  var filter = feed.dataset.subject || "";

  function link(subject) {
    var parts = subject.split("/");
    var plural = plurals[parts[0]];
    if (parts.length !== 3 || !plural) return document.createTextNode(subject);
    var a = document.createElement("a");
    a.href = "/ui/" + plural + "/" + encodeURIComponent(parts[1]) + "/" + encodeURIComponent(parts[2]);
    a.textContent = subject;
    return a;
  }

  function row(e) {
    var tr = document.createElement("tr");
    tr.dataset.seq = e.seq;
    tr.className = "fresh";
    var cells = [String(e.seq), e.time.replace("T", " ").slice(0, 19), e.kind, null, e.actor];
    cells.forEach(function (text, i) {
      var td = document.createElement("td");
      if (i === 3) td.appendChild(link(e.subject)); else td.textContent = text;
      tr.appendChild(td);
    });
    return tr;
  }

  function connect() {
    var src = new EventSource("/api/v1/events?follow=true&after=" + encodeURIComponent(after));
    src.onopen = function () { if (status) { status.textContent = "live"; status.className = "live on"; } };
    src.onerror = function () { if (status) { status.textContent = "reconnecting…"; status.className = "live off"; } };
    src.onmessage = function (m) {
      var e = JSON.parse(m.data);
      after = String(e.seq);
      if (filter && e.subject !== filter) return;
      var empty = document.getElementById("feed-empty");
      if (empty) empty.remove();
      feed.insertBefore(row(e), feed.firstChild);
      while (feed.rows.length > 200) feed.deleteRow(feed.rows.length - 1);
      var counter = document.querySelector('[data-count="' + e.subject.split("/")[0] + '"]');
      if (counter && e.kind === "resource.created") counter.textContent = String(Number(counter.textContent) + 1);
      if (counter && e.kind === "resource.deleted") counter.textContent = String(Math.max(0, Number(counter.textContent) - 1));
    };
  }
  connect();
})();
