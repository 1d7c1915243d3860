/* The quality report's charts: plotly figures from the page's JSON block (never executed as
 * script, so the console's Content-Security-Policy stays script-src 'self'). */
(function () {
  "use strict";
  var block = document.getElementById("report-data");
  if (!block || typeof window.Plotly === "undefined") { return; }
  var figures = JSON.parse(block.textContent || "{}");
  var config = { displayModeBar: false, responsive: true };
  document.querySelectorAll("[data-chart]").forEach(function (node) {
    var figure = figures[node.getAttribute("data-chart")];
    if (figure) {
      window.Plotly.newPlot(node, figure.data, figure.layout, config);
    }
  });
})();
