/* Responder phone: status taps that survive a lost network (a queue on the phone, replayed
   with each tap's own idempotency key), GPS fixes queued the same way, confirmations for
   backup and cancel, errors focused beside their fields, the mini map, live reload on the
   team's own events, and the service worker that keeps the page open offline. */
(function () {
  "use strict";
  const root = document.getElementById("responder");
  const $ = (id) => document.getElementById(id);
  const csrf = () => (document.querySelector("meta[name=csrf-token]") || {}).content || "";

  // ---------------------------------------------------------------- confirmations
  document.querySelectorAll("form[data-confirm]").forEach((f) => f.addEventListener("submit", (ev) => {
    if (!window.confirm(f.dataset.confirm)) { ev.preventDefault(); ev.stopImmediatePropagation(); }
  }));

  // ---------------------------------------------------------------- errors beside fields
  const bad = document.querySelector("#clear-form [aria-invalid=true], #clear-form .has-error input, #error");
  if (bad) {
    bad.scrollIntoView({ block: "center" });
    bad.focus({ preventScroll: true });
  }

  // ---------------------------------------------------------------- the mini map
  const mm = $("minimap");
  if (mm && window.L) {
    const call = [parseFloat(mm.dataset.lat), parseFloat(mm.dataset.lon)];
    const map = L.map(mm, { attributionControl: !!mm.dataset.tiles, zoomControl: true, keyboard: false }).setView(call, 15);
    if (mm.dataset.tiles) {
      L.tileLayer(mm.dataset.tiles, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
    } else {
      mm.classList.add("no-tiles");  // no base map configured: outlines + a grid to read distance
      fetch("/board/areas.geojson", { credentials: "same-origin" }).then((r) => r.json()).then((fc) =>
        L.geoJSON(fc, { interactive: false, style: { color: "#7aa2ff", weight: 2, fillOpacity: 0.05 } }).addTo(map)).catch(() => {});
    }
    L.circleMarker(call, { radius: 11, color: "#fff", weight: 3, fillColor: "#ff7b54", fillOpacity: 1, interactive: false }).addTo(map);
    if (mm.dataset.teamLat && mm.dataset.teamLon) {
      const team = [parseFloat(mm.dataset.teamLat), parseFloat(mm.dataset.teamLon)];
      L.circleMarker(team, { radius: 8, color: "#fff", weight: 2, fillColor: "#3fb950", fillOpacity: 1, interactive: false }).addTo(map);
      map.fitBounds(L.latLngBounds([call, team]).pad(0.3), { maxZoom: 16 });
    }
  }

  // ---------------------------------------------------------------- service worker
  if ("serviceWorker" in navigator && root && root.dataset.worker) {
    navigator.serviceWorker.register(root.dataset.worker, { scope: "/responder/" }).catch(() => {});
  }
  if (!root || !root.dataset.teamId) return;

  // ---------------------------------------------------------------- the tap queue
  const QKEY = "heart.taps." + root.dataset.teamId;
  const FKEY = "heart.fixes." + root.dataset.teamId;
  const load = (k) => { try { return JSON.parse(localStorage.getItem(k) || "[]"); } catch (e) { return []; } };
  const save = (k, v) => localStorage.setItem(k, JSON.stringify(v));
  const newKey = () => (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
    : Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  let flushing = false;
  let changed = false;

  function render() {
    const q = load(QKEY);
    const box = $("queue-state");
    box.hidden = q.length === 0;
    document.body.classList.toggle("has-queue", q.length > 0);
    const list = $("queue-list");
    list.replaceChildren(...q.map((t) => {
      const li = document.createElement("li");
      li.textContent = t.label + " · " + window.heartClock(t.at);
      return li;
    }));
    $("queue-text").textContent = navigator.onLine ? box.dataset.sending : box.dataset.offline;
  }

  function showError(text) {
    const e = $("tap-error");
    e.textContent = text;
    e.hidden = false;
    e.scrollIntoView({ block: "center" });
    e.focus({ preventScroll: true });
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      for (;;) {
        const q = load(QKEY);
        if (!q.length) break;
        const tap = q[0];
        const body = new FormData();
        body.append("status", tap.status);
        body.append("idempotency_key", tap.key);
        body.append("csrfmiddlewaretoken", csrf());
        let r;
        try {
          r = await fetch(root.dataset.statusUrl, { method: "POST", credentials: "same-origin", body,
            headers: { Accept: "application/json", "X-CSRFToken": csrf() } });
        } catch (e) {
          break;  // offline: keep the tap, try again when the network returns
        }
        if (r.status >= 500 || r.status === 408 || r.status === 429) break;  // try again later
        let data = {};
        try { data = await r.json(); } catch (e) { data = { detail: "the server refused the tap (" + r.status + ")" }; }
        save(QKEY, load(QKEY).filter((t) => t.key !== tap.key));
        if (r.ok) {
          changed = true;
          $("status-now").textContent = data.label || data.status;
          root.dataset.status = data.status;
        } else {
          // refused (e.g. dispatch moved the team meanwhile): say so, then show the truth
          sessionStorage.setItem("heart.tapError", tap.label + ": " + (data.detail || r.status));
          changed = true;
        }
      }
    } finally {
      flushing = false;
      render();
    }
    if (!load(QKEY).length && changed) {
      changed = false;
      location.reload();  // the buttons of the new status
    }
  }

  // after a tap the phone could not send yet, show where the crew will be and the next
  // big button from that status (the plan comes from the server's own table)
  const planEl = $("phone-plan");
  const plan = planEl ? JSON.parse(planEl.textContent) : {};
  function showPending(status) {
    const step = plan[status];
    if (!step) return;
    const box = $("queue-state");
    $("status-now").textContent = step.label + " (" + box.dataset.pending + ")";
    document.querySelectorAll(".minor-moves").forEach((m) => { m.hidden = true; });
    const next = $("next-btn");
    if (!next) return;
    if (step.primary && step.primary !== "clear") {
      next.value = step.primary;
      next.dataset.status = step.primary;
      next.textContent = step.primaryLabel;
      next.disabled = false;
    } else {
      next.textContent = step.primary === "clear" ? box.dataset.clearOffline : "";
      next.disabled = true;
      if (!step.primary) next.closest("#thumb-bar").hidden = true;
    }
  }

  document.querySelectorAll("form.status-form").forEach((f) => f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const btn = f.querySelector("button[name=status]");
    if (btn.disabled) return;
    const q = load(QKEY);
    q.push({ key: newKey(), status: btn.value, label: btn.textContent.trim(), at: new Date().toISOString() });
    save(QKEY, q);
    btn.disabled = true;
    render();
    flush().then(() => { if (load(QKEY).length) showPending(btn.value); });
  }));
  const earlier = sessionStorage.getItem("heart.tapError");
  if (earlier) { sessionStorage.removeItem("heart.tapError"); showError(earlier); }
  const queued = load(QKEY);
  if (queued.length) showPending(queued[queued.length - 1].status);
  window.addEventListener("online", () => { render(); flush(); flushFixes(); });
  window.addEventListener("offline", render);
  setInterval(() => { flush(); }, 15000);
  render();
  flush();

  // ---------------------------------------------------------------- live updates
  let es = new EventSource("/live/events?scope=team");
  let timer = null;
  ["assignment.created", "team.status", "call.closed", "call.rerouted", "dispatch.override"].forEach((n) => es.addEventListener(n, (ev) => {
    const p = JSON.parse(ev.data);
    if (p.status && p.status === root.dataset.status) return;  // our own change, already shown
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!document.querySelector("form:focus-within") && !load(QKEY).length) location.reload();
    }, 300);
  }));

  // ---------------------------------------------------------------- GPS fixes (queued too)
  function flushFixes() {
    const batch = load(FKEY).slice(0, 200);
    if (!batch.length || !navigator.onLine) return;
    fetch("/api/avl", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ fixes: batch }) }).then((r) => {
      // sent (or refused for good): drop them; the server ignores a fix it already has
      if (r.ok || (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429)) {
        const sent = new Set(batch.map((f) => f.recorded_at));
        save(FKEY, load(FKEY).filter((f) => !sent.has(f.recorded_at)));
      }
    }).catch(() => {});
  }
  if (!navigator.geolocation) return;
  navigator.geolocation.watchPosition((pos) => {
    const fixes = load(FKEY);
    fixes.push({ lon: pos.coords.longitude, lat: pos.coords.latitude,
      recorded_at: new Date(pos.timestamp).toISOString(),
      accuracy_m: pos.coords.accuracy ?? null, speed_mps: pos.coords.speed ?? null,
      heading_deg: Number.isFinite(pos.coords.heading) ? pos.coords.heading : null });
    save(FKEY, fixes.slice(-1000));  // the newest 1000 fixes at most
  }, () => {}, { enableHighAccuracy: true, maximumAge: 5000 });
  setInterval(flushFixes, 10000);
  flushFixes();  // fixes kept from before a reload
})();
