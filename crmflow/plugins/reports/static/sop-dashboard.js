// crmflow S&OP dashboard: renders the server's chart specs and reloads cards on live events.
// Every chart is an element with data-chart (its ECharts option as JSON, built by the server)
// and data-src (the JSON endpoint that answers {spec, table} for the same filters).
(function () {
  "use strict";
  var charts = new Map();

  function render(el, spec) {
    var chart = charts.get(el);
    if (!chart) {
      chart = window.echarts.init(el, null, { renderer: "svg" });
      charts.set(el, chart);
    }
    chart.setOption(spec, true);
    el.dataset.series = JSON.stringify(
      (spec.series || []).map(function (s) { return { id: s.id, name: s.name, data: s.data }; })
    );
    el.dataset.rendered = String(Number(el.dataset.rendered || 0) + 1);
  }

  function cell(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function fillTable(table, columns, rows) {
    var body = table.tBodies[0] || table.createTBody();
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (row) {
      var tr = body.insertRow();
      columns.forEach(function (col) { tr.insertCell().textContent = cell(row[col.key]); });
    });
  }

  function reloadCard(card) {
    var el = card.querySelector("[data-chart]");
    if (!el || !el.dataset.src) { return Promise.resolve(); }
    return fetch(el.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        render(el, data.spec);
        var table = card.querySelector("table[data-table]");
        if (table) { fillTable(table, data.table.columns, data.table.rows); }
        var note = card.querySelector("[data-note]");
        if (note) { note.textContent = data.note || ""; }
        card.dataset.updated = new Date().toISOString();
      })
      .catch(function () { card.classList.add("stale"); });
  }

  function reloadWork(section) {
    var src = section.dataset.src;
    return fetch(src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (work) {
        var counts = section.querySelectorAll("[data-count]");
        counts.forEach(function (el) {
          var key = el.dataset.count;
          var value = work[key];
          el.textContent = String(Array.isArray(value) ? value.length :
            Object.values(value).reduce(function (n, v) { return n + v.length; }, 0));
        });
        section.dataset.updated = new Date().toISOString();
      })
      .catch(function () { section.classList.add("stale"); });
  }

  function reloadAll() {
    var jobs = [];
    document.querySelectorAll("[data-card]").forEach(function (card) { jobs.push(reloadCard(card)); });
    document.querySelectorAll("[data-work]").forEach(function (s) { jobs.push(reloadWork(s)); });
    return Promise.all(jobs);
  }

  function listen() {
    var root = document.querySelector("[data-stream]");
    if (!root || !window.EventSource) { return; }
    var timer = null;
    var source = new EventSource(root.dataset.stream, { withCredentials: true });
    source.addEventListener("instance", function (event) {
      var last = document.querySelector("[data-last-event]");
      if (last) {
        try {
          var d = JSON.parse(event.data);
          last.textContent = d.workflow + " #" + d.id + ": " + d.from + " → " + d.to;
        } catch (e) { last.textContent = ""; }
      }
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(reloadAll, 150);  // several transitions at once: one reload
    });
  }

  function toggleTables() {
    document.querySelectorAll("[data-toggle-table]").forEach(function (button) {
      button.addEventListener("click", function () {
        var card = button.closest("[data-card]");
        var shown = card.classList.toggle("show-table");
        button.setAttribute("aria-pressed", shown ? "true" : "false");
      });
    });
  }

  function start() {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      render(el, JSON.parse(el.dataset.chart));
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
    toggleTables();
    listen();
    window.crmflowDashboard = { reload: reloadAll, charts: charts };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
