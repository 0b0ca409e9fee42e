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
  // A run's log: the whole of it for a finished run, followed live otherwise.
  var runLogs = document.getElementById("run-logs");
  function runLine(l) {
    var n = l.name ? "[" + l.name + "] " : "";
    switch (l.k) {
      case "run": return "▶ " + l.m;
      case "job": return n + l.m;
      case "step": return n + "→ " + l.m;
      case "stepend": return n + (l.ok ? "✓ " : "✗ ") + l.m;
      case "group": return n + "  ▸ " + l.m;
      case "endgroup": return null;
      case "problem": case "note": return n + "! " + l.m;
      default: return n + "  " + l.m;
    }
  }
  function addRunLine(l) {
    var text = runLine(l);
    if (text === null) return;
    var atBottom = runLogs.scrollTop + runLogs.clientHeight >= runLogs.scrollHeight - 4;
    runLogs.appendChild(document.createTextNode(text + "\n"));
    while (runLogs.childNodes.length > 5000) runLogs.removeChild(runLogs.firstChild);
    if (atBottom) runLogs.scrollTop = runLogs.scrollHeight;
  }
  if (runLogs && runLogs.dataset.src.indexOf("follow=true") >= 0) {
    var rs = new EventSource(runLogs.dataset.src);
    rs.onmessage = function (m) {
      var l = JSON.parse(m.data);
      if (l.k) addRunLine(l);
    };
    rs.addEventListener("end", function () { rs.close(); });
  } else if (runLogs) {
    fetch(runLogs.dataset.src).then(function (r) { return r.json(); }).then(function (j) {
      (j.items || []).forEach(addRunLine);
    });
  }
  // A run's buttons: cancel, or re-run (then the new run's page).
  var runActions = document.querySelector("[data-run]");
  if (runActions) {
    runActions.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-run-action]");
      if (!b) return;
      var out = document.getElementById("run-result");
      command("POST", runActions.dataset.run + b.dataset.runAction, null, out, function (j) {
        out.textContent = j.cancelling ? "cancelling" : "run " + j.id + " queued";
        if (j.id) location.href = "/ui/pipelines/" + j.id; else b.disabled = true;
      });
    });
  }
  // The Pipelines page's "Run workflow": a workflow_dispatch, then the run's page.
  var dispatch = document.getElementById("dispatch");
  if (dispatch) {
    dispatch.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var f = dispatch.elements;
      var repo = f.repository.value.split("/");
      var inputs = {};
      f.inputs.value.split(",").forEach(function (pair) {
        var i = pair.indexOf("=");
        if (i > 0) inputs[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
      });
      var body = { inputs: inputs };
      if (f.ref.value.trim()) body.ref = f.ref.value.trim();
      var out = document.getElementById("dispatch-result");
      var url = "/api/v1/namespaces/" + encodeURIComponent(repo[0]) + "/repositories/" + encodeURIComponent(repo[1]) +
        "/workflows/" + encodeURIComponent(f.workflow.value.trim()) + "/dispatches";
      command("POST", url, body, out, function (j) { location.href = "/ui/pipelines/" + j.id; });
    });
  }
  // Parts of a page redrawn (from the server) when journal events of a kind arrive.
  var parts = document.querySelectorAll("[data-refresh-on]");
  if (parts.length) {
    var prefix = parts[0].dataset.refreshOn;
    var pending = false;
    var redraw = function () {
      pending = false;
      fetch(location.href).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (p) {
          var fresh = doc.getElementById(p.id);
          if (fresh) p.innerHTML = fresh.innerHTML;
        });
        var fresh = doc.querySelector("[data-run]");
        var mine = document.querySelector("[data-run]");
        if (fresh && mine) {
          mine.querySelectorAll("button").forEach(function (b, i) {
            var f = fresh.querySelectorAll("button")[i];
            if (f) b.disabled = f.disabled;
          });
        }
      });
    };
    var live = document.getElementById("live");
    var es = new EventSource("/api/v1/events?follow=true&after=" + encodeURIComponent(String(parts[0].dataset.after || "")));
    es.onopen = function () { if (live) { live.textContent = "live"; live.className = "live on"; } };
    es.onerror = function () { if (live) { live.textContent = "reconnecting…"; live.className = "live off"; } };
    es.onmessage = function (m) {
      var e = JSON.parse(m.data);
      if (e.kind.indexOf(prefix) !== 0 || pending) return;
      pending = true;
      setTimeout(redraw, 300);
    };
  }
  // A command button's request: the answer (or the problem's detail) shown in `out`.
  function command(method, url, body, out, onOk) {
    var init = { method: method, headers: { "Andon-Actor": "ui", "Content-Type": "application/json" } };
    if (body) init.body = JSON.stringify(body);
    fetch(url, init)
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (x) {
        out.className = x.ok ? "ok" : "bad";
        if (x.ok) onOk(x.j); else out.textContent = x.j.detail || x.j.title || "failed";
      })
      .catch(function (e) { out.textContent = String(e); out.className = "bad"; });
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
      command("POST", actions.dataset.rollout + action, null, out, function (j) {
        out.textContent = j.message;
        setTimeout(function () { location.reload(); }, 700);
      });
    });
  }
  // The Alerts page: silence an alert (every label matched exactly) or expire a silence.
  function amCall(method, path, body) {
    var out = document.getElementById("silence-result");
    command(method, path, body, out, function (j) {
      out.textContent = j.silenceID ? "silenced: " + j.silenceID : "expired";
      setTimeout(function () { location.reload(); }, 700);
    });
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
