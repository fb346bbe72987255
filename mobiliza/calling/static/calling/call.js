// The agent's calling screen. Talks to the JSON API (session + CSRF):
// claim -> (heartbeat while calling) -> result (idempotent key) -> claim ...
// A result is first written to localStorage with its idempotency key and retried with the same
// key until the server answers, so a reload, a double tap or a flaky network records it once.
(function () {
  "use strict";
  var app = document.getElementById("call-app");
  if (!app) return;
  var T = JSON.parse(document.getElementById("call-i18n").textContent);
  var survey = JSON.parse(document.getElementById("survey-definition").textContent || "null");
  var telI18n = document.getElementById("telephony-i18n");
  var TT = JSON.parse((telI18n && telI18n.textContent) || "null") || {};
  var software = app.dataset.software === "1";
  var liveCall = null;
  var livePoll = null;
  var opId = app.dataset.operation;
  var PENDING = "mobiliza.call.pending." + opId;
  var csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  var form = document.getElementById("call-form");
  var empty = document.getElementById("empty");
  var current = null;
  var heartbeat = null;
  var retryTimer = null;
  var answers = {};
  var qIndex = 0;
  var qPath = [];

  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var s = ""; for (var i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16); return s;
  }
  function setOnline(on) {
    $("net").textContent = on ? T.online : T.offline;
    $("net").className = "badge " + (on ? "ok" : "bad");
    $("offline-msg").hidden = on;
  }
  window.addEventListener("online", function () { setOnline(true); flushPending(); });
  window.addEventListener("offline", function () { setOnline(false); });

  function api(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body || {})
    }).then(function (r) {
      setOnline(true);
      return r.json().catch(function () { return {}; }).then(function (data) { return {status: r.status, data: data}; });
    }, function (err) { setOnline(false); throw err; });
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      setOnline(true);
      return r.json().catch(function () { return {}; }).then(function (data) { return {status: r.status, data: data}; });
    }, function (err) { setOnline(false); throw err; });
  }

  // --- software-placed calls: ring the agent, dial the person, show the live state -------------
  function showLive(state) {
    var box = $("live");
    if (!box) return;
    box.hidden = false;
    var stages = TT.stages || {};
    $("live-stage").textContent = stages[state.stage] || state.stage;
    $("live-stage").className = "badge " + (state.stage === "connected" ? "ok" : state.over ? "grey" : "warn");
    $("live-stage").dataset.stage = state.stage;
    var detail = "";
    if (state.over && state.auto_status) detail = (TT.auto_recorded || "") + " " + ((TT.auto || {})[state.auto_status] || state.auto_status);
    else if (state.over && state.end_reason === "agent_unreachable") detail = TT.agent_unreachable || "";
    else if (state.over && state.duration_seconds) detail = TT.choose || "";
    $("live-detail").textContent = detail;
    $("hangup").hidden = !!state.over;
    $("dial").classList.toggle("disabled", !state.over);
  }
  function stopLive() { clearTimeout(livePoll); livePoll = null; liveCall = null; }
  function pollLive() {
    if (!liveCall) return;
    getJSON(app.dataset.callUrl + liveCall).then(function (res) {
      if (res.status !== 200 || !liveCall) return;
      var state = res.data;
      showLive(state);
      if (!state.over) { livePoll = setTimeout(pollLive, 1000); return; }
      stopLive();
      if (state.result_recorded && current && state.target === current.id) {
        // Busy, no answer, voicemail...: recorded by the platform; on to the next person.
        current = null;
        setTimeout(claim, 2500);
      }
    }).catch(function () { livePoll = setTimeout(pollLive, 3000); });
  }
  function softwareDial(ev) {
    ev.preventDefault();
    if (!current || liveCall) return;
    if (app.dataset.phoneVerified !== "1") { window.location.href = app.dataset.phoneUrl; return; }
    showError("");
    api(app.dataset.targetUrl + current.id + "/dial").then(function (res) {
      if (res.status === 201) { liveCall = res.data.id; showLive(res.data); livePoll = setTimeout(pollLive, 800); }
      else showError(res.data.detail || T.closed);
    }).catch(function () {});
  }
  if (software) {
    $("dial").addEventListener("click", softwareDial);
    $("hangup").addEventListener("click", function () {
      if (liveCall) api(app.dataset.callUrl + liveCall + "/hangup").catch(function () {});
    });
  }

  // --- pending result: stored first, retried with the same key ------------------------------
  function flushPending() {
    var raw = localStorage.getItem(PENDING);
    if (!raw) return Promise.resolve(true);
    var pending = JSON.parse(raw);
    $("pending-msg").hidden = false;
    return api(app.dataset.targetUrl + pending.target + "/result", pending.body).then(function (res) {
      if (res.status === 200 || res.status === 201 || res.status === 409 || res.status === 422 || res.status === 404) {
        localStorage.removeItem(PENDING);
        $("pending-msg").hidden = true;
        if (res.status === 422) showError(res.data.detail || "");
        if (res.status === 409) showError(T.lost);
        return true;
      }
      throw new Error("retry");
    }).catch(function () {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(function () { flushPending().then(function (ok) { if (ok) claim(); }); }, 3000);
      return false;
    });
  }

  // --- claim and render -----------------------------------------------------------------
  function claim() {
    clearInterval(heartbeat);
    return api(app.dataset.claimUrl).then(function (res) {
      if (res.status !== 200) { showEmpty(res.data, true); return; }
      if (!res.data.target) { showEmpty(res.data, false); return; }
      render(res.data.target);
    }).catch(function () {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(claim, 5000);
    });
  }

  function showEmpty(data, closed) {
    current = null;
    form.hidden = true;
    empty.hidden = false;
    var list = $("reasons");
    list.innerHTML = "";
    if (data.message === "spending_cap" && TT.spending_cap) {
      list.innerHTML = '<li data-testid="spending-cap">' + esc(TT.spending_cap) + "</li>";
    } else if (closed || data.message && data.message !== "empty") {
      list.innerHTML = "<li>" + esc(T.closed) + "</li>";
    }
    var reasons = data.reasons || {};
    Object.keys(T.reasons).forEach(function (k) {
      if (reasons[k]) list.insertAdjacentHTML("beforeend", "<li>" + esc(T.reasons[k]) + ": <strong>" + reasons[k] + "</strong></li>");
    });
    $("next-at").textContent = data.next_available_at ? T.next + " " + new Date(data.next_available_at).toLocaleString() : "";
    clearTimeout(retryTimer);
    retryTimer = setTimeout(claim, 30000);
  }

  function render(target) {
    current = target;
    // The survey version current when this person was handed out: an edit published meanwhile
    // shows from the next person on, and the answers are recorded against the version shown.
    if (target.survey) survey = target.survey.definition;
    empty.hidden = true;
    form.hidden = false;
    form.reset();
    answers = {};
    qIndex = 0;
    qPath = [];
    $("form-error").hidden = true;
    $("script").innerHTML = esc(target.script).replace(/\n/g, "<br>");
    var dial = $("dial");
    dial.href = software ? "#" : target.tel_url;
    stopLive();
    if ($("live")) { $("live").hidden = true; dial.classList.remove("disabled"); }
    $("dial-number").textContent = target.phone_e164;
    $("attempt-info").textContent = target.attempts ? T.attempts + ": " + target.attempts + (target.last_status ? " · " + target.last_status : "") : "";
    var dl = $("fields");
    dl.innerHTML = "";
    target.fields.forEach(function (f) {
      var value = Array.isArray(f.value) ? f.value.join(", ") : (f.value == null ? "" : f.value);
      var dd;
      if (f.editable) {
        if (f.choices && f.choices.length) {
          dd = '<select data-field="' + esc(f.key) + '" data-original="' + esc(value) + '"><option value=""></option>' +
            f.choices.map(function (c) { return '<option value="' + esc(c[0]) + '"' + (String(c[0]) === String(value) ? " selected" : "") + ">" + esc(c[1]) + "</option>"; }).join("") + "</select>";
        } else if (f.type === "boolean") {
          dd = '<input type="checkbox" data-field="' + esc(f.key) + '" data-original="' + (value ? "1" : "") + '"' + (value ? " checked" : "") + ">";
        } else {
          var type = f.type === "email" ? "email" : f.type === "number" ? "number" : f.type === "date" ? "date" : "text";
          dd = '<input type="' + type + '" data-field="' + esc(f.key) + '" value="' + esc(value) + '" data-original="' + esc(value) + '" aria-label="' + esc(f.label) + '">';
        }
      } else {
        dd = esc(value) || "—";
      }
      dl.insertAdjacentHTML("beforeend", '<div class="' + (f.highlight ? "hl" : "") + '"><dt>' + esc(f.label) + "</dt><dd>" + dd + "</dd></div>");
    });
    renderSurvey();
    heartbeat = setInterval(function () {
      if (!current) return;
      api(app.dataset.targetUrl + current.id + "/heartbeat").then(function (res) {
        if (res.status === 409) { showError(T.lost); claim(); }
      }).catch(function () {});
    }, 60000);
    if (window.matchMedia("(min-width: 900px)").matches) $("dial").focus();
  }

  // --- survey: all questions (original) or one at a time with branches (specialized) -----
  function questionHtml(q) {
    var name = "q_" + q.key;
    var h = '<div class="question" data-key="' + esc(q.key) + '"><p class="q-label"><strong>' + esc(q.label) + "</strong></p>";
    if (q.guidance) h += '<p class="small muted">' + esc(q.guidance) + "</p>";
    if (q.choices && q.choices.length) {
      var multi = q.type === "multiple";
      q.choices.forEach(function (c) {
        var checked = multi ? (answers[q.key] || []).indexOf(c.key) >= 0 : answers[q.key] === c.key;
        h += '<label class="choice"><input type="' + (multi ? "checkbox" : "radio") + '" name="' + esc(name) + '" value="' + esc(c.key) + '"' + (checked ? " checked" : "") + "> " + esc(c.label) + "</label>";
      });
    } else {
      var t = q.type === "number" ? "number" : q.type === "date" ? "date" : "text";
      if (q.type === "long_text") h += '<textarea name="' + esc(name) + '" rows="2">' + esc(answers[q.key] || "") + "</textarea>";
      else h += '<input type="' + t + '" name="' + esc(name) + '" value="' + esc(answers[q.key] || "") + '">';
    }
    return h + "</div>";
  }
  function readQuestion(q) {
    var inputs = form.querySelectorAll('[name="q_' + q.key + '"]');
    if (!inputs.length) return;
    if (q.choices && q.choices.length) {
      var vals = [];
      inputs.forEach(function (i) { if (i.checked) vals.push(i.value); });
      if (q.type === "multiple") { if (vals.length) answers[q.key] = vals; else delete answers[q.key]; }
      else if (vals.length) answers[q.key] = vals[0]; else delete answers[q.key];
    } else if (inputs[0].value.trim()) answers[q.key] = inputs[0].value.trim();
    else delete answers[q.key];
  }
  function nextIndex(q) {
    var qs = survey.questions;
    var chosen = answers[q.key];
    var keys = Array.isArray(chosen) ? chosen : chosen ? [chosen] : [];
    for (var i = 0; i < (q.choices || []).length; i++) {
      var c = q.choices[i];
      if (keys.indexOf(c.key) >= 0 && c.branch) {
        if (c.branch.kind === "end") return qs.length;
        if (c.branch.kind === "goto") {
          for (var j = 0; j < qs.length; j++) if (qs[j].key === c.branch.to) return j;
        }
      }
    }
    return qs.indexOf(q) + 1;
  }
  function renderSurvey() {
    var box = $("survey");
    if (!survey || !survey.questions || !survey.questions.length) { box.innerHTML = ""; return; }
    if (app.dataset.version !== "specialized") {
      box.innerHTML = survey.questions.map(questionHtml).join("");
      return;
    }
    var qs = survey.questions;
    if (qIndex >= qs.length) {
      box.innerHTML = '<p class="muted">' + esc(T.end) + "</p>" + (qPath.length ? '<button type="button" class="btn small secondary" id="q-prev">' + esc(T.prev_q) + "</button>" : "");
    } else {
      box.innerHTML = questionHtml(qs[qIndex]) + '<div class="row">' + (qPath.length ? '<button type="button" class="btn small secondary" id="q-prev">' + esc(T.prev_q) + "</button>" : "") +
        '<button type="button" class="btn small" id="q-next">' + esc(T.next_q) + "</button></div>";
    }
    var prev = $("q-prev"), next = $("q-next");
    if (prev) prev.onclick = function () { if (qIndex < qs.length) readQuestion(qs[qIndex]); qIndex = qPath.pop(); renderSurvey(); };
    if (next) next.onclick = function () { var q = qs[qIndex]; readQuestion(q); qPath.push(qIndex); qIndex = nextIndex(q); renderSurvey(); };
  }
  function collectAnswers() {
    if (!survey || !survey.questions) return {};
    if (app.dataset.version !== "specialized") {
      survey.questions.forEach(readQuestion);
    } else if (qIndex < survey.questions.length) {
      readQuestion(survey.questions[qIndex]);
    }
    // Only answers on the path actually followed (specialized) or shown (original).
    if (app.dataset.version === "specialized") {
      var onPath = {};
      qPath.concat([qIndex]).forEach(function (i) { var q = survey.questions[i]; if (q && answers[q.key] !== undefined) onPath[q.key] = answers[q.key]; });
      return onPath;
    }
    return answers;
  }

  // --- save & next, skip ---------------------------------------------------------------
  function showError(msg) { var e = $("form-error"); e.textContent = msg; e.hidden = !msg; }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!current) return;
    var status = form.querySelector('input[name="status"]:checked');
    if (!status) { showError(T.choose_status); return; }
    var edits = {};
    form.querySelectorAll("[data-field]").forEach(function (el) {
      var v = el.type === "checkbox" ? (el.checked ? "1" : "") : el.value;
      if (v !== el.dataset.original) edits[el.dataset.field] = el.type === "checkbox" ? el.checked : v;
    });
    var body = {
      status: status.value,
      idempotency_key: uuid(),
      answers: collectAnswers(),
      field_edits: edits,
      notes: $("notes").value
    };
    if (current.survey) body.survey_version = current.survey.version;
    var cb = $("callback-at").value;
    if (cb) body.callback = {at: new Date(cb).toISOString(), personal: $("callback-personal").checked};
    localStorage.setItem(PENDING, JSON.stringify({target: current.id, body: body}));
    $("save").disabled = true;
    api(app.dataset.targetUrl + current.id + "/result", body).then(function (res) {
      $("save").disabled = false;
      if (res.status === 422) {
        localStorage.removeItem(PENDING);
        showError(res.data.detail || "");
        return;
      }
      localStorage.removeItem(PENDING);
      if (res.status === 409) showError(T.lost);
      current = null;
      claim();
    }).catch(function () {
      $("save").disabled = false;
      form.hidden = true;
      flushPending();
    });
  });

  $("skip").addEventListener("click", function () {
    if (!current) return;
    var id = current.id;
    current = null;
    api(app.dataset.targetUrl + id + "/release").finally(claim);
  });
  $("retry").addEventListener("click", claim);

  // --- keyboard shortcuts (desktop) ----------------------------------------------------
  document.addEventListener("keydown", function (ev) {
    if (form.hidden) return;
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(ev.target.tagName) && ev.target.type !== "radio" && ev.target.type !== "checkbox";
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); form.requestSubmit(); return; }
    if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (/^[1-9]$/.test(ev.key)) {
      var radios = form.querySelectorAll('input[name="status"]');
      var r = radios[parseInt(ev.key, 10) - 1];
      if (r) { r.checked = true; r.focus(); ev.preventDefault(); }
    } else if (ev.key === "c" || ev.key === "C") { $("dial").click(); }
    else if (ev.key === "k" || ev.key === "K") { $("skip").click(); }
  });

  setOnline(navigator.onLine !== false);
  flushPending().then(function () { claim(); });
})();
