/* HEART dispatch board: snapshot + Server-Sent Events (/live/events?scope=board). */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("board-config").textContent);
  const T = cfg.t;
  const calls = new Map();   // id -> call
  const teams = new Map();   // id -> team
  const recs = new Map();    // call id -> recommendation (from the API)
  const callMarkers = new Map();
  const teamMarkers = new Map();
  const $ = (id) => document.getElementById(id);
  const listEl = $("calls"), teamsEl = $("teams");
  let clockSkew = 0;         // server now - browser now (ms)
  const RW = cfg.routeWords || {}, SW = cfg.statusWords || {};
  const routeWord = (r) => RW[r] || (r || "").replace(/_/g, " ");
  const statusWord = (s) => SW[s] || (s || "").replace(/_/g, " ");
  const fieldRoutes = new Set(cfg.fieldRoutes || []);
  const pending = new Map();  // backup call id -> unacknowledged backup request
  const acks = new Map();     // backup call id -> {by, at}
  let selectedId = null;
  document.body.dataset.beeps = "0";
  document.body.dataset.events = "0";

  // ------------------------------------------------------------ helpers
  function csrf() {  // the cookie is HttpOnly: the page carries the token
    const m = document.querySelector("meta[name=csrf-token]");
    return m ? m.content : "";
  }
  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(url + " " + r.status);
    return r.json();
  }
  async function postJSON(url, body) {
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: JSON.stringify(body),
    });
    return { r, body: await r.json().catch(() => ({})) };
  }
  // which routes each unit serves: from the program's run card (no route names here)
  function serves(team, route) { return ((cfg.serves || {})[team.unit_key] || []).includes(route); }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  // Leaflet inserts a string tooltip as HTML: every tooltip is a node holding text
  function textNode(text, cls) { return el("span", cls || null, text == null ? "" : String(text)); }
  function teamName(id) { const t = teams.get(id); return t ? t.name : "#" + id; }
  function fmtElapsed(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const pad = (n) => String(n).padStart(2, "0");
    return (h ? h + ":" + pad(m) : m) + ":" + pad(sec);
  }
  const hhmm = (iso) => window.heartClock(iso);  // the one clock of the live pages (HEART_CLOCK)
  function fill(tpl, vals) { return tpl.replace(/\{(\w+)\}/g, (m, k) => (k in vals ? String(vals[k]) : m)); }
  function toast(text, kind) {
    const t = $("toast");
    t.textContent = text;
    t.className = "toast " + (kind || "");
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 8000);
  }

  // ------------------------------------------------------------ map
  // the map's own keyboard handling is one tab stop; outlines and markers are not (the
  // call list is the keyboard way to a call)
  const map = L.map("map", { zoomControl: true, attributionControl: !!cfg.tiles, keyboard: false });
  map.setView([35.99, -78.90], 12);
  if (cfg.tiles) {
    L.tileLayer(cfg.tiles, { maxZoom: 18, attribution: textNode(cfg.attribution || "").textContent }).addTo(map);
    document.body.dataset.basemap = "1";
  }
  getJSON("/board/areas.geojson").then((fc) => {
    const layer = L.geoJSON(fc, {
      interactive: false,
      style: (f) => ({ color: f.properties.key === "city" ? "#7aa2ff" : "#c8a2ff", weight: 2, interactive: false,
                       fillOpacity: f.properties.key === "city" ? 0.06 : 0.03, dashArray: f.properties.key === "city" ? null : "6 6" }),
    }).addTo(map);
    map.invalidateSize();
    try { map.fitBounds(layer.getBounds(), { padding: [10, 10] }); } catch (e) { /* empty */ }
  }).catch(() => {});
  const ROUTE_COLOR = { crt: "#3ddc97", co_response: "#ffd166", ccd: "#6fb7ff", standard: "#a0a7b4" };
  const STATUS_COLOR = { available: "#3ddc97", dispatched: "#ffd166", en_route: "#ffb020", on_scene: "#ff7b54",
                         transporting: "#c8a2ff", clearing: "#6fb7ff", out_of_service: "#6b7280" };

  function placeCall(c) {
    let m = callMarkers.get(c.id);
    if (c.lat == null || c.lon == null) { if (m) { m.remove(); callMarkers.delete(c.id); } return; }
    const color = c.backup ? "#ff3b3b" : (ROUTE_COLOR[c.route] || "#a0a7b4");
    if (!m) {
      m = L.circleMarker([c.lat, c.lon], { radius: c.backup ? 10 : 7, color: "#111", weight: 2, fillColor: color, fillOpacity: 0.95,
                                           className: "call-marker call-marker-" + c.id });
      m.addTo(map);
      m.on("click", () => select(c.id, { scroll: true }));
      untab(m);
      callMarkers.set(c.id, m);
    }
    m.setLatLng([c.lat, c.lon]);
    const sel = selectedId === c.id;
    m.setStyle({ fillColor: color, color: sel ? "#fff" : "#111", weight: sel ? 4 : 2 });
    if (sel) m.bringToFront();
    if (m.getElement()) m.getElement().classList.toggle("selected-marker", sel);
    const tip = textNode(`#${c.id} ${c.nature || ""} (${routeWord(c.route)})`, "call-tip");
    if (m.getTooltip()) m.setTooltipContent(tip); else m.bindTooltip(tip);
  }
  function untab(layer) {
    const e = layer.getElement && layer.getElement();
    if (e) { e.setAttribute("tabindex", "-1"); e.setAttribute("aria-hidden", "true"); e.setAttribute("focusable", "false"); }
  }
  function placeTeam(t) {
    let m = teamMarkers.get(t.id);
    if (t.lat == null || t.lon == null) return;
    const color = STATUS_COLOR[t.status] || "#fff";
    if (!m) {
      m = L.circleMarker([t.lat, t.lon], { radius: 11, color: "#fff", weight: 3, fillColor: color, fillOpacity: 1 });
      m.bindTooltip(textNode(t.name), { permanent: true, direction: "right", className: "team-label" });
      m.addTo(map);
      untab(m);
      teamMarkers.set(t.id, m);
    }
    m.setLatLng([t.lat, t.lon]);
    m.setTooltipContent(textNode(t.name));
    m.setStyle({ fillColor: color, dashArray: t.position_stale ? "3 3" : null });
  }

  // ------------------------------------------------------------ rendering
  function renderCall(c) {
    let li = document.getElementById("call-" + c.id);
    if (!li) {
      li = document.getElementById("t-call").content.firstElementChild.cloneNode(true);
      li.id = "call-" + c.id;
      li.dataset.callId = c.id;
      const id = c.id;
      li.addEventListener("click", (ev) => {
        if (ev.target.closest("button, input, select, textarea, summary, details, a")) return;
        select(id, {});
      });
      listEl.append(li);
      buildActions(li, id);
      li.classList.add("fresh");
      setTimeout(() => li.classList.remove("fresh"), 4000);
      reorderSoon();
    }
    const before = li.dataset.sortKey;
    li.dataset.route = c.route;
    li.dataset.priority = c.priority || "";
    li.classList.toggle("backup", !!c.backup);
    const pin = isPinned(c);
    li.classList.toggle("pinned", pin);
    li.classList.toggle("selected", selectedId === c.id);
    setText(li.querySelector(".num"), "#" + c.id);
    setText(li.querySelector(".route"), c.backup ? T.backupCall : routeWord(c.route));
    setText(li.querySelector(".nature"), c.nature || "");
    const prio = li.querySelector(".prio");
    setText(prio, c.priority ? "P" + c.priority : "");
    prio.dataset.p = String(c.priority || "").slice(0, 1);
    setText(li.querySelector(".addr"), c.address || (c.lat != null ? c.lat.toFixed(4) + ", " + c.lon.toFixed(4) : ""));
    const ul = li.querySelector(".reasons");
    const rkey = JSON.stringify((c.reasons || []).map((r) => r.code + ":" + r.text));
    if (ul.dataset.key !== rkey) {
      ul.dataset.key = rkey;
      // the sentence, never the code
      ul.replaceChildren(...(c.reasons || []).map((r) => { const x = el("li", null, r.text); x.dataset.code = r.code; return x; }));
    }
    const asg = li.querySelector(".assigned");
    setText(asg, c.team_id ? `${T.assigned} ${teamName(c.team_id)} · ${statusWord((teams.get(c.team_id) || {}).status)}` : "");
    if (c.ack && !acks.has(c.id)) acks.set(c.id, { by: c.ack.by, at: c.ack.at });
    const ack = acks.get(c.id);
    setText(li.querySelector(".ack-note"), ack ? fill(T.ackedBy, { by: ack.by, at: hhmm(ack.at) }) : "");
    li.querySelector(".actions").hidden = !cfg.canDispatch;
    const closeBox = li.querySelector(".close-box");
    if (closeBox) closeBox.hidden = !!c.team_id;
    li.dataset.sortKey = sortKey(c);
    if (before !== li.dataset.sortKey) reorderSoon();
    applyFilter(li, c);
    const ov = li.querySelector(".override-note");
    setText(ov, c.override ? `${c.override.action === "keep" ? T.keptBy : T.overrideBy} ${c.override.by}: ${c.override.reason}` : "");
    renderDecide(c, li);
    renderRec(c, li);
    renderOther(c, li);
    placeCall(c);
    updateTimer(li, c);
    $("call-count").textContent = calls.size + more;
  }
  function renderRec(c, li) {
    const box = li.querySelector(".rec");
    const rec0 = recs.get(c.id);
    // rebuilt only when what it shows changed: never a new button under the pointer
    const key = c.team_id || c.backup ? "" : JSON.stringify([rec0 || null, rec0 ? null : c.recommended || null]);
    if (box.dataset.key === key) return;
    // never throw away a police call sign being typed
    if (key && [...box.querySelectorAll("input.police-sign")].some((x) => x.value.trim())) return;
    box.dataset.key = key;
    box.replaceChildren();
    if (c.team_id || c.backup) return;
    const rec = rec0;
    if (!rec) {
      if (c.recommended && c.recommended.reason) box.append(el("div", "pick-reason", T.recommended + ": " + c.recommended.reason));
      return;
    }
    if (!rec.picks.length) {
      box.append(el("div", "shortfall-head", T.noTeam + ": " + rec.why_none));
    }
    rec.picks.slice(0, 3).forEach((p, i) => {
      const row = el("div", "pick" + (i === 0 ? " best" : ""));
      row.append(el("span", "pick-team", p.team));
      row.append(el("span", "pick-eta", p.eta_minutes != null ? p.eta_minutes + " " + T.min : "–"));
      if (p.stale_position) row.append(el("span", "stale", T.stale));
      if (cfg.canDispatch && rec.unit_kind === "co_response") {
        const sign = el("input", "police-sign");
        sign.maxLength = 40; sign.placeholder = T.policeUnit; sign.setAttribute("aria-label", T.policeUnit);
        sign.addEventListener("click", (ev) => ev.stopPropagation());
        sign.required = true;
        const b = el("button", "pair", T.pair + " " + p.team);
        b.type = "button";
        b.dataset.teamId = p.team_id;
        b.addEventListener("click", (ev) => { ev.stopPropagation(); pair(c.id, p.team_id, sign.value, b); });
        row.append(sign, b);
      } else if (cfg.canDispatch) {
        const b = el("button", "assign", T.assign + " " + p.team);
        b.type = "button";
        b.dataset.teamId = p.team_id;
        b.addEventListener("click", (ev) => { ev.stopPropagation(); assign(c.id, p.team_id, b); });
        row.append(b);
      }
      row.append(el("div", "pick-reason", p.reason));
      box.append(row);
    });
    if (rec.shortfalls.length) {
      const d = el("details", "shortfalls");
      d.append(el("summary", null, T.why + " (" + rec.shortfalls.length + ")"));
      const ul = el("ul");
      rec.shortfalls.forEach((s) => ul.append(el("li", null, s.reason)));
      d.append(ul);
      box.append(d);
    }
  }
  // a call re-triaged to a route its team does not serve: release, or keep with a reason
  function renderDecide(c, li) {
    const box = li.querySelector(".decide");
    const t = c.team_id && teams.get(c.team_id);
    const kept = c.override && c.override.team_id === c.team_id && c.override.route === c.route;
    if (!cfg.canDispatch || !t || serves(t, c.route) || kept) { box.replaceChildren(); return; }
    if (box.dataset.callRoute === c.route + ":" + c.team_id && box.childElementCount) return;
    box.dataset.callRoute = c.route + ":" + c.team_id;
    const reason = el("textarea", "reason");
    reason.rows = 2; reason.maxLength = 500; reason.setAttribute("aria-label", T.overrideReason);
    reason.placeholder = T.overrideReason;
    const err = el("div", "field-error");
    const keep = el("button", "keep", T.keep); keep.type = "button";
    const rel = el("button", "release", T.release); rel.type = "button";
    keep.addEventListener("click", async (ev) => {
      ev.stopPropagation(); keep.disabled = true;
      const { r, body } = await postJSON(`/api/calls/${c.id}/keep-team`, { override_reason: reason.value });
      keep.disabled = false;
      if (r.ok) { c.override = { team_id: body.team_id, route: body.route, action: body.action, by: body.by.replace(/^user:/, ""), reason: body.reason }; renderCall(c); }
      else err.textContent = body.detail || r.statusText;
    });
    rel.addEventListener("click", async (ev) => {
      ev.stopPropagation(); rel.disabled = true;
      const { r, body } = await postJSON(`/api/calls/${c.id}/release`, { note: reason.value });
      rel.disabled = false;
      if (r.ok) { c.team_id = null; renderCall(c); loadRec(c.id); } else err.textContent = body.detail || r.statusText;
    });
    reason.addEventListener("click", (ev) => ev.stopPropagation());
    box.replaceChildren(el("div", "decide-head", `${t.name} ${T.notServed} (${routeWord(c.route)})`), reason, err, rel, keep);
  }

  // any available unit, for a call its recommendation does not cover: the server's route
  // guard refuses it (409), and the dispatcher may then give an override reason
  function renderOther(c, li) {
    const box = li.querySelector(".other");
    if (!cfg.canDispatch || c.team_id || c.backup) { box.replaceChildren(); delete box.dataset.built; return; }
    const avail = [...teams.values()].filter((t) => t.status === "available" && t.on_shift);
    const key = avail.map((t) => t.id).join(",");
    if (box.dataset.built === key) return;
    const typing = box.querySelector("textarea.reason");
    if (typing && typing.value.trim()) return;  // never throw away a reason being written
    const open = box.querySelector("details") && box.querySelector("details").open;
    box.dataset.built = key;
    const d = el("details", "other-unit");
    d.open = !!open;
    d.append(el("summary", null, T.otherTeam));
    const sel = el("select", "other-team");
    sel.setAttribute("aria-label", T.chooseTeam);
    avail.forEach((t) => { const o = el("option", null, t.name); o.value = t.id; sel.append(o); });
    if (!avail.length) { d.append(el("div", "muted", T.noneAvailable)); box.replaceChildren(d); return; }
    const go = el("button", "try-assign", T.tryAssign); go.type = "button";
    const refusal = el("div", "refusal");
    const reason = el("textarea", "reason");
    reason.rows = 2; reason.maxLength = 500; reason.hidden = true;
    reason.placeholder = T.overrideReason; reason.setAttribute("aria-label", T.overrideReason);
    const err = el("div", "field-error");
    const anyway = el("button", "send-anyway", T.sendAnyway); anyway.type = "button"; anyway.hidden = true;
    [sel, reason, d].forEach((x) => x.addEventListener("click", (ev) => ev.stopPropagation()));
    go.addEventListener("click", async (ev) => {
      ev.stopPropagation(); go.disabled = true;
      const teamId = +sel.value;
      const { r, body } = await postJSON(`/api/calls/${c.id}/assign`, { team_id: teamId });
      go.disabled = false;
      if (r.ok) { assigned(c.id, teamId, body); return; }
      refusal.textContent = `${T.refused} (${r.status}): ${body.detail || r.statusText}`;
      const overridable = r.status === 409 && (body.code || "").startsWith("route_");
      reason.hidden = anyway.hidden = !overridable;
      if (overridable) reason.focus();
    });
    anyway.addEventListener("click", async (ev) => {
      ev.stopPropagation(); anyway.disabled = true;
      const teamId = +sel.value;
      const { r, body } = await postJSON(`/api/calls/${c.id}/assign`, { team_id: teamId, override_reason: reason.value });
      anyway.disabled = false;
      if (r.ok) { assigned(c.id, teamId, body); return; }
      err.textContent = body.detail || r.statusText;
    });
    d.append(sel, go, refusal, reason, err, anyway);
    box.replaceChildren(d);
  }
  function assigned(callId, teamId, body) {
    const c = calls.get(callId);
    if (c) {
      c.team_id = teamId;
      if (body && body.override) {
        const o = body.override;
        c.override = { team_id: o.team_id, route: o.route, action: o.action, by: o.by.replace(/^user:/, ""), reason: o.reason };
      }
      renderCall(c);
    }
    toast(`${T.assigned} ${teamName(teamId)} → #${callId}`, "ok");
  }

  function updateTimer(li, c) {
    const ms = Date.now() + clockSkew - Date.parse(c.received_at);
    const t = li.querySelector(".elapsed");
    t.textContent = fmtElapsed(ms);
    t.dateTime = c.received_at;
    li.classList.toggle("late", ms > 10 * 60000 && !c.team_id);
    const mins = String(Math.floor(ms / 60000));
    if (li.dataset.waitMin !== mins) { li.dataset.waitMin = mins; applyFilter(li, c); }
  }
  function renderTeam(t) {
    let li = document.getElementById("team-" + t.id);
    if (!li) {
      li = el("li", "team");
      li.id = "team-" + t.id;
      li.append(el("span", "tname"), el("span", "tstatus"), el("span", "tsince"), el("span", "tcall"), el("div", "checkin"));
      const id = t.id;
      li.addEventListener("click", (ev) => {
        if (ev.target.closest("button")) return;
        const tt = teams.get(id);
        if (tt && tt.current_call_id && calls.has(tt.current_call_id)) select(tt.current_call_id, { scroll: true });
        else if (tt && tt.lat != null) map.panTo([tt.lat, tt.lon]);
      });
      teamsEl.append(li);
    }
    li.dataset.status = t.status;
    setText(li.querySelector(".tname"), t.name);
    const word = t.kind === "co_response" && t.status === "dispatched" ? T.paired : statusWord(t.status);
    setText(li.querySelector(".tstatus"), word + (t.paired_with ? ` ${T.pairedWith} ${t.paired_with}` : "") + (t.on_shift ? "" : " · " + T.offShift));
    setText(li.querySelector(".tcall"), (t.current_call_id ? T.onCall + " #" + t.current_call_id : "") +
      (t.lat == null ? " " + T.noPosition : (t.position_stale ? " · " + T.stale : "")));
    teamTimer(li, t);
    placeTeam(t);
  }
  // a team's time in its status (amber / red past the thresholds) and, on scene long
  // enough, a check-in prompt; "Checked in" writes a note on the call and restarts it
  const checkedIn = new Map();  // team id -> ms of the last check-in
  function teamTimer(li, t) {
    const since = t.status_since ? Date.parse(t.status_since) : null;
    const box = li.querySelector(".tsince");
    if (!since || ["available", "out_of_service"].includes(t.status)) {
      setText(box, ""); li.dataset.level = ""; li.querySelector(".checkin").replaceChildren(); return;
    }
    const now = Date.now() + clockSkew;
    const min = Math.max(0, Math.floor((now - since) / 60000));
    setText(box, `${T.inStatus} ${min} ${T.min}`);
    const level = min >= cfg.statusAlertMinutes ? "alert" : (min >= cfg.statusWarnMinutes ? "warn" : "");
    if (li.dataset.level !== level) li.dataset.level = level;
    const ck = li.querySelector(".checkin");
    const last = Math.max(since, checkedIn.get(t.id) || 0);
    const due = t.status === "on_scene" && (now - last) / 60000 >= cfg.checkInMinutes;
    if (!due) { if (ck.childElementCount) ck.replaceChildren(); return; }
    const text = fill(T.checkIn, { team: t.name, min: min });
    if (ck.childElementCount) { setText(ck.firstChild, text); return; }
    const b = el("button", "checked-in", T.checkedIn); b.type = "button";
    b.addEventListener("click", async () => {
      b.disabled = true;
      const tt = teams.get(t.id);
      if (tt && tt.current_call_id) {
        const { r, body } = await postJSON(`/api/calls/${tt.current_call_id}/notes`, { text: fill(T.checkInNote, { team: tt.name }) });
        if (!r.ok) { b.disabled = false; toast(body.detail || r.statusText, "error"); return; }
      }
      checkedIn.set(t.id, Date.now() + clockSkew);
      ck.replaceChildren();
    });
    ck.replaceChildren(el("span", "checkin-text", text), b);
  }
  function removeCall(id) {
    calls.delete(id);
    recs.delete(id);
    const li = document.getElementById("call-" + id);
    if (li) li.remove();
    if (selectedId === id) selectedId = null;
    const m = callMarkers.get(id);
    if (m) { m.remove(); callMarkers.delete(id); }
    $("call-count").textContent = calls.size + more;
    countShown();
  }

  // ------------------------------------------------------------ filter, sort, select
  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
  function isPinned(c) { return !c.backup && !c.team_id && fieldRoutes.has(c.route); }
  const PRIO_MISSING = "9";
  function sortKey(c) {
    const pin = isPinned(c) ? "0" : "1";
    const sort = $("f-sort").value;
    const t = Date.parse(c.received_at) || 0;
    const newest = String(9e15 - t).padStart(16, "0"), oldest = String(t).padStart(16, "0");
    const p = String(c.priority || PRIO_MISSING).slice(0, 1);
    if (sort === "wait") return pin + oldest + c.id;
    if (sort === "priority") return pin + p + oldest;
    if (sort === "route") return pin + (c.route || "") + newest;
    // newest first, but waiting team calls oldest first (whoever waits longest goes first)
    return pin + (pin === "0" ? oldest : newest);
  }
  function matches(c) {
    const route = $("f-route").value, asg = $("f-assigned").value, prio = $("f-priority").value, wait = +$("f-wait").value;
    if (route && c.route !== route) return false;
    if (asg === "waiting" && !isPinned(c)) return false;  // a team call no team is on
    if (asg === "assigned" && !c.team_id) return false;
    if (prio && String(c.priority || "") !== prio) return false;
    if (wait && (Date.now() + clockSkew - Date.parse(c.received_at)) < wait * 60000) return false;
    return true;
  }
  function applyFilter(li, c) {
    const hide = !matches(c);
    if (li.hidden !== hide) { li.hidden = hide; countShownSoon(); }
  }
  let shownTimer = null;
  function countShownSoon() { if (!shownTimer) shownTimer = setTimeout(() => { shownTimer = null; countShown(); }, 50); }
  function countShown() {
    const shown = listEl.querySelectorAll(".call:not([hidden])").length;
    setText($("call-shown"), fill(T.shown, { shown: shown, total: calls.size }));
    document.body.dataset.shown = String(shown);
  }
  let reorderTimer = null;
  function reorderSoon() { if (!reorderTimer) reorderTimer = setTimeout(reorder, 30); }
  function reorder() {  // moves only cards out of place; no card is rebuilt
    reorderTimer = null;
    const items = [...listEl.children].sort((a, b) => (a.dataset.sortKey < b.dataset.sortKey ? -1 : a.dataset.sortKey > b.dataset.sortKey ? 1 : 0));
    items.forEach((li, i) => { if (listEl.children[i] !== li) listEl.insertBefore(li, listEl.children[i] || null); });
    countShown();
  }
  function refilter(resort) {
    for (const c of calls.values()) {
      const li = document.getElementById("call-" + c.id);
      if (!li) continue;
      if (resort) li.dataset.sortKey = sortKey(c);
      applyFilter(li, c);
    }
    if (resort) reorder(); else countShown();
  }
  ["f-route", "f-assigned", "f-priority", "f-wait"].forEach((id) => $(id).addEventListener("change", () => refilter(false)));
  $("f-sort").addEventListener("change", () => refilter(true));
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());

  function select(id, opts) {
    const prev = selectedId;
    selectedId = id;
    [prev, id].forEach((x) => {
      if (x == null) return;
      const li = document.getElementById("call-" + x);
      if (li) li.classList.toggle("selected", x === selectedId);
      if (li) li.setAttribute("aria-current", x === selectedId ? "true" : "false");
      const c = calls.get(x);
      if (c) placeCall(c);
    });
    const c = calls.get(id), li = document.getElementById("call-" + id);
    if (c && c.lat != null) map.panTo([c.lat, c.lon]);
    if (li && opts.scroll) li.scrollIntoView({ block: "nearest" });
    if (li && opts.focus) li.focus();
    document.body.dataset.selected = String(id);
  }

  // ------------------------------------------------------------ note, close (built once per card)
  function buildActions(li, id) {
    const box = li.querySelector(".actions");
    if (!cfg.canDispatch) { box.hidden = true; return; }
    const stop = (x) => x.addEventListener("click", (ev) => ev.stopPropagation());
    // a note
    const nd = el("details", "note-box");
    nd.append(el("summary", null, T.addNote));
    const nt = el("textarea", "note-text"); nt.rows = 2; nt.maxLength = 500; nt.setAttribute("aria-label", T.noteText);
    const nerr = el("div", "field-error");
    const nb = el("button", "save-note", T.saveNote); nb.type = "button";
    nb.addEventListener("click", async () => {
      nb.disabled = true;
      const { r, body } = await postJSON(`/api/calls/${id}/notes`, { text: nt.value });
      nb.disabled = false;
      if (!r.ok) { nerr.textContent = body.detail || r.statusText; return; }
      nerr.textContent = ""; nt.value = ""; nd.open = false;
      const last = li.querySelector(".last-note") || el("div", "last-note");
      last.textContent = `${T.noteText} (${body.by}, ${hhmm(body.at)}): ${body.text}`;
      if (!last.parentNode) box.before(last);
      toast(`${T.noteSaved} #${id}`, "ok");
    });
    nd.append(nt, nerr, nb);
    // close with a disposition
    const cd = el("details", "close-box");
    cd.append(el("summary", null, T.closeCall));
    const sel = el("select", "close-disposition"); sel.setAttribute("aria-label", T.disposition);
    (cfg.closeReasons || []).forEach(([k, w]) => { const o = el("option", null, w); o.value = k; sel.append(o); });
    const cn = el("textarea", "close-note"); cn.rows = 1; cn.maxLength = 300; cn.setAttribute("aria-label", T.closeNote); cn.placeholder = T.closeNote;
    const cerr = el("div", "field-error");
    const cb = el("button", "do-close", T.doClose); cb.type = "button";
    cb.addEventListener("click", async () => {
      cb.disabled = true;
      const { r, body } = await postJSON(`/api/calls/${id}/close`, { disposition: sel.value, note: cn.value });
      cb.disabled = false;
      if (!r.ok) { cerr.textContent = body.detail || r.statusText; return; }
      removeCall(id);
      toast(`${T.closed} #${id}`, "ok");
    });
    cd.append(sel, cn, cerr, cb);
    [nd, cd].forEach(stop);
    box.replaceChildren(nd, cd);
  }

  // ------------------------------------------------------------ recommendations
  async function loadRec(id) {
    const c = calls.get(id);
    if (!cfg.canDispatch || !c || c.team_id || c.backup) return;
    if (!(cfg.fieldRoutes || []).includes(c.route)) { recs.delete(id); return; }
    try {
      recs.set(id, await getJSON(`/api/calls/${id}/recommendation`));
      const li = document.getElementById("call-" + id);
      if (li && calls.has(id)) renderRec(calls.get(id), li);
    } catch (e) { /* the next event refreshes it */ }
  }
  let recTimer = null;
  function refreshRecs() {
    clearTimeout(recTimer);
    recTimer = setTimeout(() => {
      // the team calls waiting for a team (longest wait first): on a busy night the
      // police calls around them need no recommendation
      [...calls.values()].filter(isPinned)
        .sort((x, y) => Date.parse(x.received_at) - Date.parse(y.received_at))
        .slice(0, 25).forEach((c) => loadRec(c.id));
    }, 300);
  }

  async function pair(callId, teamId, sign, button) {
    button.disabled = true;
    try {
      const { r, body } = await postJSON(`/api/calls/${callId}/co-response`, { team_id: teamId, police_call_sign: sign });
      if (r.ok) assigned(callId, teamId, body);
      else toast(`${T.conflict} (${r.status}): ${body.detail || r.statusText}`, r.status === 409 ? "conflict" : "error");
    } catch (e) {
      toast(String(e), "error");
    } finally {
      button.disabled = false;
    }
  }

  async function assign(callId, teamId, button) {
    button.disabled = true;
    try {
      const { r, body } = await postJSON(`/api/calls/${callId}/assign`, { team_id: teamId });
      if (r.ok) {
        assigned(callId, teamId, body);
      } else {
        toast(`${T.conflict} (${r.status}): ${body.detail || r.statusText}`, r.status === 409 ? "conflict" : "error");
        loadRec(callId);
      }
    } catch (e) {
      toast(String(e), "error");
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------ sound and alarms
  // The button says what a press does; aria-pressed says whether sound is on now.
  let audio = null;
  let soundOn = false;
  const soundBtn = $("sound");
  function showSound() {
    soundBtn.textContent = soundOn ? T.soundTurnOff : T.soundTurnOn;
    soundBtn.setAttribute("aria-pressed", soundOn ? "true" : "false");
    document.body.dataset.sound = soundOn ? "on" : "off";
  }
  function toggleSound() {
    soundOn = !soundOn;
    try { localStorage.setItem("heart.sound", soundOn ? "on" : "off"); } catch (e) { /* private mode */ }
    if (soundOn) {
      try {
        audio = audio || new (window.AudioContext || window.webkitAudioContext)();
        audio.resume();
      } catch (e) { /* no audio device */ }
      beep(1);
    }
    showSound();
  }
  soundBtn.addEventListener("click", toggleSound);
  try { soundOn = localStorage.getItem("heart.sound") === "on"; } catch (e) { /* private mode */ }
  showSound();
  function beep(pulses) {
    document.body.dataset.beeps = String(+document.body.dataset.beeps + 1);
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const t0 = audio.currentTime + 0.02;
      for (let i = 0; i < pulses; i++) {
        const o = audio.createOscillator(), g = audio.createGain();
        o.type = "square";
        o.frequency.value = i % 2 ? 660 : 990;
        g.gain.setValueAtTime(0.0001, t0 + i * 0.35);
        g.gain.exponentialRampToValueAtTime(0.3, t0 + i * 0.35 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.35 + 0.3);
        o.connect(g).connect(audio.destination);
        o.start(t0 + i * 0.35);
        o.stop(t0 + i * 0.35 + 0.32);
      }
    } catch (e) { /* audio blocked until the sound is turned on */ }
  }
  function chime() {  // a new team call: one soft tone, counted like the beeps
    document.body.dataset.chimes = String(+(document.body.dataset.chimes || 0) + 1);
    if (soundOn) beep(2);
  }

  // Backup requests stay raised (here and on every reload: the snapshot carries the
  // unacknowledged ones) until a dispatcher acknowledges them; the acknowledgement is
  // recorded and clears the banner on every board. A re-triage alarm is this board's own.
  let alarmRepeat = null;
  let reroute = null;  // the current re-triage alarm (not recorded)
  function addBackup(b) {
    if (acks.has(b.backup_call_id)) return;
    pending.set(b.backup_call_id, b);
    showAlarm();
    if (b.lat != null) map.panTo([b.lat, b.lon]);
  }
  function backupText(b) {
    const where = b.address || T.noAddress;
    return `${teamName(b.team_id)} ${T.backupAt} ${where} · ${b.nature || ""} · #${b.call_id} → ${T.policeCall} #${b.backup_call_id} P${b.priority}`;
  }
  function raiseRerouted(p) {
    const c = calls.get(p.call_id);
    const why = c ? (c.reasons || []).filter((r) => !r.code.startsWith("route_")).map((r) => r.text).join(" ") : "";
    reroute = { call_id: p.call_id, text: `#${p.call_id}: ${teamName(p.team_id)} ${T.rerouted} ${routeWord(p.to)}. ${why}`.trim() };
    showAlarm(true);
    if (c && c.lat != null) map.panTo([c.lat, c.lon]);
  }
  function showAlarm(fresh) {
    const a = $("alarm");
    const first = pending.values().next().value;
    if (first) {
      $("alarm-title").textContent = T.backupTitle;
      $("alarm-text").textContent = backupText(first);
      a.dataset.kind = "backup";
      a.dataset.callId = first.call_id;
      a.dataset.backupCallId = first.backup_call_id;
      $("alarm-more").textContent = pending.size > 1 ? fill(T.moreAlarms, { n: pending.size - 1 }) : "";
    } else if (reroute) {
      $("alarm-title").textContent = T.reroutedTitle;
      $("alarm-text").textContent = reroute.text;
      $("alarm-more").textContent = "";
      a.dataset.kind = "rerouted";
      a.dataset.callId = reroute.call_id;
      delete a.dataset.backupCallId;
    } else {
      a.hidden = true;
      document.body.classList.remove("alarming");
      clearInterval(alarmRepeat);
      alarmRepeat = null;
      return;
    }
    const was = !a.hidden;
    a.hidden = false;
    document.body.classList.add("alarming");
    if (!was || fresh) beep(6);
    if (!alarmRepeat) alarmRepeat = setInterval(() => beep(3), 5000);  // until acknowledged
  }
  function acknowledged(a) {
    acks.set(a.backup_call_id, { by: a.by, at: a.at });
    pending.delete(a.backup_call_id);
    const c = calls.get(a.backup_call_id);
    if (c) renderCall(c);
    showAlarm();
  }
  async function ackAlarm() {
    const a = $("alarm");
    if (a.hidden) return;
    if (a.dataset.kind !== "backup") { reroute = null; showAlarm(); return; }
    const id = +a.dataset.backupCallId;
    const btn = $("alarm-ack");
    btn.disabled = true;
    try {
      const { r, body } = await postJSON(`/api/backups/${id}/ack`, {});
      if (r.ok) { acknowledged(body); toast(fill(T.ackedBy, { by: body.by, at: hhmm(body.at) }), "ok"); }
      else toast(`${T.ackFailed} (${r.status}): ${body.detail || r.statusText}`, "error");
    } catch (e) {
      toast(String(e), "error");
    } finally { btn.disabled = false; }
  }
  $("alarm-ack").addEventListener("click", ackAlarm);
  async function fetchAck(backupCallId) {
    try { acknowledged(await getJSON(`/api/backups/${backupCallId}/ack`)); } catch (e) { /* not yet */ }
  }

  // ------------------------------------------------------------ keyboard
  const help = $("help"), helpBtn = $("help-btn");
  function toggleHelp(show) {
    const open = show === undefined ? help.hidden : show;
    help.hidden = !open;
    helpBtn.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) $("help-close").focus();
  }
  helpBtn.addEventListener("click", () => toggleHelp());
  $("help-close").addEventListener("click", () => { toggleHelp(false); helpBtn.focus(); });
  function visibleCards() { return [...listEl.querySelectorAll(".call:not([hidden])")]; }
  function moveSelection(step) {
    const cards = visibleCards();
    if (!cards.length) return;
    const i = cards.findIndex((x) => +x.dataset.callId === selectedId);
    const next = cards[Math.min(cards.length - 1, Math.max(0, i < 0 ? 0 : i + step))];
    select(+next.dataset.callId, { scroll: true, focus: true });
  }
  function openOnSelected(cls, field) {
    const li = selectedId != null && document.getElementById("call-" + selectedId);
    if (!li) return;
    const d = li.querySelector("details." + cls);
    if (!d || d.hidden) return;
    d.open = true;
    li.scrollIntoView({ block: "nearest" });
    d.querySelector(field).focus();
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape") { if (!help.hidden) { toggleHelp(false); helpBtn.focus(); } return; }
    if (ev.target.closest("input, textarea, select, [contenteditable]")) return;
    const k = ev.key;
    const acts = {
      "?": () => toggleHelp(),
      j: () => moveSelection(1),
      k: () => moveSelection(-1),
      a: () => { const b = selectedId != null && document.querySelector(`#call-${selectedId} .pick.best button.assign`); if (b) b.click(); },
      n: () => openOnSelected("note-box", "textarea"),
      c: () => openOnSelected("close-box", "select"),
      f: () => $("f-route").focus(),
      b: () => ackAlarm(),
      s: () => toggleSound(),
    };
    if (acts[k]) { ev.preventDefault(); acts[k](); }
  });

  // ------------------------------------------------------------ data
  async function fetchCall(id, extra) {
    try {
      const d = await getJSON(`/api/calls/${id}`);
      const c = Object.assign(calls.get(id) || {}, {
        id: d.id, received_at: d.received_at, nature: d.nature, priority: d.priority,
        route: d.route, reasons: d.reasons, lon: d.lon, lat: d.lat, address: d.address,
        parent_id: d.parent_id, backup: !!d.parent_id && d.route === "standard" && d.priority === "1",
      }, extra || {});
      if (d.state !== "open") { removeCall(id); return; }
      calls.set(id, c);
      renderCall(c);
    } catch (e) { /* gone or not visible */ }
  }
  // The snapshot is tagged with the stream position it reflects (seq); the stream is
  // opened from there and replays what came after, every frame numbered (ev.lastEventId).
  let snapSeq = 0, lastSeq = 0, nextCursor = null, more = 0;
  let snapBackups = new Set();
  let current = null;  // the sequence number of the event being handled (null: live only)
  // an event the snapshot already reflects (a replay overlaps the snapshot by a few
  // seconds, heart.live.store.REPLAY_SLACK): update the data, raise no alarm or sound
  const old = () => current !== null && current <= snapSeq;
  const seenSeqs = new Set();
  function showMore() {
    const b = $("calls-more");
    b.hidden = !(more > 0 && nextCursor);
    b.textContent = T.more.replace("{n}", String(more));
    $("call-count").textContent = calls.size + more;
  }
  async function countMore() {
    if (!nextCursor) { more = 0; showMore(); return; }
    try { more = (await getJSON("/board/state?after=" + encodeURIComponent(nextCursor))).more; } catch (e) { /* next time */ }
    showMore();
  }
  async function loadMore() {
    if (!nextCursor) return;
    const b = $("calls-more");
    b.disabled = true;
    try {
      const s = await getJSON("/board/state?cursor=" + encodeURIComponent(nextCursor));
      s.calls.forEach((c) => { if (!calls.has(c.id)) { calls.set(c.id, c); renderCall(c); } });
      nextCursor = s.next_cursor;
      await countMore();
    } catch (e) { toast(String(e), "error"); } finally { b.disabled = false; }
  }
  $("calls-more").addEventListener("click", loadMore);
  async function loadSnapshot() {
    const s = await getJSON("/board/state");
    clockSkew = Date.parse(s.now) - Date.now();
    snapSeq = s.seq;
    teams.clear();
    s.teams.forEach((t) => { teams.set(t.id, t); renderTeam(t); });
    const seen = new Set();
    pending.clear();
    (s.backups || []).forEach((b) => pending.set(b.backup_call_id, b));
    [...s.calls, ...(s.waiting || [])].forEach((c) => { seen.add(c.id); calls.set(c.id, c); renderCall(c); });
    snapBackups = new Set(pending.keys());
    showAlarm();
    [...calls.keys()].filter((id) => !seen.has(id)).forEach(removeCall);
    nextCursor = s.next_cursor;
    more = Math.max(0, s.total - s.calls.length - (s.waiting || []).length);
    showMore();
    refreshRecs();
    return s.seq;
  }

  const handlers = {
    "call.received": (p) => {
      const c = Object.assign(calls.get(p.call_id) || { reasons: [], address: "" }, {
        id: p.call_id, route: p.route, priority: p.priority, nature: p.nature, lon: p.lon, lat: p.lat,
        received_at: p.received_at, recommended: p.recommended,
      });
      const isNew = !calls.has(c.id);
      calls.set(c.id, c);
      renderCall(c);
      fetchCall(c.id);
      loadRec(c.id);
      if (isNew && fieldRoutes.has(c.route) && !old()) chime();
    },
    "call.updated": (p) => handlers["call.received"](p),
    "call.closed": (p) => { removeCall(p.call_id); refreshRecs(); },
    "ccd.outcome": (p) => { if (p.state === "closed") removeCall(p.call_id); else fetchCall(p.call_id).then(() => loadRec(p.call_id)); },
    "assignment.created": (p) => {
      const c = calls.get(p.call_id);
      if (c) { c.team_id = p.team_id; renderCall(c); }
    },
    "team.status": (p) => {
      const t = teams.get(p.team_id);
      const off = ["available", "out_of_service"].includes(p.status);
      if (t) {
        if (t.status !== p.status) t.status_since = p.at || new Date(Date.now() + clockSkew).toISOString();
        t.status = p.status;
        t.current_call_id = off ? null : (p.call_id || t.current_call_id);
        if (off) t.paired_with = null;
        renderTeam(t);
      } else {
        loadSnapshot();
      }
      const c = p.call_id && calls.get(p.call_id);
      if (c) {
        if (off && c.team_id === p.team_id) c.team_id = null;  // released: the call stays open
        renderCall(c);
      }
      [...calls.values()].filter((x) => !x.team_id).forEach((x) => { const li = document.getElementById("call-" + x.id); if (li) renderOther(x, li); });
      refreshRecs();
    },
    "dispatch.override": async (p) => {
      try {
        const list = await getJSON(`/api/calls/${p.call_id}/overrides`);
        const c = calls.get(p.call_id);
        const o = list[list.length - 1];
        if (c && o) {
          c.override = { team_id: o.team_id, route: o.route, action: o.action, by: o.by.replace(/^user:/, ""), reason: o.reason };
          renderCall(c);
        }
      } catch (e) { /* not visible */ }
    },
    "avl.positions": (p) => {
      const t = teams.get(p.team_id);
      if (t) { t.lon = p.lon; t.lat = p.lat; t.position_at = p.at; t.position_stale = false; renderTeam(t); }
    },
    "backup.requested": async (p) => {
      const quiet = old();
      const fresh = !quiet || !snapBackups.has(p.backup_call_id);
      await fetchCall(p.backup_call_id, { backup: true });
      const bc = calls.get(p.backup_call_id);
      if (!bc || acks.has(p.backup_call_id)) return;  // closed or already seen
      const b = { backup_call_id: p.backup_call_id, call_id: p.call_id, team_id: p.team_id, priority: p.priority,
                  nature: p.nature || "", address: bc.address || "", lon: p.lon, lat: p.lat, at: p.at };
      if (!quiet) { addBackup(b); return; }
      // from the replay's overlap: raised only if the snapshot missed it and nobody saw it
      if (fresh && !pending.has(b.backup_call_id)) {
        try { await getJSON(`/api/backups/${b.backup_call_id}/ack`); } catch (e) { addBackup(b); }
      }
    },
    "backup.acknowledged": (p) => {
      if (!pending.has(p.backup_call_id) && !calls.has(p.backup_call_id)) { acks.set(p.backup_call_id, { by: "", at: p.at }); }
      fetchAck(p.backup_call_id);
    },
    "call.rerouted": async (p) => {
      const quiet = old();
      await fetchCall(p.call_id);
      if (!quiet) raiseRerouted(p);
    },
    "co_response.paired": (p) => {
      const t = teams.get(p.team_id);
      if (t) { t.paired_with = p.police_unit; renderTeam(t); }
      fetchCall(p.call_id, { team_id: p.team_id });
    },
  };

  let es = null;
  function connect(after) {
    const conn = $("conn");
    if (es) es.close();
    es = new EventSource("/live/events?scope=board&after=" + after);
    es.onopen = () => { conn.dataset.state = "live"; conn.textContent = T.live; };
    es.onerror = () => {
      conn.dataset.state = "offline";
      conn.textContent = T.offline;
      // an answer other than a stream (e.g. 503 while the database restarts) ends
      // EventSource's own retries: reconnect from the last event we have
      if (es.readyState === EventSource.CLOSED) setTimeout(() => connect(lastSeq), 2000);
    };
    es.addEventListener("reset", () => {  // too far behind for a replay: start over
      loadSnapshot().then((seq) => { lastSeq = seq; connect(seq); }).catch(() => setTimeout(() => connect(lastSeq), 2000));
    });
    Object.keys(handlers).forEach((name) => es.addEventListener(name, (ev) => {
      const seq = ev.lastEventId ? +ev.lastEventId : null;
      if (seq !== null) {
        if (seenSeqs.has(seq)) return;  // a replay overlapping what we have
        seenSeqs.add(seq);
        if (seenSeqs.size > 20000) seenSeqs.delete(seenSeqs.values().next().value);
        lastSeq = Math.max(lastSeq, seq);
        document.body.dataset.seq = String(lastSeq);
      }
      document.body.dataset.events = String(+document.body.dataset.events + 1);
      current = seq;
      try { handlers[name](JSON.parse(ev.data)); } catch (e) { console.error(name, e); } finally { current = null; }
    }));
  }

  setInterval(() => {
    for (const c of calls.values()) {
      const li = document.getElementById("call-" + c.id);
      if (li) updateTimer(li, c);
    }
    for (const t of teams.values()) {
      const li = document.getElementById("team-" + t.id);
      if (li) teamTimer(li, t);
    }
    $("clock").textContent = window.heartClock(Date.now() + clockSkew, true);
  }, 1000);

  setInterval(countMore, 30000);  // older calls closed meanwhile: keep "N more" honest
  loadSnapshot()
    .then((seq) => { lastSeq = seq; connect(seq); })
    .catch(() => connect(0));
})();
