#include "enumerator/epoch_dag.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "enumerator/test_traces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_traces::Script;

std::unique_ptr<EpochDag> BuildDag(const Trace& t, EpochDagOptions o = {}) {
  absl::StatusOr<std::unique_ptr<EpochDag>> dag = EpochDag::Build(t, o);
  EXPECT_TRUE(dag.ok()) << dag.status();
  return dag.ok() ? *std::move(dag) : nullptr;
}

// "from->to" for happens-before edges, "from=>to" for coverage edges.
std::vector<std::string> Edges(const EpochDag& dag) {
  std::vector<std::string> out;
  for (const DagEdge& e : dag.edges()) {
    out.push_back(absl::StrCat(
        e.from, e.kind == DagEdgeKind::kCovers ? "=>" : "->", e.to));
  }
  return out;
}

std::vector<std::string> Labels(const EpochDag& dag) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < dag.nodes().size(); ++i) {
    out.push_back(dag.Label(i));
  }
  return out;
}

std::string Tmp() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

// Runs a shell command; returns its exit status and fills `output`.
int Sh(const std::string& command, std::string* output) {
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  return ::pclose(p);
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos;
       p = s.find(what, p + what.size())) {
    ++n;
  }
  return n;
}

// Renders `dot` with Graphviz; returns the SVG, or "" (and skips the
// rendering) when Graphviz is not installed.
std::string RenderSvg(const std::string& dot, const std::string& name) {
  std::string out;
  if (Sh("command -v dot", &out) != 0) return "";
  const std::string in = Tmp() + "/" + name + ".dot";
  std::ofstream(in) << dot;
  std::string svg;
  const int rc = Sh("dot -Tsvg " + in, &svg);
  EXPECT_EQ(rc, 0) << svg;
  return svg;
}

TEST(EpochDagTest, SequentialTraceIsAChainWithCoverageAndCrashPoints) {
  Script s(16);
  s.Write(0, 1, 'a');               // op 0: events 0,1
  s.Write(8, 2, 'b', kMeta);        // op 1: 2,3
  s.Flush();                        // op 2: 4,5
  s.Write(3, 1, 'c', kFua | kMeta); // op 3: 6,7
  s.Mark("done");                   // 8
  Trace t = std::move(s).Build();
  std::unique_ptr<EpochDag> dag = BuildDag(t);
  ASSERT_NE(dag, nullptr);
  EXPECT_THAT(Labels(*dag),
              ElementsAre("e0 W 0+1", "e2 W 8+2 META",
                          "e4 F\ncrash point before complete",
                          "e6 W 3+1 FUA|META\ncrash point before complete",
                          "e8 mark done"));
  // A chain; the flush covers both writes (the first through the second),
  // the FUA write is covered by nothing.
  EXPECT_THAT(Edges(*dag), ElementsAre("0->1", "1=>2", "2->3", "3->4"));
  ASSERT_EQ(dag->epochs().size(), 2u);
  EXPECT_EQ(dag->epochs()[0].end_event, 5u);
  EXPECT_TRUE(dag->epochs()[0].closed);
  EXPECT_EQ(dag->epochs()[0].flush_op, 2u);
  EXPECT_EQ(dag->epochs()[0].writes, 2u);
  EXPECT_EQ(dag->epochs()[0].sectors, 3u);
  EXPECT_EQ(dag->epochs()[1].begin_event, 6u);
  EXPECT_EQ(dag->epochs()[1].end_event, 9u);
  EXPECT_FALSE(dag->epochs()[1].closed);
  EXPECT_EQ(dag->epochs()[1].writes, 1u);
  std::vector<int32_t> epochs;
  for (const DagNode& n : dag->nodes()) epochs.push_back(n.epoch);
  EXPECT_THAT(epochs, ElementsAre(0, 0, 0, 1, -1));
  EXPECT_EQ(dag->crash_points().size(), 3u);  // e5, e7 and the end
  EXPECT_FALSE(dag->collapsed());
}

TEST(EpochDagTest, ConcurrentEpochIsAFanIntoItsFlush) {
  Script s(16);
  s.Flush();                             // op 0: events 0,1
  const uint32_t a = s.Submit(0, 1, 'a');  // op 1: 2
  const uint32_t b = s.Submit(1, 1, 'b');  // op 2: 3
  const uint32_t c = s.Submit(2, 1, 'c');  // op 3: 4
  s.Complete(b);                         // 5
  s.Complete(a);                         // 6
  s.Complete(c);                         // 7
  s.Flush();                             // op 4: 8,9
  s.Write(3, 1, 'd');                    // op 5: 10,11
  Trace t = std::move(s).Build();
  std::unique_ptr<EpochDag> dag = BuildDag(t);
  ASSERT_NE(dag, nullptr);
  EXPECT_THAT(Labels(*dag),
              ElementsAre("e0 F", "e2 W 0+1", "e3 W 1+1", "e4 W 2+1",
                          "e8 F\ncrash point before complete", "e10 W 3+1"));
  EXPECT_THAT(Edges(*dag), ElementsAre("0->1", "0->2", "0->3", "1=>4", "2=>4",
                                       "3=>4", "4->5"));
  // The first flush closes an empty epoch of its own.
  ASSERT_EQ(dag->epochs().size(), 3u);
  EXPECT_EQ(dag->epochs()[0].writes, 0u);
  EXPECT_EQ(dag->epochs()[1].writes, 3u);
  EXPECT_EQ(dag->epochs()[1].end_event, 9u);
  EXPECT_EQ(dag->epochs()[2].writes, 1u);
}

TEST(EpochDagTest, ReductionDropsEdgesImpliedThroughOverlaps) {
  Script s(16);
  s.Write(0, 1, 'a');                      // op 0: events 0,1
  const uint32_t b = s.Submit(1, 1, 'b');  // op 1: 2
  s.Write(2, 1, 'c');                      // op 2: 3,4 (inside b)
  s.Complete(b);                           // 5
  s.Write(3, 1, 'd');                      // op 3: 6,7
  Trace t = std::move(s).Build();
  std::unique_ptr<EpochDag> dag = BuildDag(t);
  ASSERT_NE(dag, nullptr);
  // a precedes b and c; d follows both b and c, but not a directly.
  EXPECT_THAT(Edges(*dag), ElementsAre("0->1", "0->2", "1->3", "2->3"));
}

TEST(EpochDagTest, CoverageEdgeMaySkipOverOtherNodes) {
  Script s(16);
  s.Write(0, 1, 'a');  // events 0,1
  s.Mark("m");         // 2
  s.Discard(4, 4);     // 3,4
  s.Flush();           // 5,6
  Trace t = std::move(s).Build();
  std::unique_ptr<EpochDag> dag = BuildDag(t);
  ASSERT_NE(dag, nullptr);
  EXPECT_THAT(Labels(*dag),
              ElementsAre("e0 W 0+1", "e2 mark m", "e3 D 4+4",
                          "e5 F\ncrash point before complete"));
  // The discard is never covered; the write is, past the mark and discard.
  EXPECT_THAT(Edges(*dag), ElementsAre("0->1", "0=>3", "1->2", "2->3"));
}

TEST(EpochDagTest, FailedFlushCoversNothingAndPreflushWriteCovers) {
  TraceBuilder b("builder", "");
  Device d;
  d.name = "dev0";
  d.num_sectors = 16;
  ASSERT_TRUE(b.AddDevice(d).ok());
  auto write = [&](uint64_t sector, uint32_t flags) {
    Op op;
    op.sector = sector;
    op.num_sectors = 1;
    op.flags = flags;
    op.data = b.Own(std::string(512, 'x'));
    return op;
  };
  Op flush;
  flush.kind = OpKind::kFlush;
  uint64_t entry = 0;
  ASSERT_TRUE(b.SubmitAndComplete(write(0, 0), entry++).ok());  // events 0,1
  absl::StatusOr<uint32_t> f = b.Submit(flush, entry++);        // 2
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(b.Complete(*f, -5, entry++).ok());                // 3: failed
  ASSERT_TRUE(b.SubmitAndComplete(write(1, kPreflush | kMeta), entry++)
                  .ok());                                       // 4,5
  ASSERT_TRUE(b.SubmitAndComplete(write(2, 0), entry++).ok());  // 6,7
  absl::StatusOr<Trace> t = std::move(b).Build();
  ASSERT_TRUE(t.ok());
  std::unique_ptr<EpochDag> dag = BuildDag(*t);
  ASSERT_NE(dag, nullptr);
  EXPECT_THAT(Labels(*dag),
              ElementsAre("e0 W 0+1", "e2 F, error -5",
                          "e4 W 1+1 PREFLUSH|META\ncrash point before complete",
                          "e6 W 2+1"));
  EXPECT_THAT(Edges(*dag), ElementsAre("0->1", "0=>2", "1->2", "2->3"));
  ASSERT_EQ(dag->epochs().size(), 2u);
  EXPECT_EQ(dag->epochs()[0].flush_op, 2u);  // the PREFLUSH write
  EXPECT_EQ(dag->epochs()[0].end_event, 5u);
}

TEST(EpochDagTest, EpochsAndCoverageArePerDevice) {
  TraceBuilder b("builder", "");
  for (const char* name : {"a", "b"}) {
    Device d;
    d.name = name;
    d.num_sectors = 16;
    ASSERT_TRUE(b.AddDevice(d).ok());
  }
  auto op = [&](OpKind kind, uint32_t dev) {
    Op o;
    o.kind = kind;
    o.device = dev;
    if (kind == OpKind::kWrite) {
      o.num_sectors = 2;
      o.data = b.Own(std::string(1024, 'x'));
    }
    return o;
  };
  uint64_t entry = 0;
  ASSERT_TRUE(b.SubmitAndComplete(op(OpKind::kWrite, 0), entry++).ok());
  ASSERT_TRUE(b.SubmitAndComplete(op(OpKind::kWrite, 1), entry++).ok());
  ASSERT_TRUE(b.SubmitAndComplete(op(OpKind::kFlush, 1), entry++).ok());
  ASSERT_TRUE(b.SubmitAndComplete(op(OpKind::kFlush, 0), entry++).ok());
  absl::StatusOr<Trace> t = std::move(b).Build();
  ASSERT_TRUE(t.ok());
  std::unique_ptr<EpochDag> dag = BuildDag(*t);
  ASSERT_NE(dag, nullptr);
  EXPECT_THAT(Labels(*dag),
              ElementsAre("e0 a W 0+2", "e2 b W 0+2",
                          "e4 b F\ncrash point before complete",
                          "e6 a F\ncrash point before complete"));
  EXPECT_THAT(Edges(*dag), ElementsAre("0->1", "0=>3", "1=>2", "2->3"));
  ASSERT_EQ(dag->epochs().size(), 2u);
  EXPECT_EQ(dag->epochs()[0].device, 0u);
  EXPECT_EQ(dag->epochs()[0].end_event, 7u);
  EXPECT_EQ(dag->epochs()[1].device, 1u);
  EXPECT_EQ(dag->epochs()[1].end_event, 5u);
  std::vector<int32_t> epochs;
  for (const DagNode& n : dag->nodes()) epochs.push_back(n.epoch);
  EXPECT_THAT(epochs, ElementsAre(0, 1, 1, 0));
}

TEST(EpochDagTest, MarksLimitTheRange) {
  Script s(16);
  s.Write(0, 1, 'a');  // events 0,1
  s.Mark("start");     // 2
  s.Write(1, 1, 'b');  // 3,4
  s.Flush();           // 5,6
  s.Mark("stop");      // 7
  s.Write(2, 1, 'c');  // 8,9
  Trace t = std::move(s).Build();
  EpochDagOptions o;
  o.points.from_mark = "start";
  o.points.to_mark = "stop";
  std::unique_ptr<EpochDag> dag = BuildDag(t, o);
  ASSERT_NE(dag, nullptr);
  EXPECT_THAT(Labels(*dag),
              ElementsAre("e2 mark start", "e3 W 1+1",
                          "e5 F\ncrash point before complete", "e7 mark stop"));
  EXPECT_THAT(Edges(*dag), ElementsAre("0->1", "1=>2", "2->3"));
  o.points.to_mark = "nope";
  absl::StatusOr<std::unique_ptr<EpochDag>> bad = EpochDag::Build(t, o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'start', 'stop'"));
}

TEST(EpochDagTest, LargeEpochsCollapseIntoRuns) {
  Script s(64);
  for (int i = 0; i < 10; ++i) s.Write(i * 2, 2, 'a');  // events 0..19
  s.Flush();                                              // 20,21
  s.Write(40, 1, 'b', kFua);                              // 22,23
  s.Write(41, 1, 'c');                                    // 24,25
  s.Write(42, 3, 'd');                                    // 26,27
  Trace t = std::move(s).Build();
  EpochDagOptions o;
  o.max_nodes = 5;
  std::unique_ptr<EpochDag> dag = BuildDag(t, o);
  ASSERT_NE(dag, nullptr);
  EXPECT_TRUE(dag->collapsed());
  EXPECT_EQ(dag->uncollapsed_nodes(), 14u);
  EXPECT_THAT(Labels(*dag),
              ElementsAre("writes e0..e18 (10 writes, 20 sectors)",
                          "e20 F\ncrash point before complete",
                          "e22 W 40+1 FUA\ncrash point before complete",
                          "writes e24..e26 (2 writes, 4 sectors)"));
  EXPECT_EQ(dag->nodes()[0].kind, DagNodeKind::kWriteRun);
  EXPECT_EQ(dag->nodes()[0].run_writes, 10u);
  EXPECT_EQ(dag->nodes()[0].complete_event, 19u);
  EXPECT_THAT(Edges(*dag), ElementsAre("0=>1", "1->2", "2->3"));
  o.max_nodes = 14;
  dag = BuildDag(t, o);
  ASSERT_NE(dag, nullptr);
  EXPECT_FALSE(dag->collapsed());
  EXPECT_EQ(dag->nodes().size(), 14u);
  // A chain: the flush covers the nine earlier writes through the last.
  EXPECT_EQ(dag->edges().size(), 13u);
  EXPECT_EQ(dag->edges()[9].kind, DagEdgeKind::kCovers);
  EXPECT_EQ(dag->edges()[9].from, 9u);
}

TEST(EpochDagTest, DotHasEveryNodeAndEdgeAndRenders) {
  Script s(16);
  s.Write(0, 1, 'a');                      // events 0,1
  const uint32_t b = s.Submit(1, 1, 'b');  // 2
  const uint32_t c = s.Submit(2, 1, 'c');  // 3
  s.Complete(c);                           // 4
  s.Complete(b);                           // 5
  s.Flush();                               // 6,7
  s.Write(3, 1, 'd', kFua);                // 8,9
  s.Mark("say \"hi\"");                    // 10
  Trace t = std::move(s).Build();
  std::unique_ptr<EpochDag> dag = BuildDag(t);
  ASSERT_NE(dag, nullptr);
  // The flush covers all three writes; the first through the other two.
  EXPECT_THAT(Edges(*dag),
              ElementsAre("0->1", "0->2", "1=>3", "2=>3", "3->4", "4->5"));
  absl::StatusOr<std::string> dot = dag->ToDot();
  ASSERT_TRUE(dot.ok()) << dot.status();
  EXPECT_EQ(*dot,
            "digraph G {\n"
            "label=\"trace: 6 nodes, 6 edges; 3 crash points (red nodes; one "
            "at the end of the trace); dashed blue: flush coverage\";\n"
            "labelloc=t;\n"
            "node [fontname=\"monospace\", fontsize=10];\n"
            "0[label=\"e0 W 0+1\", shape=box];\n"
            "1[label=\"e2 W 1+1\", shape=box];\n"
            "2[label=\"e3 W 2+1\", shape=box];\n"
            "3[label=\"e6 F\\ncrash point before complete\", shape=diamond, "
            "color=red, penwidth=2];\n"
            "4[label=\"e8 W 3+1 FUA\\ncrash point before complete\", "
            "shape=box, style=bold, color=red, penwidth=2];\n"
            "5[label=\"e10 mark say \\\"hi\\\"\", shape=note];\n"
            "0->1 ;\n"
            "0->2 ;\n"
            "1->3 [style=dashed, color=blue, tooltip=\"covers\"];\n"
            "2->3 [style=dashed, color=blue, tooltip=\"covers\"];\n"
            "3->4 ;\n"
            "4->5 ;\n"
            "}\n");
  DotOptions with_clusters;
  with_clusters.clusters = true;
  absl::StatusOr<std::string> clustered = dag->ToDot(with_clusters);
  ASSERT_TRUE(clustered.ok()) << clustered.status();
  EXPECT_EQ(Count(*clustered, "subgraph cluster_"), 2u);
  EXPECT_THAT(*clustered, HasSubstr("label=\"epoch 1 (not closed)\""));
  EXPECT_EQ(Count(*clustered, "->"), 6u);
  EXPECT_EQ(Count(*clustered, "[label="), 6u);

  for (const auto& [name, text] :
       {std::pair{"plain", *dot}, std::pair{"clusters", *clustered}}) {
    const std::string svg = RenderSvg(text, name);
    if (svg.empty()) {
      GTEST_SKIP() << "Graphviz (Debian package graphviz) is not installed: "
                      "the DOT text was checked, not rendered";
    }
    EXPECT_EQ(Count(svg, "class=\"node\""), 6u) << name;
    EXPECT_EQ(Count(svg, "class=\"edge\""), 6u) << name;
    EXPECT_EQ(Count(svg, "class=\"cluster\""),
              std::string(name) == "clusters" ? 2u : 0u);
    EXPECT_THAT(svg, HasSubstr("e8 W 3+1 FUA"));
  }
}

TEST(EpochDagTest, LongSequentialTraceStaysLinear) {
  Script s(1 << 16);
  for (int i = 0; i < 50000; ++i) {
    s.Write(i % 60000, 1, 'a');
    if (i % 1000 == 999) s.Flush();
  }
  Trace t = std::move(s).Build();
  EpochDagOptions o;
  o.max_nodes = 0;
  std::unique_ptr<EpochDag> dag = BuildDag(t, o);
  ASSERT_NE(dag, nullptr);
  EXPECT_EQ(dag->nodes().size(), 50050u);
  // A chain; each flush covers its epoch through its last write.
  EXPECT_EQ(dag->edges().size(), 50049u);
  size_t covers = 0;
  for (const DagEdge& e : dag->edges()) {
    covers += e.kind == DagEdgeKind::kCovers;
  }
  EXPECT_EQ(covers, 50u);
  EXPECT_EQ(dag->epochs().size(), 50u);
}

}  // namespace
}  // namespace crashenum
