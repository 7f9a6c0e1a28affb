#include "explain/explain.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "core/crash_state.h"
#include "core/trace.h"
#include "enumerator/state_space.h"
#include "enumerator/test_traces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace crashenum {
namespace {

using ::testing::HasSubstr;
using testing_traces::Script;

// Events (entries) of the trace:
//   0 (0) mark start; w0 sectors 0-3 'a' 1-2 (1-2); wq sector 56 3-4 (3-4);
//   flush 5-6 (5); mark m1 7 (6); wr sector 60 8-9 (7-8); flush 10-11 (9);
//   mark m2 12 (10); w1 sectors 8-11 13-14 (11-12); w2 sectors 16-23 META
//   15-16 (13-14); discard sectors 0-1 17-18 (15); a sectors 40-41 submit 19
//   (16); b sectors 40-41 submit 20 (17); a, b complete 21, 22 (18, 19);
//   z sectors 48-49 of zeroes 23-24 (20-21); w3 sectors 8-9 submit 25 (22),
//   never completes. The crash point is the end, event 26.
// Optional ops and their bits: w1 0-3, w2 4-11, discard 12-13, a 14-15,
// b 16-17, z 18-19 (folded: zeroes over zeroes), w3 20-21.
class ExplainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Script s(64);
    s.Mark("start");
    s.Write(0, 4, 'a');
    s.Write(56, 1, 'q');
    s.Flush();
    s.Mark("m1");
    s.Write(60, 1, 'r');
    s.Flush();
    s.Mark("m2");
    s.Write(8, 4, 'b');
    s.Write(16, 8, 'c', kMeta);
    s.Discard(0, 2);
    const uint32_t a = s.Submit(40, 2, 'x');
    const uint32_t b = s.Submit(40, 2, 'y');
    s.Complete(a);
    s.Complete(b);
    s.Write(48, 2, '\0');
    s.Submit(8, 2, 'd');
    trace_ = std::make_unique<Trace>(std::move(s).Build());
    ASSERT_EQ(trace_->events().size(), 26u);
    hashes_ = *UnitHashes::Build(*trace_, 0);
    space_ = *StateSpace::Build(*hashes_, 26, ModelOptions{});
    ASSERT_EQ(space_->num_bits(), 22u);
  }

  // w1 dropped, w2 torn (sectors 18-21), discard, a, b and z persisted, b
  // winning sectors 40-41, w3 dropped.
  StateId Mixed() const {
    StateId id;
    id.event = 26;
    id.unit_bytes = 512;
    id.bits = Bitmap(22);
    for (size_t i : {6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19}) {
      id.bits.Set(i, true);
    }
    id.order = {1, 1};
    return id;
  }

  StateId AllPersisted() const {
    StateId id = Mixed();
    for (size_t i = 0; i < 22; ++i) id.bits.Set(i, true);
    return id;
  }

  std::unique_ptr<Trace> trace_;
  std::unique_ptr<UnitHashes> hashes_;
  std::unique_ptr<StateSpace> space_;
};

TEST_F(ExplainTest, ListsEveryOptionalOpWithItsStatus) {
  absl::StatusOr<Explanation> e = Explain(*space_, Mixed());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->state, Mixed().ToString());
  EXPECT_EQ(e->event, 26u);
  EXPECT_EQ(e->point, "end of trace");
  ASSERT_EQ(e->marks_before.size(), 3u);
  EXPECT_EQ(e->marks_before[0].label, "m2");
  EXPECT_EQ(e->marks_before[0].event, 12u);
  EXPECT_EQ(e->marks_before[0].entry, 10u);
  EXPECT_EQ(e->marks_before[2].label, "start");

  EXPECT_EQ(e->durable_ops, 3u);
  ASSERT_EQ(e->durable_by_epoch.size(), 2u);
  EXPECT_EQ(e->durable_by_epoch[0].epoch, 0u);
  EXPECT_EQ(e->durable_by_epoch[0].ops, 2u);
  EXPECT_EQ(e->durable_by_epoch[1].epoch, 1u);
  EXPECT_EQ(e->durable_by_epoch[1].ops, 1u);
  EXPECT_TRUE(e->durable.empty());

  ASSERT_EQ(e->optional.size(), 7u);
  const OpExplanation& w1 = e->optional[0];
  EXPECT_EQ(w1.op, 5u);
  EXPECT_EQ(w1.submit_event, 13u);
  EXPECT_EQ(w1.entry, 11u);
  EXPECT_EQ(w1.status, OpStatus::kDropped);
  EXPECT_EQ(w1.epoch, 2u);
  EXPECT_TRUE(w1.completed);
  EXPECT_EQ(w1.mark_before.label, "m2");

  const OpExplanation& w2 = e->optional[1];
  EXPECT_EQ(w2.status, OpStatus::kTorn);
  EXPECT_EQ(w2.flags, uint32_t{kMeta});
  EXPECT_EQ(w2.range, (Extent{16, 23}));
  ASSERT_EQ(w2.persisted.size(), 1u);
  EXPECT_EQ(w2.persisted[0], (Extent{18, 21}));
  EXPECT_EQ(DescribeStatus(w2), "torn: sectors 18-21 of 16-23 persisted");

  EXPECT_EQ(e->optional[2].kind, OpKind::kDiscard);
  EXPECT_EQ(e->optional[2].status, OpStatus::kPersisted);
  EXPECT_TRUE(e->optional[2].folded.empty());
  ASSERT_EQ(e->optional[5].folded.size(), 1u);
  EXPECT_EQ(e->optional[5].folded[0], (Extent{48, 49}));
  EXPECT_FALSE(e->optional[6].completed);
  EXPECT_EQ(e->optional[6].status, OpStatus::kDropped);
  EXPECT_EQ(e->persisted_ops, 4u);
  EXPECT_EQ(e->dropped_ops, 2u);
  EXPECT_EQ(e->torn_ops, 1u);

  ASSERT_EQ(e->order.size(), 1u);
  EXPECT_EQ(e->order[0].range, (Extent{40, 41}));
  EXPECT_EQ(e->order[0].winner.op, 9u);
  ASSERT_EQ(e->order[0].others.size(), 1u);
  EXPECT_EQ(e->order[0].others[0].op, 8u);
}

TEST_F(ExplainTest, FormatsStableText) {
  absl::StatusOr<Explanation> e = Explain(*space_, Mixed());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(
      FormatExplanation(*e),
      "state " + Mixed().ToString() +
          "\n"
          "crash point e26: end of trace\n"
          "marks before it: 'm2' (e12, entry 10), 'm1' (e7, entry 6), "
          "'start' (e0, entry 0)\n"
          "durable: 3 ops (dev0: 2 in epoch 0, 1 in epoch 1)\n"
          "optional: 7 ops: 4 persisted, 2 dropped, 1 torn\n"
          "  e13 entry 11 write dev0 sectors 8-11, epoch 2, after 'm2': "
          "dropped\n"
          "  e15 entry 13 write dev0 sectors 16-23 [META], epoch 2, after "
          "'m2': torn: sectors 18-21 of 16-23 persisted\n"
          "  e17 entry 15 discard dev0 sectors 0-1, epoch 2, after 'm2': "
          "persisted\n"
          "  e19 entry 16 write dev0 sectors 40-41, epoch 2, after 'm2': "
          "persisted\n"
          "  e20 entry 17 write dev0 sectors 40-41, epoch 2, after 'm2': "
          "persisted\n"
          "  e23 entry 20 write dev0 sectors 48-49, epoch 2, after 'm2': "
          "persisted (folded: sectors 48-49)\n"
          "  e25 entry 22 write dev0 sectors 8-9, epoch 2, after 'm2', in "
          "flight: dropped\n"
          "order choices: 1\n"
          "  dev0 sectors 40-41: e20 entry 17 wins over e19 entry 16\n");
}

TEST_F(ExplainTest, VerboseListsDurableOps) {
  ExplainOptions options;
  options.verbose = true;
  absl::StatusOr<Explanation> e = Explain(*space_, Mixed(), options);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->durable.size(), 3u);
  EXPECT_EQ(e->durable[0].status, OpStatus::kDurable);
  EXPECT_EQ(e->durable[2].epoch, 1u);
  EXPECT_THAT(FormatExplanation(*e),
              HasSubstr("durable: 3 ops (dev0: 2 in epoch 0, 1 in epoch 1)\n"
                        "  e1 entry 1 write dev0 sectors 0-3, epoch 0, after "
                        "'start': durable\n"
                        "  e3 entry 3 write dev0 sector 56, epoch 0, after "
                        "'start': durable\n"
                        "  e8 entry 7 write dev0 sector 60, epoch 1, after "
                        "'m1': durable\n"
                        "optional:"));
}

TEST_F(ExplainTest, JsonCarriesTheSameContent) {
  absl::StatusOr<Explanation> e = Explain(*space_, Mixed());
  ASSERT_TRUE(e.ok()) << e.status();
  const nlohmann::json j = ExplanationToJson(*e);
  EXPECT_EQ(j["state"], Mixed().ToString());
  EXPECT_EQ(j["event"], 26);
  EXPECT_EQ(j["marks_before"][0]["label"], "m2");
  EXPECT_EQ(j["durable"]["ops"], 3);
  EXPECT_EQ(j["durable"]["by_epoch"][1]["epoch"], 1);
  EXPECT_FALSE(j["durable"].contains("list"));
  EXPECT_EQ(j["counts"],
            (nlohmann::json{{"persisted", 4}, {"dropped", 2}, {"torn", 1}}));
  ASSERT_EQ(j["optional"].size(), 7u);
  const nlohmann::json& w2 = j["optional"][1];
  EXPECT_EQ(w2["status"], "torn");
  EXPECT_EQ(w2["flags"], "META");
  EXPECT_EQ(w2["entry"], 13);
  EXPECT_EQ(w2["epoch"], 2);
  EXPECT_EQ(w2["range"], nlohmann::json::array({16, 23}));
  EXPECT_EQ(w2["persisted"], nlohmann::json::parse("[[18, 21]]"));
  EXPECT_EQ(w2["mark_before"]["label"], "m2");
  EXPECT_EQ(j["optional"][5]["folded"], nlohmann::json::parse("[[48, 49]]"));
  EXPECT_EQ(j["order"][0]["winner"]["entry"], 17);
  EXPECT_EQ(j["order"][0]["others"][0]["entry"], 16);
}

TEST_F(ExplainTest, DiffListsTheOpsWhoseStatusChanged) {
  absl::StatusOr<Explanation> a = Explain(*space_, Mixed());
  absl::StatusOr<Explanation> b = Explain(*space_, AllPersisted());
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<std::vector<OpChange>> d = Diff(*a, *b);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ(FormatDiff(*d),
            "e13 entry 11 write dev0 sectors 8-11: dropped -> persisted\n"
            "e15 entry 13 write dev0 sectors 16-23: torn: sectors 18-21 of "
            "16-23 persisted -> persisted\n"
            "e25 entry 22 write dev0 sectors 8-9: dropped -> persisted\n");
  const nlohmann::json j = DiffToJson(*d);
  EXPECT_EQ(j[1]["from"]["status"], "torn");
  EXPECT_EQ(j[1]["from"]["persisted"], nlohmann::json::parse("[[18, 21]]"));
  EXPECT_EQ(j[1]["to"], (nlohmann::json{{"status", "persisted"}}));

  absl::StatusOr<std::vector<OpChange>> same = Diff(*a, *a);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty());
  EXPECT_EQ(FormatDiff(*same), "no difference\n");
}

TEST_F(ExplainTest, DiffRefusesStatesOfDifferentCrashPoints) {
  std::unique_ptr<StateSpace> earlier = *StateSpace::Build(*hashes_, 12, {});
  StateId id;
  id.event = 12;
  id.unit_bytes = 512;
  id.bits = Bitmap(earlier->num_bits());
  absl::StatusOr<Explanation> a = Explain(*earlier, id);
  absl::StatusOr<Explanation> b = Explain(*space_, Mixed());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->optional.size(), 0u);
  absl::StatusOr<std::vector<OpChange>> d = Diff(*a, *b);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr("different crash points"));
}

TEST_F(ExplainTest, RejectsAForeignState) {
  StateId id = Mixed();
  id.event = 25;
  absl::StatusOr<Explanation> e = Explain(*space_, id);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(), HasSubstr("belongs to crash point e25"));
  id = Mixed();
  id.order = {1};
  e = Explain(*space_, id);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ExplainUnitsTest, UnitsSmallerThanASectorAreGivenInBytes) {
  Script s(8);
  s.Write(2, 1, 'w');  // bytes 1024-1535: units 4 and 5 of 256 bytes
  Trace trace = std::move(s).Build();
  std::unique_ptr<UnitHashes> hashes = *UnitHashes::Build(trace, 256);
  std::unique_ptr<StateSpace> space =
      *StateSpace::Build(*hashes, trace.events().size(), {});
  ASSERT_EQ(space->num_bits(), 2u);
  StateId id;
  id.event = static_cast<uint32_t>(trace.events().size());
  id.unit_bytes = 256;
  id.bits = Bitmap(2);
  id.bits.Set(1, true);
  absl::StatusOr<Explanation> e = Explain(*space, id);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->optional.size(), 1u);
  EXPECT_TRUE(e->optional[0].in_bytes);
  EXPECT_EQ(DescribeStatus(e->optional[0]),
            "torn: bytes 1280-1535 of 1024-1535 persisted");
  EXPECT_THAT(FormatExplanation(*e),
              HasSubstr("  e0 entry 0 write dev0 bytes 1024-1535, epoch 0: "
                        "torn: bytes 1280-1535 of 1024-1535 persisted\n"));
  EXPECT_THAT(FormatExplanation(*e), HasSubstr("no mark before it\n"));
}

}  // namespace
}  // namespace crashenum
