// The report page's style sheet and scripts (page_assets.hpp). Plain ES5 with
// Chart.js 3: the page must open in whatever browser a login node or a laptop
// has, from a file:// URL, with no network.
#include "page_assets.hpp"

namespace aevb::report {

const char* const kPageCss = R"CSS(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 1.5em 3em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-bottom: 0.3em; }
.chart { position: relative; height: 380px; margin: 0.5em 0 0.3em; }
.chart.small { height: 300px; }
p.note { color: #555; font-size: 0.92em; margin-top: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { background: #f6f6f6; font-weight: 600; }
code, .hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.9em; word-break: break-all; }
pre.config { background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
pre#errors { color: #a00; background: #fee; padding: 0.6em; white-space: pre-wrap; }
pre#errors:empty { display: none; }
ul.warnings li { color: #8a5300; }
.pictures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; }
figure img { image-rendering: pixelated; border: 1px solid #ddd; display: block; }
figcaption { font-size: 0.85em; color: #444; margin-top: 0.2em; }
details summary { cursor: pointer; }
footer { margin-top: 3em; color: #666; font-size: 0.85em; border-top: 1px solid #ccc; padding-top: 0.5em; }
)CSS";

const char* const kErrorCatcherJs = R"JS(
(function () {
  'use strict';
  function note(text) {
    var pre = document.getElementById('errors');
    if (!pre) {  // an error before <body>: keep it until the element exists
      window.__aevbEarlyErrors = (window.__aevbEarlyErrors || []).concat([text]);
      return;
    }
    pre.textContent += text + '\n';
  }
  window.__aevbNote = note;
  window.addEventListener('error', function (e) {
    note('error: ' + (e.message || e) + (e.filename ? ' (' + e.filename + ':' + e.lineno + ')' : ''));
  });
  window.addEventListener('unhandledrejection', function (e) {
    note('unhandled promise rejection: ' + (e.reason && e.reason.stack ? e.reason.stack : e.reason));
  });
})();
)JS";

const char* const kChartBuilderJs = R"JS(
(function () {
  'use strict';
  var note = window.__aevbNote || function (t) { document.getElementById('errors').textContent += t + '\n'; };
  (window.__aevbEarlyErrors || []).forEach(note);
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                '#bcbd22', '#17becf'];
  function color(i) { return COLORS[(i || 0) % COLORS.length]; }

  // Whiskers of +- one standard error at each point of a dataset with `err`:
  // Chart.js has no error bars of its own.
  var errorBars = {
    id: 'aevbErrorBars',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, y = chart.scales.y;
      chart.data.datasets.forEach(function (ds, i) {
        if (!ds.err || !chart.isDatasetVisible(i)) return;
        chart.getDatasetMeta(i).data.forEach(function (pt, j) {
          var e = ds.err[j], v = ds.data[j].y;
          if (!(e > 0)) return;
          var top = y.getPixelForValue(v + e), bottom = y.getPixelForValue(v - e);
          ctx.save();
          ctx.strokeStyle = ds.borderColor;
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(pt.x, top); ctx.lineTo(pt.x, bottom);
          ctx.moveTo(pt.x - 4, top); ctx.lineTo(pt.x + 4, top);
          ctx.moveTo(pt.x - 4, bottom); ctx.lineTo(pt.x + 4, bottom);
          ctx.stroke();
          ctx.restore();
        });
      });
    }
  };

  // Markers while they can be told apart; a long curve is drawn as a line.
  function radius(s) {
    if (s.points === false) return 0;
    return s.data.length > 120 ? 0 : s.data.length > 30 ? 1.5 : 3;
  }

  function dataset(spec, s) {
    var c = color(s.color);
    var ds = {
      label: s.label, data: s.data, borderColor: c, backgroundColor: c, borderDash: s.dash || [],
      borderWidth: s.counted ? 2 : 1.5, pointRadius: radius(s), fill: false, tension: 0,
      aevbCounted: !!s.counted, aevbKey: s.key || '', aevbRun: (s.run === undefined ? -1 : s.run)
    };
    if (spec.type === 'scatter') ds.showLine = true;
    if (s.err) ds.err = s.err;
    if (s.active) ds.backgroundColor = s.active.map(function (a) { return a ? c : '#c7c7c7'; });
    return ds;
  }

  function axis(a, type, log) {
    var out = { type: log ? 'logarithmic' : type, title: { display: true, text: a.title } };
    // Suggested only: Chart.js still rounds the range to tidy ticks.
    if (a.min !== undefined) out.suggestedMin = a.min;
    if (a.max !== undefined) out.suggestedMax = a.max;
    return out;
  }

  // What the chart holds, on its canvas: the tests compare it with the files.
  function record(canvas, chart) {
    var total = 0, sets = 0, runs = {}, perKey = {};
    chart.data.datasets.forEach(function (ds) {
      if (!ds.aevbCounted) return;
      var n = ds.data.filter(function (p) { return p !== null; }).length;
      total += n;
      sets += 1;
      if (ds.aevbRun >= 0) runs[ds.aevbRun] = true;
      if (ds.aevbKey) perKey[ds.aevbKey] = (perKey[ds.aevbKey] || 0) + n;
    });
    canvas.dataset.points = String(total);
    canvas.dataset.datasets = String(sets);
    canvas.dataset.runs = String(Object.keys(runs).length);
    Object.keys(perKey).forEach(function (k) { canvas.dataset['points_' + k] = String(perKey[k]); });
  }

  function build(spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas) throw new Error('no canvas #' + spec.id + ' for its chart');
    var chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.series.map(function (s) { return dataset(spec, s); }) },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: axis(spec.x, spec.type === 'bar' ? 'category' : 'linear', spec.x.log),
                  y: axis(spec.y, 'linear', false) },
        plugins: { title: { display: true, text: spec.title }, legend: { position: 'bottom' } }
      },
      plugins: [errorBars]
    });
    record(canvas, chart);
  }

  var failed = 0;
  try {
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    var specs = JSON.parse(document.getElementById('report-data').textContent).charts;
    specs.forEach(function (spec) {
      try { build(spec); } catch (e) { failed += 1; note('chart ' + spec.id + ': ' + (e.stack || e)); }
    });
  } catch (e) {
    failed += 1;
    note('charts: ' + (e.stack || e));
  }
  document.body.dataset.ready = failed ? 'error' : '1';
})();
)JS";

}  // namespace aevb::report
