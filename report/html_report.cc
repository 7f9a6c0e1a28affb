#include "report/html_report.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "enumerator/epoch_dag.h"
#include "nlohmann/json.hpp"
#include "oracles/oracle.h"
#include "report/internal/point_summary.h"

namespace crashenum {
namespace {

using internal_report::PointStatusName;
using internal_report::PointSummary;

constexpr char kHead[] = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crashenum report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; word-break: break-all; }
h2 { font-size: 1.15em; margin-top: 1.6em; }
code, pre { font: 12px/1.35 ui-monospace, monospace; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left;
  vertical-align: top; }
th { background: #f3f3f3; }
.banner { padding: 6px 10px; border-radius: 4px; display: inline-block; }
.banner-pass { background: #d9f2d9; } .banner-fail { background: #f8d0d0; }
.banner-error { background: #fbe5c0; }
.track { display: flex; align-items: center; margin: 4px 0; }
.track-label { width: 9em; flex: none; font-weight: 600; }
.lane { position: relative; height: 26px; flex: 1; background: #fafafa;
  border: 1px solid #ddd; }
.epoch { position: absolute; top: 2px; bottom: 2px; min-width: 2px;
  background: #cfe0f7; border-right: 2px solid #3366aa; overflow: hidden;
  font-size: 11px; white-space: nowrap; box-sizing: border-box; }
.epoch-open { border-right: 2px dashed #999; }
.cp { position: absolute; top: 3px; width: 10px; height: 18px;
  margin-left: -5px; border-radius: 3px; border: 1px solid #555;
  display: block; }
.cp-pass { background: #3a3; } .cp-fail { background: #d22; }
.cp-error { background: #e9a000; } .cp-unchecked { background: #aaa; }
.legend span { display: inline-block; margin-right: 1.2em; }
.legend i { display: inline-block; width: 10px; height: 10px;
  margin-right: 4px; border: 1px solid #555; }
.v-FAIL { color: #b00; font-weight: 600; }
.v-ERROR { color: #a60; font-weight: 600; }
tr.point-fail td:first-child { border-left: 4px solid #d22; }
tr.point-error td:first-child { border-left: 4px solid #e9a000; }
</style>
</head>
<body>
<noscript>This report needs JavaScript to render.</noscript>
<div id="report"></div>
<script type="application/json" id="crashenum-data">)";

constexpr char kTail[] = R"(</script>
<script>
(function () {
  'use strict';
  var data = JSON.parse(
      document.getElementById('crashenum-data').textContent);
  var root = document.getElementById('report');
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function plural(n, what) { return n + ' ' + what + (n === 1 ? '' : 's'); }
  function row(table, cells, tag) {
    var tr = add(table, el('tr'));
    cells.forEach(function (c) {
      var td = add(tr, el(tag || 'td'));
      if (c instanceof Node) td.appendChild(c); else td.textContent = c;
    });
    return tr;
  }

  var s = data.summary;
  document.title = 'crashenum: ' + data.trace.path;
  add(root, el('h1', null, 'crashenum check of ' + data.trace.path));
  add(root, el('p', null, data.trace.format + ', ' +
      plural(data.trace.devices.length, 'device') + ', ' +
      plural(data.trace.events, 'event') + '; oracle ' + data.oracle));
  var verdict = s.failures > 0 ? 'fail' : (s.errors > 0 ? 'error' : 'pass');
  add(root, el('p', 'banner banner-' + verdict,
      s.failures > 0 ? plural(s.failures, 'failing state') + ' (' +
          plural(s.failing_images, 'failing image') + ')'
      : s.errors > 0 ? plural(s.errors, 'erroring state') + ', none failing'
      : 'No failing state'));

  add(root, el('h2', null, 'Summary'));
  var sum = add(root, el('table', 'summary'));
  [['crash points', s.crash_points], ['states', s.states],
   ['distinct images', s.distinct_images], ['oracle runs', s.oracle_runs],
   ['failing states', s.failures], ['failing images', s.failing_images],
   ['erroring states', s.errors], ['erroring images', s.erroring_images],
   ['time', s.seconds.toFixed(2) + ' s']].forEach(function (r) {
    row(sum, [r[0], String(r[1])]);
  });

  add(root, el('h2', null, 'Timeline'));
  add(root, el('p', null, 'Flush epochs of each device (a segment ends ' +
      'with the flush that makes its writes durable) and the crash points, ' +
      'by trace event.'));
  var n = Math.max(1, data.trace.events);
  function pos(e) { return (100 * Math.min(e, n) / n).toFixed(4) + '%'; }
  data.trace.devices.forEach(function (d, di) {
    var track = add(root, el('div', 'track'));
    add(track, el('div', 'track-label', d.name));
    var lane = add(track, el('div', 'lane'));
    data.epochs.forEach(function (ep) {
      if (ep.device !== di) return;
      var seg = add(lane, el('div', ep.closed ? 'epoch' : 'epoch epoch-open',
          plural(ep.writes, 'write')));
      seg.style.left = pos(ep.begin);
      seg.style.width = pos(Math.min(ep.end + 1, n) - ep.begin);
      seg.title = d.name + ' epoch ' + ep.index + ': events ' + ep.begin +
          '..' + ep.end + ', ' + plural(ep.writes, 'write') + ' (' +
          plural(ep.sectors, 'sector') + ')' +
          (ep.discards ? ', ' + plural(ep.discards, 'discard') : '') +
          (ep.closed ? ', closed by a flush' : ', not closed');
    });
  });
  var cpTrack = add(root, el('div', 'track'));
  add(cpTrack, el('div', 'track-label', 'crash points'));
  var cpLane = add(cpTrack, el('div', 'lane cp-lane'));
  data.points.forEach(function (p) {
    var m = add(cpLane, el('a', 'cp cp-' + p.status));
    m.href = '#point-' + p.event;
    m.style.left = pos(p.event);
    m.title = 'e' + p.event + ' ' + p.description + ': ' + p.status +
        ' (' + plural(p.states, 'state') + ', ' + p.failing + ' failing, ' +
        p.erroring + ' erroring)';
  });
  var legend = add(root, el('p', 'legend'));
  [['pass', 'all judged states pass'], ['fail', 'some state fails'],
   ['error', 'some state errs, none fails'], ['unchecked', 'not judged']]
      .forEach(function (l) {
    var span = add(legend, el('span'));
    add(span, el('i', 'cp-' + l[0]));
    span.appendChild(document.createTextNode(l[1]));
  });

  add(root, el('h2', null, 'Crash points'));
  var pt = add(root, el('table', 'points'));
  row(pt, ['event', 'crash point', 'optional writes', 'planned states',
           'states', 'failing', 'erroring', 'result'], 'th');
  data.points.forEach(function (p) {
    var tr = row(pt, ['e' + p.event, p.description, String(p.optional_writes),
        p.planned, String(p.states), String(p.failing), String(p.erroring),
        p.status]);
    tr.id = 'point-' + p.event;
    tr.className = 'point point-' + p.status;
  });

  add(root, el('h2', null, 'Failing and erroring states'));
  if (data.findings.length === 0) {
    add(root, el('p', 'no-findings', 'None.'));
    return;
  }
  var ft = add(root, el('table', 'findings'));
  row(ft, ['state', 'crash point', 'verdict', 'message', 'explanation',
           'reproduce'], 'th');
  data.findings.forEach(function (f) {
    var expl;
    if (f.explanation) {
      expl = el('details');
      add(expl, el('summary', null, 'explanation'));
      add(expl, el('pre', null, f.explanation));
    } else {
      expl = el('span', 'none', '\u2014');
    }
    var tr = row(ft, [el('code', null, f.state),
        f.event >= 0 ? 'e' + f.event : '?', el('span', 'v-' + f.verdict,
        f.verdict), el('pre', null, f.message), expl,
        el('code', null, f.repro)]);
    tr.className = 'finding';
  });
})();
</script>
</body>
</html>
)";

// JSON text safe inside a <script> element: '<', '>' and '&' (which JSON has
// only inside strings) become \u escapes.
std::string ScriptSafeJson(const nlohmann::json& j) {
  const std::string text =
      j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

nlohmann::json ReportData(const HtmlReportInput& input) {
  const Trace& trace = *input.trace;
  const CheckReport& report = *input.report;
  nlohmann::json devices = nlohmann::json::array();
  for (const Device& d : trace.devices()) {
    devices.push_back({{"name", d.name},
                       {"sector_size", d.sector_size},
                       {"num_sectors", d.num_sectors}});
  }
  nlohmann::json epochs = nlohmann::json::array();
  for (const Epoch& e : FindEpochs(trace)) {
    epochs.push_back({{"device", e.device},
                      {"index", e.index},
                      {"begin", e.begin_event},
                      {"end", e.end_event},
                      {"closed", e.closed},
                      {"writes", e.writes},
                      {"discards", e.discards},
                      {"sectors", e.sectors}});
  }
  nlohmann::json points = nlohmann::json::array();
  for (const PointSummary& p : internal_report::SummarizePoints(report)) {
    points.push_back({{"event", p.plan->event},
                      {"description", p.plan->description},
                      {"optional_writes", p.plan->optional_writes},
                      {"planned", p.plan->count.ToString()},
                      {"states", p.result ? p.result->states : 0},
                      {"failing", p.result ? p.result->failing_states : 0},
                      {"erroring", p.result ? p.result->erroring_states : 0},
                      {"status", std::string(PointStatusName(p.status))}});
  }
  nlohmann::json findings = nlohmann::json::array();
  for (const StateFinding& f : report.findings) {
    findings.push_back(
        {{"state", f.state},
         {"event", internal_report::StateEvent(f.state)},
         {"verdict", std::string(VerdictKindName(f.verdict))},
         {"message", f.message},
         {"image", f.image.ToHex()},
         {"explanation", input.explain ? input.explain(f.state) : ""},
         {"repro", input.repro ? input.repro(f.state) : ""}});
  }
  return {
      {"trace",
       {{"path", input.trace_path.empty() ? trace.path() : input.trace_path},
        {"format", trace.format()},
        {"events", trace.events().size()},
        {"devices", devices}}},
      {"oracle", input.oracle},
      {"summary",
       {{"crash_points", report.plan.size()},
        {"states", report.states},
        {"distinct_images", report.distinct_images},
        {"oracle_runs", report.oracle_runs},
        {"failures", report.failures},
        {"errors", report.errors},
        {"failing_images", report.failing_images},
        {"erroring_images", report.erroring_images},
        {"seconds", absl::ToDoubleSeconds(report.elapsed)}}},
      {"epochs", epochs},
      {"points", points},
      {"findings", findings},
  };
}

}  // namespace

std::string HtmlReport(const HtmlReportInput& input) {
  return absl::StrCat(kHead, ScriptSafeJson(ReportData(input)), kTail);
}

absl::Status WriteHtmlReport(const std::string& path,
                             const HtmlReportInput& input) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << HtmlReport(input);
  out.close();
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("cannot write the HTML report ", path));
  }
  return absl::OkStatus();
}

}  // namespace crashenum
