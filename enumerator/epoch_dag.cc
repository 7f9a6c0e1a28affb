#include "enumerator/epoch_dag.h"

#include <algorithm>
#include <exception>
#include <iterator>
#include <map>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
// Boost 1.74's headers trip warnings of newer compilers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#pragma GCC diagnostic ignored "-Wnonnull"
#include "boost/graph/adjacency_list.hpp"
#include "boost/graph/graphviz.hpp"
#include "boost/graph/topological_sort.hpp"
#pragma GCC diagnostic pop

namespace crashenum {
namespace {

bool CarriesFlush(const Op& op) {
  return op.kind == OpKind::kFlush ||
         (op.kind == OpKind::kWrite && (op.flags & kPreflush));
}

// The one place Boost.Graph may throw (bad_graph, not_a_dag, bad_alloc):
// runs `fn` and turns any exception into an Internal status.
template <typename Fn>
absl::Status RunBoost(const char* what, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(what, ": unknown exception"));
  }
}

// Quotes `s` as a Graphviz string; '\n' becomes a centred line break.
std::string DotQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  return out + "\"";
}

// Each op's covering flush-carrying op, or UINT32_MAX; only for the writes
// that get a coverage edge (see the header: the writes of a flush's covered
// set that happen before no other write of that set).
std::vector<uint32_t> CoveringOps(const Trace& trace) {
  const uint32_t end = static_cast<uint32_t>(trace.events().size());
  std::vector<uint32_t> cover(trace.ops().size(), UINT32_MAX);
  std::vector<std::vector<uint32_t>> pending(trace.devices().size());
  for (const Event& ev : trace.events()) {
    if (ev.kind == EventKind::kMark) continue;
    const Op& op = trace.ops()[ev.op];
    if (ev.kind == EventKind::kComplete) {
      if (op.kind == OpKind::kWrite && ev.status == 0 && !(op.flags & kFua)) {
        pending[op.device].push_back(ev.op);
      }
    } else if (CarriesFlush(op) && trace.complete_event(ev.op) < end &&
               trace.complete_status(ev.op) == 0) {
      // W happens before W' of the same set when complete(W) <
      // submit(W'): only writes completed after the latest submit of the
      // set are maximal.
      uint32_t latest_submit = 0;
      for (uint32_t w : pending[op.device]) {
        latest_submit = std::max(latest_submit, trace.submit_event(w));
      }
      for (uint32_t w : pending[op.device]) {
        if (trace.complete_event(w) > latest_submit) cover[w] = ev.op;
      }
      pending[op.device].clear();
    }
  }
  return cover;
}

// Reduced happens-before edges among `nodes` (sorted by submit event), by
// the sweep described in the header.
std::vector<std::pair<uint32_t, uint32_t>> ReducedHappensBefore(
    const std::vector<DagNode>& nodes, uint32_t end) {
  std::vector<std::pair<uint32_t, uint32_t>> done;  // (complete, node)
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].complete_event < end) {
      done.emplace_back(nodes[i].complete_event, i);
    }
  }
  std::sort(done.begin(), done.end());
  std::vector<std::pair<uint32_t, uint32_t>> edges;
  size_t ptr = 0;
  int64_t latest_submit = -1;  // m(B): latest submit among nodes done so far
  for (uint32_t b = 0; b < nodes.size(); ++b) {
    const uint32_t s = nodes[b].submit_event;
    while (ptr < done.size() && done[ptr].first < s) {
      latest_submit = std::max<int64_t>(latest_submit,
                                        nodes[done[ptr].second].submit_event);
      ++ptr;
    }
    auto first = std::lower_bound(
        done.begin(), done.begin() + ptr, latest_submit,
        [](const std::pair<uint32_t, uint32_t>& d, int64_t m) {
          return static_cast<int64_t>(d.first) < m;
        });
    for (auto it = first; it != done.begin() + ptr; ++it) {
      edges.emplace_back(it->second, b);
    }
  }
  return edges;
}

bool Collapsible(const DagNode& n) {
  return n.kind == DagNodeKind::kWrite && !(n.flags & (kPreflush | kFua)) &&
         !n.crash_before_submit && !n.crash_before_complete;
}

// Replaces runs of at least two consecutive collapsible writes of one epoch
// by kWriteRun nodes. Returns the new nodes; `old_to_new` maps each old
// node to its new one.
std::vector<DagNode> CollapseRuns(const std::vector<DagNode>& nodes,
                                  std::vector<uint32_t>* old_to_new) {
  std::vector<DagNode> out;
  old_to_new->assign(nodes.size(), 0);
  size_t i = 0;
  while (i < nodes.size()) {
    size_t j = i + 1;
    if (Collapsible(nodes[i])) {
      while (j < nodes.size() && Collapsible(nodes[j]) &&
             nodes[j].epoch == nodes[i].epoch &&
             nodes[j].device == nodes[i].device) {
        ++j;
      }
    }
    DagNode n = nodes[i];
    if (j - i >= 2) {
      n.kind = DagNodeKind::kWriteRun;
      n.run_writes = static_cast<uint32_t>(j - i);
      n.num_sectors = 0;
      n.flags = 0;
      for (size_t k = i; k < j; ++k) {
        n.complete_event = std::max(n.complete_event, nodes[k].complete_event);
        n.num_sectors += nodes[k].num_sectors;
        n.flags |= nodes[k].flags;
        if (n.status == 0) n.status = nodes[k].status;
      }
      n.last_submit_event = nodes[j - 1].submit_event;
    }
    for (size_t k = i; k < j; ++k) (*old_to_new)[k] = out.size();
    out.push_back(n);
    i = j;
  }
  return out;
}

std::string NodeAttributes(const EpochDag& dag, uint32_t v) {
  const DagNode& n = dag.nodes()[v];
  std::string attrs = absl::StrCat("label=", DotQuote(dag.Label(v)));
  switch (n.kind) {
    case DagNodeKind::kWrite:
      absl::StrAppend(&attrs, ", shape=box");
      if (n.flags & (kPreflush | kFua)) absl::StrAppend(&attrs, ", style=bold");
      break;
    case DagNodeKind::kDiscard:
      absl::StrAppend(&attrs, ", shape=box, style=dashed");
      break;
    case DagNodeKind::kFlush:
      absl::StrAppend(&attrs, ", shape=diamond");
      break;
    case DagNodeKind::kMark:
      absl::StrAppend(&attrs, ", shape=note");
      break;
    case DagNodeKind::kWriteRun:
      absl::StrAppend(&attrs, ", shape=box3d");
      break;
  }
  if (n.crash_before_submit || n.crash_before_complete) {
    absl::StrAppend(&attrs, ", color=red, penwidth=2");
  }
  return attrs;
}

std::string EdgeAttributes(DagEdgeKind kind) {
  return kind == DagEdgeKind::kCovers
             ? "style=dashed, color=blue, tooltip=\"covers\""
             : "";
}

std::string GraphLabel(const EpochDag& dag) {
  const Trace& t = dag.trace();
  const bool at_end = !dag.crash_points().empty() &&
                      dag.crash_points().back().event == t.events().size();
  const size_t points = dag.crash_points().size();
  std::string label = absl::StrCat(
      t.path().empty() ? "trace" : t.path(), ": ", dag.nodes().size(),
      " nodes, ", dag.edges().size(), " edges; ", points,
      points == 1 ? " crash point" : " crash points", " (red nodes",
      at_end ? (points == 1 ? "; at the end of the trace"
                            : "; one at the end of the trace")
             : "",
      "); dashed blue: flush coverage");
  if (dag.collapsed()) {
    absl::StrAppend(&label, "\nruns of writes collapsed: ",
                    dag.uncollapsed_nodes(), " nodes shown as ",
                    dag.nodes().size());
  }
  return label;
}

}  // namespace

std::vector<Epoch> FindEpochs(const Trace& trace) {
  const size_t num_devices = trace.devices().size();
  std::vector<std::vector<Epoch>> per_device(num_devices);
  std::vector<Epoch> current(num_devices);
  std::vector<bool> any_op(num_devices, false);
  for (uint32_t d = 0; d < num_devices; ++d) current[d].device = d;
  for (uint32_t e = 0; e < trace.events().size(); ++e) {
    const Event& ev = trace.events()[e];
    if (ev.kind == EventKind::kMark) continue;
    const Op& op = trace.ops()[ev.op];
    Epoch& cur = current[op.device];
    if (ev.kind == EventKind::kSubmit) {
      any_op[op.device] = true;
      if (op.kind == OpKind::kWrite) {
        ++cur.writes;
        cur.sectors += op.num_sectors;
      } else if (op.kind == OpKind::kDiscard) {
        ++cur.discards;
      }
      continue;
    }
    if (ev.status != 0 || !CarriesFlush(op)) continue;
    cur.end_event = e;
    cur.closed = true;
    cur.flush_op = ev.op;
    per_device[op.device].push_back(cur);
    Epoch next;
    next.device = op.device;
    next.index = cur.index + 1;
    next.begin_event = e + 1;
    cur = next;
    any_op[op.device] = false;
  }
  std::vector<Epoch> out;
  for (uint32_t d = 0; d < num_devices; ++d) {
    out.insert(out.end(), per_device[d].begin(), per_device[d].end());
    if (any_op[d]) {
      current[d].end_event = static_cast<uint32_t>(trace.events().size());
      out.push_back(current[d]);
    }
  }
  return out;
}

struct EpochDag::Graph {
  struct EdgeProps {
    DagEdgeKind kind = DagEdgeKind::kHappensBefore;
  };
  using Type = boost::adjacency_list<boost::vecS, boost::vecS,
                                     boost::directedS, boost::no_property,
                                     EdgeProps>;
  Type g;
};

EpochDag::EpochDag(const Trace& trace) : trace_(trace) {}
EpochDag::~EpochDag() = default;

absl::StatusOr<std::unique_ptr<EpochDag>> EpochDag::Build(
    const Trace& trace, const EpochDagOptions& options) {
  absl::StatusOr<std::vector<CrashPoint>> points =
      FindCrashPoints(trace, options.points);
  if (!points.ok()) return points.status();
  std::unique_ptr<EpochDag> dag(new EpochDag(trace));
  dag->points_ = *std::move(points);
  dag->epochs_ = FindEpochs(trace);

  const uint32_t end = static_cast<uint32_t>(trace.events().size());
  uint32_t lo = 0, hi = end;
  if (!options.points.from_mark.empty()) {
    lo = trace.marks()[trace.FindMark(options.points.from_mark)].event;
  }
  if (!options.points.to_mark.empty()) {
    hi = trace.marks()[trace.FindMark(options.points.to_mark)].event;
  }
  std::vector<bool> crash_at(end + 1, false);
  for (const CrashPoint& p : dag->points_) crash_at[p.event] = true;

  // Per device: the global index of its first epoch and its closing events.
  std::vector<uint32_t> first_epoch(trace.devices().size(), 0);
  std::vector<std::vector<uint32_t>> closings(trace.devices().size());
  for (uint32_t i = dag->epochs_.size(); i-- > 0;) {
    first_epoch[dag->epochs_[i].device] = i;
  }
  for (const Epoch& ep : dag->epochs_) {
    if (ep.closed) closings[ep.device].push_back(ep.end_event);
  }

  std::vector<DagNode> nodes;
  std::vector<uint32_t> op_node(trace.ops().size(), UINT32_MAX);
  for (uint32_t e = 0; e < end; ++e) {
    const Event& ev = trace.events()[e];
    DagNode n;
    if (ev.kind == EventKind::kMark) {
      if (e < lo || e > hi) continue;
      n.kind = DagNodeKind::kMark;
      n.mark = ev.mark;
      n.submit_event = n.complete_event = n.last_submit_event = e;
      n.entry = ev.source_entry;
      n.crash_before_submit = crash_at[e];
      nodes.push_back(n);
      continue;
    }
    if (ev.kind != EventKind::kSubmit) continue;
    const uint32_t c = trace.complete_event(ev.op);
    if (e > hi || c < lo) continue;
    const Op& op = trace.ops()[ev.op];
    n.kind = op.kind == OpKind::kWrite   ? DagNodeKind::kWrite
             : op.kind == OpKind::kFlush ? DagNodeKind::kFlush
                                         : DagNodeKind::kDiscard;
    n.op = ev.op;
    n.submit_event = n.last_submit_event = e;
    n.complete_event = c;
    n.entry = ev.source_entry;
    n.status = trace.complete_status(ev.op);
    n.device = op.device;
    n.sector = op.sector;
    n.num_sectors = op.num_sectors;
    n.flags = op.flags;
    n.run_writes = op.kind == OpKind::kWrite ? 1 : 0;
    const std::vector<uint32_t>& cl = closings[op.device];
    n.epoch = static_cast<int32_t>(
        first_epoch[op.device] +
        (std::lower_bound(cl.begin(), cl.end(), e) - cl.begin()));
    n.crash_before_submit = crash_at[e];
    n.crash_before_complete = c < end && crash_at[c];
    op_node[ev.op] = nodes.size();
    nodes.push_back(n);
  }
  dag->uncollapsed_nodes_ = nodes.size();
  if (options.max_nodes > 0 && nodes.size() > options.max_nodes) {
    std::vector<uint32_t> old_to_new;
    nodes = CollapseRuns(nodes, &old_to_new);
    for (uint32_t& n : op_node) {
      if (n != UINT32_MAX) n = old_to_new[n];
    }
  }
  dag->nodes_ = std::move(nodes);

  std::map<std::pair<uint32_t, uint32_t>, DagEdgeKind> edges;
  for (const auto& e : ReducedHappensBefore(dag->nodes_, end)) {
    edges[e] = DagEdgeKind::kHappensBefore;
  }
  const std::vector<uint32_t> cover = CoveringOps(trace);
  for (uint32_t w = 0; w < cover.size(); ++w) {
    if (cover[w] == UINT32_MAX) continue;
    const uint32_t from = op_node[w], to = op_node[cover[w]];
    if (from == UINT32_MAX || to == UINT32_MAX) continue;
    edges[{from, to}] = DagEdgeKind::kCovers;
  }
  dag->edges_.reserve(edges.size());
  for (const auto& [ft, kind] : edges) {
    dag->edges_.push_back(DagEdge{ft.first, ft.second, kind});
  }

  dag->graph_ = std::make_unique<Graph>();
  Graph::Type& g = dag->graph_->g;
  absl::Status s = RunBoost("building the epoch DAG", [&] {
    g = Graph::Type(dag->nodes_.size());
    for (const DagEdge& e : dag->edges_) {
      boost::add_edge(e.from, e.to, Graph::EdgeProps{e.kind}, g);
    }
    // Every edge goes forward in submit order, so this cannot fail unless
    // the construction above is wrong; not_a_dag says so.
    std::vector<Graph::Type::vertex_descriptor> order;
    boost::topological_sort(g, std::back_inserter(order));
  });
  if (!s.ok()) return s;
  return dag;
}

std::string EpochDag::Label(uint32_t node) const {
  const DagNode& n = nodes_[node];
  std::string dev;
  if (trace_.devices().size() > 1 && n.kind != DagNodeKind::kMark) {
    dev = absl::StrCat(" ", trace_.devices()[n.device].name);
  }
  const std::string range = absl::StrCat(" ", n.sector, "+", n.num_sectors);
  std::string label;
  switch (n.kind) {
    case DagNodeKind::kWrite:
      label = absl::StrCat("e", n.submit_event, dev, " W", range);
      if (n.flags != 0) absl::StrAppend(&label, " ", FlagsToString(n.flags));
      break;
    case DagNodeKind::kDiscard:
      label = absl::StrCat("e", n.submit_event, dev, " D", range);
      break;
    case DagNodeKind::kFlush:
      label = absl::StrCat("e", n.submit_event, dev, " F");
      break;
    case DagNodeKind::kMark:
      label = absl::StrCat("e", n.submit_event, " mark ",
                           trace_.marks()[n.mark].label);
      break;
    case DagNodeKind::kWriteRun:
      label = absl::StrCat("writes e", n.submit_event, "..e",
                           n.last_submit_event, dev, " (", n.run_writes,
                           " writes, ", n.num_sectors, " sectors)");
      break;
  }
  if (n.kind != DagNodeKind::kMark) {
    if (n.status != 0) absl::StrAppend(&label, ", error ", n.status);
    if (n.complete_event >= trace_.events().size()) {
      absl::StrAppend(&label, ", never completed");
    }
  }
  if (n.crash_before_submit) {
    absl::StrAppend(&label, n.kind == DagNodeKind::kMark
                                ? "\ncrash point before it"
                                : "\ncrash point before submit");
  }
  if (n.crash_before_complete) {
    absl::StrAppend(&label, "\ncrash point before complete");
  }
  return label;
}

int32_t EpochDag::MarkCluster(uint32_t event) const {
  if (trace_.devices().size() != 1) return -1;
  // The epochs of the only device, in order: the first that ends at or
  // after the mark holds it.
  auto it = std::lower_bound(
      epochs_.begin(), epochs_.end(), event,
      [](const Epoch& ep, uint32_t e) { return ep.end_event < e; });
  return it == epochs_.end() ? -1 : static_cast<int32_t>(it - epochs_.begin());
}

absl::StatusOr<std::string> EpochDag::ToDot(const DotOptions& options) const {
  const Graph::Type& g = graph_->g;
  const std::string graph_attrs = absl::StrCat(
      "label=", DotQuote(GraphLabel(*this)),
      ";\nlabelloc=t;\nnode [fontname=\"monospace\", fontsize=10];\n");
  std::ostringstream out;
  absl::Status s = RunBoost("writing the epoch DAG", [&] {
    if (!options.clusters) {
      boost::write_graphviz(
          out, g,
          [&](std::ostream& os, Graph::Type::vertex_descriptor v) {
            os << "[" << NodeAttributes(*this, static_cast<uint32_t>(v))
               << "]";
          },
          [&](std::ostream& os, Graph::Type::edge_descriptor e) {
            const std::string a = EdgeAttributes(g[e].kind);
            if (!a.empty()) os << "[" << a << "]";
          },
          [&](std::ostream& os) { os << graph_attrs; });
      return;
    }
    out << "digraph G {\n" << graph_attrs;
    std::vector<std::vector<uint32_t>> members(epochs_.size());
    for (auto [v, v_end] = boost::vertices(g); v != v_end; ++v) {
      const int32_t ep = nodes_[*v].kind == DagNodeKind::kMark
                             ? MarkCluster(nodes_[*v].submit_event)
                             : nodes_[*v].epoch;
      if (ep < 0) {
        out << *v << " [" << NodeAttributes(*this, *v) << "];\n";
      } else {
        members[ep].push_back(static_cast<uint32_t>(*v));
      }
    }
    for (size_t i = 0; i < epochs_.size(); ++i) {
      if (members[i].empty()) continue;
      const Epoch& ep = epochs_[i];
      const std::string name = absl::StrCat(
          trace_.devices().size() > 1
              ? trace_.devices()[ep.device].name + " "
              : "",
          "epoch ", ep.index, ep.closed ? "" : " (not closed)");
      out << "subgraph cluster_" << i << " {\nlabel=" << DotQuote(name)
          << ";\nstyle=rounded;\ncolor=gray;\n";
      for (uint32_t v : members[i]) {
        out << v << " [" << NodeAttributes(*this, v) << "];\n";
      }
      out << "}\n";
    }
    for (auto [e, e_end] = boost::edges(g); e != e_end; ++e) {
      out << boost::source(*e, g) << "->" << boost::target(*e, g);
      const std::string a = EdgeAttributes(g[*e].kind);
      if (!a.empty()) out << " [" << a << "]";
      out << ";\n";
    }
    out << "}\n";
  });
  if (!s.ok()) return s;
  return out.str();
}

}  // namespace crashenum
