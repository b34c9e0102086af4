/* Responder page: confirm backup, mini map, live reload on own-team events, GPS posts. */
(function () {
  "use strict";
  const root = document.getElementById("responder");
  const form = document.getElementById("backup-form");
  if (form) form.addEventListener("submit", (ev) => {
    if (!window.confirm(form.dataset.confirm)) ev.preventDefault();
  });
  const mm = document.getElementById("minimap");
  if (mm && window.L) {
    const ll = [parseFloat(mm.dataset.lat), parseFloat(mm.dataset.lon)];
    const map = L.map(mm, { attributionControl: false, zoomControl: false }).setView(ll, 15);
    fetch("/board/areas.geojson", { credentials: "same-origin" }).then((r) => r.json()).then((fc) =>
      L.geoJSON(fc, { style: { color: "#7aa2ff", weight: 2, fillOpacity: 0.05 } }).addTo(map)).catch(() => {});
    L.circleMarker(ll, { radius: 12, color: "#fff", weight: 3, fillColor: "#ff7b54", fillOpacity: 1 }).addTo(map);
  }
  if (!root || !root.dataset.teamId) return;
  // the dispatcher assigns us, or someone else changes our status: reload the page
  let es = new EventSource("/live/events?scope=team");
  let timer = null;
  ["assignment.created", "team.status", "call.closed", "call.rerouted", "dispatch.override"].forEach((n) => es.addEventListener(n, (ev) => {
    const p = JSON.parse(ev.data);
    if (p.status && p.status === root.dataset.status) return;  // our own change, already shown
    clearTimeout(timer);
    timer = setTimeout(() => { if (!document.querySelector("form:focus-within")) location.reload(); }, 300);
  }));
  // device GPS -> POST /api/avl in small batches (only when the browser allows it)
  if (!navigator.geolocation) return;
  const fixes = [];
  const csrf = () => (document.querySelector("meta[name=csrf-token]") || {}).content || "";
  navigator.geolocation.watchPosition((pos) => {
    fixes.push({ lon: pos.coords.longitude, lat: pos.coords.latitude,
      recorded_at: new Date(pos.timestamp).toISOString(),
      accuracy_m: pos.coords.accuracy ?? null, speed_mps: pos.coords.speed ?? null,
      heading_deg: Number.isFinite(pos.coords.heading) ? pos.coords.heading : null });
  }, () => {}, { enableHighAccuracy: true, maximumAge: 5000 });
  setInterval(() => {
    if (!fixes.length) return;
    const batch = fixes.splice(0, fixes.length);
    fetch("/api/avl", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ fixes: batch }) }).catch(() => {});
  }, 10000);
})();
