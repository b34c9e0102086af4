/* Call entry: the address lookup (GET /api/geocode, best match first), a map to place or
   correct the point, and a warning before a call of unknown location is saved (it goes
   to the police). Text from the server is inserted as text only. No inline script: the
   configuration is <script type="application/json" id="call-map-config">. */
(function () {
  "use strict";
  const form = document.getElementById("call-form");
  const configNode = document.getElementById("call-map-config");
  if (!form || !configNode) return;
  const config = JSON.parse(configNode.textContent);
  const t = config.t || {};
  const $ = (name) => form.querySelector(`[name="${name}"]`);
  const lat = $("lat"), lon = $("lon"), beat = $("beat"), address = $("address");
  const how = $("location_how"), label = $("location_label"), source = $("location_source"), score = $("location_score");
  const status = document.getElementById("lookup-status");
  const list = document.getElementById("matches");
  const warning = document.getElementById("unknown-location");
  const submit = form.querySelector("button[type=submit]");
  const submitWords = submit.textContent;
  let lookedUp = false;     // an address lookup ran (and found nothing usable)
  let confirmed = false;    // the call taker saw the warning and saves anyway

  // ---------------------------------------------------------------- the map
  let map = null, marker = null;
  const mapNode = document.getElementById("pick-map");
  if (mapNode && typeof L !== "undefined") {
    map = L.map(mapNode, { scrollWheelZoom: false, keyboard: true });
    if (config.tiles) {
      L.tileLayer(config.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
    }
    map.setView([0, 0], 2);
    fetch(config.areaUrl, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data) return;
        const layer = L.geoJSON(data, {
          interactive: false,
          style: () => ({ color: "#4fb3c8", weight: 1, fillOpacity: 0.08 }),
        }).addTo(map);
        const b = layer.getBounds();
        if (b.isValid() && !marker) map.fitBounds(b);
      })
      .catch(() => {});
    map.on("click", (e) => {
      setPoint(e.latlng.lat, e.latlng.lng, { how: "map" });
    });
  } else if (mapNode) {
    mapNode.hidden = true;
  }

  function showMarker(la, lo) {
    if (!map) return;
    if (marker) marker.setLatLng([la, lo]);
    else marker = L.marker([la, lo], { keyboard: false, title: t.point, alt: t.point }).addTo(map);
    map.setView([la, lo], Math.max(map.getZoom(), 16));
    mapNode.dataset.point = `${la.toFixed(6)},${lo.toFixed(6)}`;
  }

  function setPoint(la, lo, origin) {
    lat.value = la.toFixed(6);
    lon.value = lo.toFixed(6);
    how.value = origin.how || "";
    label.value = origin.label || "";
    source.value = origin.source || "";
    score.value = origin.score != null ? String(origin.score) : "";
    showMarker(la, lo);
    update();
  }

  [lat, lon].forEach((el) => el.addEventListener("change", () => {
    how.value = ""; label.value = ""; source.value = ""; score.value = "";
    const la = parseFloat(lat.value), lo = parseFloat(lon.value);
    if (Number.isFinite(la) && Number.isFinite(lo)) showMarker(la, lo);
    update();
  }));
  beat.addEventListener("input", update);

  // ---------------------------------------------------------------- the lookup
  function say(text) { status.textContent = text; }

  let pending = null, pendingQ = null;
  function lookUp() {
    const q = address.value.trim();
    if (pending && pendingQ === q) return pending;  // the change event and the button at once
    pendingQ = q;
    pending = run(q).finally(() => { pending = null; });
    return pending;
  }

  async function run(q) {
    list.replaceChildren();
    if (!q || !config.geocoder) return;
    say(t.looking);
    let r;
    try {
      r = await fetch(`${config.geocodeUrl}?q=${encodeURIComponent(q)}&limit=5`, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
    } catch (e) {
      r = null;
    }
    lookedUp = true;
    if (!r || !r.ok) {
      let detail = t.silent;
      if (r) { try { detail = (await r.json()).detail || detail; } catch (e) { /* keep */ } }
      say(detail);
      update();
      return;
    }
    const body = await r.json();
    const matches = body.matches || [];
    if (!matches.length) {
      say(t.noMatch.replace("{q}", q));
      update();
      return;
    }
    matches.forEach((m, i) => {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "match";
      b.textContent = `${m.label} (${t.score} ${m.score.toFixed(2)}, ${m.source})`;
      b.addEventListener("click", () => pick(m, b));
      li.appendChild(b);
      list.appendChild(li);
      if (i === 0) pick(m, b);
    });
    say(t.matches.replace("{n}", String(matches.length)));
  }

  function pick(m, button) {
    list.querySelectorAll("button.match").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    setPoint(m.lat, m.lon, { how: "geocoder", label: m.label, source: m.source, score: m.score });
  }

  document.getElementById("find-address").addEventListener("click", lookUp);
  address.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); lookUp(); }
  });
  address.addEventListener("change", () => { if (config.geocoder) lookUp(); });

  // ---------------------------------------------------------------- unknown location
  function unknown() {
    return !(lat.value && lon.value) && !beat.value.trim();
  }

  function update() {
    const show = unknown() && (lookedUp || confirmed || form.dataset.tried === "1");
    warning.hidden = !show;
    if (!unknown()) { confirmed = false; form.dataset.tried = ""; }
    submit.textContent = unknown() && form.dataset.tried === "1" ? t.saveUnknown : submitWords;
  }

  form.addEventListener("submit", (e) => {
    if (unknown() && form.dataset.tried !== "1") {
      e.preventDefault();
      form.dataset.tried = "1";
      update();
      warning.focus();
    }
  });
  warning.tabIndex = -1;

  // after saving, the saved call is what the call taker reads first
  const result = document.getElementById("result");
  if (result) result.focus();
  if (lat.value && lon.value) showMarker(parseFloat(lat.value), parseFloat(lon.value));
})();
