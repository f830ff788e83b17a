/* Draws the managers' dashboard from the numbers the page already shows (json_script). */
(function () {
  "use strict";
  var source = document.getElementById("rb-dashboard-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var palette = ["#1f5fa8", "#b3261e", "#1e7d32", "#8a5a00", "#6a3fa0", "#00796b", "#c2185b", "#4a4f55"];
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  Chart.defaults.color = dark ? "#cfd3d8" : "#333";
  Chart.defaults.borderColor = dark ? "#444" : "#ddd";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  function sets(list, type) {
    return list.map(function (item, i) {
      var colour = palette[i % palette.length];
      return { label: item.label, data: item.data, backgroundColor: colour, borderColor: colour, type: type };
    });
  }

  var builders = {
    open: function () {
      return { type: "bar", data: { labels: data.states, datasets: sets(data.open) },
        options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } } };
    },
    flow: function () {
      return { type: "line", data: { labels: data.weeks, datasets: sets([
        { label: "Opened", data: data.opened }, { label: "Closed", data: data.closed },
        { label: "Statutory overrides", data: data.statutory }]) },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } };
    },
    money: function () {
      var approved = data.approved.map(function (s) { return { label: "Approved " + s.label, data: s.data }; });
      var paid = data.paid.map(function (s) { return { label: "Paid " + s.label, data: s.data }; });
      return { type: "bar", data: { labels: data.weeks, datasets: sets(approved.concat(paid)) },
        options: { scales: { y: { beginAtZero: true } } } };
    },
    reasons: function () {
      return { type: "bar", data: { labels: data.reasons, datasets: sets([{ label: "Refunded, % of closed", data: data.refund_rate }]) },
        options: { indexAxis: "y", scales: { x: { beginAtZero: true, max: 100 } }, plugins: { legend: { display: false } } } };
    }
  };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var build = builders[canvas.dataset.chart];
    if (build) { canvas.chart = new Chart(canvas, build()); canvas.dataset.drawn = "yes"; }
  });
})();
