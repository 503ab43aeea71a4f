// The dashboard's interactive map, only when a tile server is configured (TIEPDAN_MAP_TILES_URL): the
// same cells as the static map, as rectangles over the tiles. Reads its data from the element's data-*
// attributes; the page works without it.
(function () {
  "use strict";
  var element = document.getElementById("tile-map");
  if (!element || typeof L === "undefined") {
    return;
  }
  var cells = JSON.parse(element.getAttribute("data-cells") || "[]");
  if (!cells.length) {
    return;
  }
  element.hidden = false;
  var map = L.map(element, { scrollWheelZoom: false });
  L.tileLayer(element.getAttribute("data-tiles"), {
    maxZoom: 19,
    attribution: element.getAttribute("data-attribution") || ""
  }).addTo(map);
  var most = Math.max.apply(null, cells.map(function (c) { return c[4]; }));
  var bounds = [];
  cells.forEach(function (c) {
    var box = [[c[0], c[1]], [c[2], c[3]]];
    bounds.push(box[0], box[1]);
    L.rectangle(box, { color: "#c0392b", weight: 1, fillOpacity: 0.25 + 0.6 * c[4] / most })
      .bindTooltip(String(c[4]))
      .addTo(map);
  });
  map.fitBounds(bounds, { padding: [20, 20] });
})();
