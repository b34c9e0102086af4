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
  function toast(text, kind) {
    const t = $("toast");
    t.textContent = text;
    t.className = "toast " + (kind || "");
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 8000);
  }

  // ------------------------------------------------------------ map
  const map = L.map("map", { zoomControl: true, attributionControl: !!cfg.tiles });
  map.setView([35.99, -78.90], 12);
  if (cfg.tiles) L.tileLayer(cfg.tiles, { maxZoom: 18, attribution: "© OpenStreetMap" }).addTo(map);
  getJSON("/board/areas.geojson").then((fc) => {
    const layer = L.geoJSON(fc, {
      style: (f) => ({ color: f.properties.key === "city" ? "#7aa2ff" : "#c8a2ff", weight: 2,
                       fillOpacity: f.properties.key === "city" ? 0.06 : 0.03, dashArray: f.properties.key === "city" ? null : "6 6" }),
      onEachFeature: (f, l) => l.bindTooltip(textNode(f.properties.label || f.properties.key)),
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
      m = L.circleMarker([c.lat, c.lon], { radius: c.backup ? 10 : 7, color: "#111", weight: 2, fillColor: color, fillOpacity: 0.95 });
      m.addTo(map);
      callMarkers.set(c.id, m);
    }
    m.setLatLng([c.lat, c.lon]);
    m.setStyle({ fillColor: color });
    const tip = textNode(`#${c.id} ${c.nature || ""} (${c.route})`, "call-tip");
    if (m.getTooltip()) m.setTooltipContent(tip); else m.bindTooltip(tip);
  }
  function placeTeam(t) {
    let m = teamMarkers.get(t.id);
    if (t.lat == null || t.lon == null) return;
    const color = STATUS_COLOR[t.status] || "#fff";
    if (!m) {
      m = L.circleMarker([t.lat, t.lon], { radius: 11, color: "#fff", weight: 3, fillColor: color, fillOpacity: 1 });
      m.bindTooltip(textNode(t.name), { permanent: true, direction: "right", className: "team-label" });
      m.addTo(map);
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
      li.addEventListener("click", () => { if (c.lat != null) map.panTo([c.lat, c.lon]); });
      // newest first
      const after = [...listEl.children].find((x) => calls.get(+x.dataset.callId) &&
        calls.get(+x.dataset.callId).received_at < c.received_at);
      listEl.insertBefore(li, after || null);
      li.classList.add("fresh");
      setTimeout(() => li.classList.remove("fresh"), 4000);
    }
    li.dataset.route = c.route;
    li.classList.toggle("backup", !!c.backup);
    li.querySelector(".route").textContent = c.backup ? T.backupCall : c.route;
    li.querySelector(".nature").textContent = c.nature || "";
    li.querySelector(".prio").textContent = c.priority ? "P" + c.priority : "";
    li.querySelector(".addr").textContent = c.address || (c.lat != null ? c.lat.toFixed(4) + ", " + c.lon.toFixed(4) : "");
    const ul = li.querySelector(".reasons");
    ul.replaceChildren(...(c.reasons || []).map((r) => { const x = el("li", null, r.text); x.title = r.code; x.dataset.code = r.code; return x; }));
    const asg = li.querySelector(".assigned");
    asg.textContent = c.team_id ? `${T.assigned} ${teamName(c.team_id)} · ${(teams.get(c.team_id) || {}).status || ""}`.replace(/_/g, " ") : "";
    const ov = li.querySelector(".override-note");
    ov.textContent = c.override ? `${c.override.action === "keep" ? T.keptBy : T.overrideBy} ${c.override.by}: ${c.override.reason}` : "";
    renderDecide(c, li);
    renderRec(c, li);
    renderOther(c, li);
    placeCall(c);
    updateTimer(li, c);
    $("call-count").textContent = calls.size + more;
  }
  function renderRec(c, li) {
    const box = li.querySelector(".rec");
    box.replaceChildren();
    if (c.team_id || c.backup) return;
    const rec = recs.get(c.id);
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
    box.replaceChildren(el("div", "decide-head", `${t.name} ${T.notServed} (${c.route})`), reason, err, rel, keep);
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
  }
  function renderTeam(t) {
    let li = document.getElementById("team-" + t.id);
    if (!li) {
      li = el("li", "team");
      li.id = "team-" + t.id;
      li.append(el("span", "tname"), el("span", "tstatus"), el("span", "tcall"));
      li.addEventListener("click", () => { if (t.lat != null) map.panTo([t.lat, t.lon]); });
      teamsEl.append(li);
    }
    li.dataset.status = t.status;
    li.querySelector(".tname").textContent = t.name;
    const word = t.kind === "co_response" && t.status === "dispatched" ? T.paired : t.status.replace(/_/g, " ");
    li.querySelector(".tstatus").textContent = word + (t.paired_with ? ` ${T.pairedWith} ${t.paired_with}` : "") + (t.on_shift ? "" : " · off shift");
    li.querySelector(".tcall").textContent = (t.current_call_id ? T.onCall + " #" + t.current_call_id : "") +
      (t.lat == null ? " " + T.noPosition : (t.position_stale ? " · " + T.stale : ""));
    placeTeam(t);
  }
  function removeCall(id) {
    calls.delete(id);
    recs.delete(id);
    const li = document.getElementById("call-" + id);
    if (li) li.remove();
    const m = callMarkers.get(id);
    if (m) { m.remove(); callMarkers.delete(id); }
    $("call-count").textContent = calls.size + more;
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
      [...calls.values()].filter((c) => !c.team_id).slice(0, 25).forEach((c) => loadRec(c.id));
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

  // ------------------------------------------------------------ alarm
  let audio = null;
  const soundBtn = $("sound");
  soundBtn.addEventListener("click", () => {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      audio.resume();
      soundBtn.textContent = T.soundIsOn;
      soundBtn.setAttribute("aria-pressed", "true");
      beep(1);
    } catch (e) { /* no audio device */ }
  });
  function beep(pulses) {
    document.body.dataset.beeps = String(+document.body.dataset.beeps + 1);
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
    } catch (e) { /* audio blocked until "Sound on" is pressed */ }
  }
  let alarmRepeat = null;
  function raiseAlarm(p) {
    showAlarm(T.backupTitle, `${T.backup} ${teamName(p.team_id)} · #${p.call_id} → P${p.priority} #${p.backup_call_id}`, p);
  }
  function raiseRerouted(p) {
    const why = (p.reasons || []).filter((r) => !r.startsWith("route_")).join(", ");
    showAlarm(T.reroutedTitle, `#${p.call_id}: ${teamName(p.team_id)} ${T.rerouted} ${p.to} (${why})`, p);
  }
  function showAlarm(title, text, p) {
    const a = $("alarm");
    $("alarm-title").textContent = title;
    $("alarm-text").textContent = text;
    a.hidden = false;
    a.dataset.callId = p.call_id;
    document.body.classList.add("alarming");
    beep(6);
    clearInterval(alarmRepeat);
    alarmRepeat = setInterval(() => beep(3), 5000);  // until acknowledged
    if (p.lat != null) map.panTo([p.lat, p.lon]);
  }
  $("alarm-ack").addEventListener("click", () => {
    $("alarm").hidden = true;
    document.body.classList.remove("alarming");
    clearInterval(alarmRepeat);
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
    s.calls.forEach((c) => { seen.add(c.id); calls.set(c.id, c); renderCall(c); });
    [...calls.keys()].filter((id) => !seen.has(id)).forEach(removeCall);
    nextCursor = s.next_cursor;
    more = s.total - s.calls.length;
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
      calls.set(c.id, c);
      renderCall(c);
      fetchCall(c.id);
      loadRec(c.id);
    },
    "call.updated": (p) => handlers["call.received"](p),
    "call.rerouted": (p) => fetchCall(p.call_id),
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
    "backup.requested": (p) => { raiseAlarm(p); fetchCall(p.backup_call_id, { backup: true }); },
    "call.rerouted": (p) => { raiseRerouted(p); fetchCall(p.call_id); },
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
      try { handlers[name](JSON.parse(ev.data)); } catch (e) { console.error(name, e); }
    }));
  }

  setInterval(() => {
    for (const c of calls.values()) {
      const li = document.getElementById("call-" + c.id);
      if (li) updateTimer(li, c);
    }
    $("clock").textContent = window.heartClock(Date.now() + clockSkew, true);
  }, 1000);

  setInterval(countMore, 30000);  // older calls closed meanwhile: keep "N more" honest
  loadSnapshot()
    .then((seq) => { lastSeq = seq; connect(seq); })
    .catch(() => connect(0));
})();
