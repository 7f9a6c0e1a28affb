// The flush-epoch DAG of a trace (DESIGN.md 2.7), built with Boost.Graph and
// printable as Graphviz.
//
// Nodes are the trace's writes, discards, flushes and marks. Each op node is
// the interval [submit event, complete event] (a mark is the single instant
// of its event; an op that never completed lasts to the end of the trace).
//
// Edges:
//   - happens-before, transitively reduced: A -> B when complete(A) <
//     submit(B) and no node C has complete(A) < submit(C) and complete(C) <
//     submit(B). Equivalently, with m(B) the latest submit event of the nodes
//     completed before submit(B), the predecessors of B are exactly the nodes
//     whose completion lies in [m(B), submit(B)). One sweep over the events
//     finds them in O(n log n + edges): a sequential trace is a chain, a wide
//     epoch a fan out of its opening node and into its closing flush.
//   - covers, reduced the same way: F covers W when F is the first
//     flush-carrying op (a flush or a PREFLUSH write) on W's device that was
//     submitted after W completed and itself completed successfully: the op
//     that makes W durable. Only writes that completed successfully without
//     FUA are covered (a FUA write is durable by itself, a discard never
//     is). W -> F is an edge when F covers W and W happens before no other
//     write F covers; F covers the others too, each reaching such a W by
//     happens-before edges (a write's covering op is the earliest F it
//     reaches so). A sequential epoch thus has one coverage edge, a wide one
//     a fan. A pair that is both a reduced happens-before edge and a coverage
//     edge is one edge of kind kCovers.
//
// Epochs group a device's ops between successful completions of its
// flush-carrying ops: a node belongs to the epoch of its device in which it
// was submitted, so the flush closing an epoch belongs to it.
#ifndef CRASHENUM_ENUMERATOR_EPOCH_DAG_H_
#define CRASHENUM_ENUMERATOR_EPOCH_DAG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/trace.h"
#include "enumerator/crash_points.h"

namespace crashenum {

// The ops of one device between two successful flush completions.
struct Epoch {
  uint32_t device = 0;
  uint32_t index = 0;        // 0, 1, ... within its device
  uint32_t begin_event = 0;  // first event after the previous epoch's end
  // The successful completion of the flush-carrying op that closes it, or
  // events().size() when the trace ends first (then `closed` is false).
  uint32_t end_event = 0;
  bool closed = false;
  uint32_t flush_op = UINT32_MAX;  // the op closing it, when closed
  uint64_t writes = 0;    // writes submitted in it
  uint64_t discards = 0;  // discards submitted in it
  uint64_t sectors = 0;   // sectors those writes cover
};

// Lists the epochs of every device, ordered by device then index. A device's
// last epoch is listed only when an op was submitted in it; a device with no
// op has none. O(events).
std::vector<Epoch> FindEpochs(const Trace& trace);

enum class DagNodeKind {
  kWrite,
  kDiscard,
  kFlush,
  kMark,
  kWriteRun,  // consecutive writes of one epoch collapsed into one node
};

struct DagNode {
  DagNodeKind kind = DagNodeKind::kWrite;
  // Op nodes: the op (a run: its first write). Marks: UINT32_MAX.
  uint32_t op = UINT32_MAX;
  uint32_t mark = UINT32_MAX;  // marks: index into trace.marks()
  // The interval of the node. Marks: their event, twice. Runs: the first
  // write's submit and the latest completion of any of its writes.
  // complete_event is events().size() for an op that never completed.
  uint32_t submit_event = 0;
  uint32_t complete_event = 0;
  uint32_t last_submit_event = 0;  // runs: the last write's submit event
  uint64_t entry = 0;              // source entry of the submit (mark) event
  int32_t status = 0;              // completion status; 0 when none
  uint32_t device = 0;             // marks: 0
  uint64_t sector = 0;             // runs: the first write's
  uint64_t num_sectors = 0;        // runs: the sum over their writes
  uint32_t flags = 0;              // OpFlag bits
  uint32_t run_writes = 0;         // runs: how many writes
  int32_t epoch = -1;              // index into epochs(); -1 for marks
  // A crash point (of EpochDagOptions::points) lies just before this node's
  // submit (or mark) event, or just before its completion.
  bool crash_before_submit = false;
  bool crash_before_complete = false;
};

enum class DagEdgeKind { kHappensBefore, kCovers };

struct DagEdge {
  uint32_t from = 0;  // index into nodes()
  uint32_t to = 0;
  DagEdgeKind kind = DagEdgeKind::kHappensBefore;
};

struct EpochDagOptions {
  // The crash points to mark. Its from_mark and to_mark also limit the
  // nodes: an op is kept when its interval meets [from mark, to mark], a
  // mark when it lies in it; edges are computed among the kept nodes.
  CrashPointOptions points;
  // Above this many nodes, every run of at least two consecutive plain
  // writes (in submit order, no other node between them, same epoch, no
  // PREFLUSH or FUA, no crash point) becomes one kWriteRun node. 0: never.
  size_t max_nodes = 2000;
};

struct DotOptions {
  // false: boost::write_graphviz, nodes only. true: each epoch is a
  // "cluster" subgraph (written by EpochDag itself, as write_graphviz has no
  // clusters), holding the marks within it too when the trace has one
  // device; same nodes, edges and attributes.
  bool clusters = false;
};

// The DAG of one trace. Immutable after Build; thread-safe. Refers to the
// Trace it was built from, which must outlive it.
class EpochDag {
 public:
  // Builds the DAG. Errors: those of FindCrashPoints (InvalidArgument for an
  // unknown mark or a reversed range); Internal when Boost.Graph fails.
  static absl::StatusOr<std::unique_ptr<EpochDag>> Build(
      const Trace& trace, const EpochDagOptions& options);

  ~EpochDag();
  EpochDag(const EpochDag&) = delete;
  EpochDag& operator=(const EpochDag&) = delete;

  const Trace& trace() const { return trace_; }
  // Nodes in submit-event order; edges ordered by (from, to).
  const std::vector<DagNode>& nodes() const { return nodes_; }
  const std::vector<DagEdge>& edges() const { return edges_; }
  // Every epoch of the trace (FindEpochs); nodes refer to them by index.
  const std::vector<Epoch>& epochs() const { return epochs_; }
  const std::vector<CrashPoint>& crash_points() const { return points_; }
  // Nodes before collapsing; > nodes().size() when runs were collapsed.
  size_t uncollapsed_nodes() const { return uncollapsed_nodes_; }
  bool collapsed() const { return uncollapsed_nodes_ != nodes_.size(); }

  // The node's label: "e123 W 1024+8 FUA|META", "e130 F", "e7 D 64+8",
  // "e9 mark fsync-done", "writes e120..e180 (61 writes, 488 sectors)";
  // a device name follows the event when the trace has several devices, and
  // ", error -5" or ", never completed" the range when so. Crash points add
  // a line "crash point before complete" (or "before submit").
  std::string Label(uint32_t node) const;

  // The Graphviz text of the DAG: writes are boxes, discards dashed boxes,
  // flushes diamonds, marks notes, runs 3-D boxes; PREFLUSH or FUA writes
  // bold; nodes with a crash point red; coverage edges dashed blue with
  // tooltip "covers". Errors: Internal when Boost.Graph fails.
  absl::StatusOr<std::string> ToDot(const DotOptions& options = {}) const;

 private:
  struct Graph;
  explicit EpochDag(const Trace& trace);
  // The cluster of a mark at `event`: in a one-device trace the epoch whose
  // events span it, else -1 (drawn outside every cluster).
  int32_t MarkCluster(uint32_t event) const;

  const Trace& trace_;
  std::vector<DagNode> nodes_;
  std::vector<DagEdge> edges_;
  std::vector<Epoch> epochs_;
  std::vector<CrashPoint> points_;
  size_t uncollapsed_nodes_ = 0;
  std::unique_ptr<Graph> graph_;
};

}  // namespace crashenum

#endif  // CRASHENUM_ENUMERATOR_EPOCH_DAG_H_
