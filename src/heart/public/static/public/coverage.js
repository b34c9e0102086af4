// The coverage map: the service area in force on the page's date (GeoJSON outlines) and
// a click (or "use my location") that fills the coordinates and submits the check.
// No inline script: configuration comes from <script type="application/json" id="map-config">.
(function () {
  "use strict";
  var configNode = document.getElementById("map-config");
  var form = document.querySelector(".check-form");
  if (!configNode || !form) { return; }
  var config = JSON.parse(configNode.textContent);
  var lat = form.querySelector("input[name=lat]");
  var lon = form.querySelector("input[name=lon]");

  function check(latitude, longitude) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    var address = form.querySelector("input[name=address]");
    if (address) { address.value = ""; }
    form.submit();
  }

  var locate = document.getElementById("use-location");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        check(pos.coords.latitude, pos.coords.longitude);
      });
    });
  }

  var mapNode = document.getElementById("map");
  if (!mapNode || typeof L === "undefined") { if (mapNode) { mapNode.hidden = true; } return; }
  var map = L.map(mapNode, { scrollWheelZoom: false });
  if (config.tiles) {
    L.tileLayer(config.tiles, { maxZoom: 18, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  }
  fetch(config.areaUrl, { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var layer = L.geoJSON(data, {
        style: function (f) {
          return f.properties.service === "team"
            ? { color: "#00566b", weight: 2, fillOpacity: 0.25 }
            : { color: "#6b6b6b", weight: 1, dashArray: "4 4", fillOpacity: 0.05 };
        }
      }).addTo(map);
      var bounds = layer.getBounds();
      if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([0, 0], 2); }
    });
  map.on("click", function (e) { check(e.latlng.lat, e.latlng.lng); });
  if (lat.value && lon.value) {
    L.circleMarker([parseFloat(lat.value), parseFloat(lon.value)], { radius: 7, color: "#b35c00" })
      .bindTooltip(config.labels.pick).addTo(map);
  }
})();
