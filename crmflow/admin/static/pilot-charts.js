// The rollout page's pilot charts: ECharts (vendored) draws each element's data-chart option.
// A module wired by data- attributes; no inline scripts (the CSP forbids them).
// The ECharts script is a deferred classic script before this module: it has run by now.
for (const el of document.querySelectorAll("[data-chart]")) {
  const chart = window.echarts.init(el, null, { renderer: "svg" });
  chart.setOption(JSON.parse(el.dataset.chart));
  el.dataset.rendered = "1";
  new ResizeObserver(() => chart.resize()).observe(el);
}
