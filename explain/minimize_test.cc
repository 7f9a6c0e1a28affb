#include "explain/minimize.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/crash_state.h"
#include "core/trace.h"
#include "enumerator/state_space.h"
#include "enumerator/test_traces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_traces::Script;

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An oracle that judges the bytes of the one image, counts its runs, and,
// when it mutates, scribbles over its image after reading it.
class FakeOracle : public Oracle {
 public:
  FakeOracle(std::function<Verdict(const std::string&)> judge, bool mutates)
      : judge_(std::move(judge)) {
    traits_.mutates_image = mutates;
  }
  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }
  Verdict Check(const ImageSet& images, const StateId&) override {
    ++runs_;
    const std::string bytes = ReadFile(images.paths[0]);
    if (traits_.mutates_image) {
      std::ofstream(images.paths[0], std::ios::binary | std::ios::trunc)
          << std::string(bytes.size(), 'Z');
    }
    return judge_(bytes);
  }
  int runs() const { return runs_; }

 private:
  std::string name_ = "fake";
  OracleTraits traits_;
  std::function<Verdict(const std::string&)> judge_;
  int runs_ = 0;
};

char SectorByte(const std::string& image, uint64_t sector) {
  return image[sector * 512];
}

// Four completed writes, w_i to sector i with 'A' + i; none durable at the
// end. Bit i is w_i.
class FourWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Script s(8);
    for (int i = 0; i < 4; ++i) s.Write(i, 1, static_cast<char>('A' + i));
    trace_ = std::make_unique<Trace>(std::move(s).Build());
    hashes_ = *UnitHashes::Build(*trace_, 0);
    space_ = *StateSpace::Build(*hashes_, trace_->events().size(), {});
    ASSERT_EQ(space_->num_bits(), 4u);
  }
  StateId State(std::vector<int> persisted) const {
    StateId id;
    id.event = static_cast<uint32_t>(trace_->events().size());
    id.unit_bytes = 512;
    id.bits = Bitmap(4);
    for (int i : persisted) id.bits.Set(i, true);
    return id;
  }
  // FAIL when both w1 and w3 are missing.
  static Verdict NeedsW1OrW3(const std::string& image) {
    if (SectorByte(image, 1) != 'B' && SectorByte(image, 3) != 'D') {
      return Verdict::Fail("w1 and w3 missing");
    }
    return Verdict::Pass();
  }
  MinimizeOptions Options() const {
    MinimizeOptions o;
    o.work_dir = TmpDir();
    return o;
  }

  std::unique_ptr<Trace> trace_;
  std::unique_ptr<UnitHashes> hashes_;
  std::unique_ptr<StateSpace> space_;
};

TEST_F(FourWritesTest, MinimizesToAOneMinimalFailingState) {
  // Mutating: each run sees a fresh copy, never the scribbles of the last.
  FakeOracle oracle(NeedsW1OrW3, /*mutates=*/true);
  std::vector<MinimizeProgress> progress;
  MinimizeOptions options = Options();
  options.on_progress = [&](const MinimizeProgress& p) {
    progress.push_back(p);
  };
  absl::StatusOr<MinimizeResult> r =
      Minimize(*space_, State({}), oracle, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, State({0, 2}));
  EXPECT_EQ(r->verdict.kind, VerdictKind::kFail);
  EXPECT_EQ(r->losses.dropped, 2u);
  EXPECT_EQ(r->losses.torn, 0u);
  EXPECT_EQ(r->original, State({}));
  EXPECT_EQ(r->original_losses.dropped, 4u);
  EXPECT_TRUE(r->one_minimal);
  // ddmin: the original; none missing; halves {0,1} {2,3}; quarters {0}
  // {1} {2} {3}; complement {1,2,3} fails; then {1} {2} {3} {2,3} are
  // known images, {1,3} fails; then {1} and {3} are known. 15 candidates,
  // 10 distinct images.
  EXPECT_EQ(r->tries, 15u);
  EXPECT_EQ(r->oracle_runs, 10u);
  EXPECT_EQ(oracle.runs(), 10);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.front().current.dropped, 4u);
  EXPECT_EQ(progress.back().current.dropped, 2u);
  EXPECT_EQ(progress.back().oracle_runs, 10u);

  // 1-minimal: persisting either remaining missing write makes it pass.
  for (int extra : {1, 3}) {
    FakeOracle check(NeedsW1OrW3, false);
    absl::StatusOr<MinimizeResult> again =
        Minimize(*space_, State({0, 2, extra}), check, Options());
    EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST_F(FourWritesTest, ReturnsAFailingOriginalThatCannotShrink) {
  FakeOracle oracle(NeedsW1OrW3, false);
  absl::StatusOr<MinimizeResult> r =
      Minimize(*space_, State({0, 2}), oracle, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, State({0, 2}));
  EXPECT_EQ(r->oracle_runs, 4u);  // original, none missing, {1}, {3}
  EXPECT_TRUE(r->one_minimal);
}

TEST_F(FourWritesTest, AFailingFullStateHasNothingMissing) {
  FakeOracle oracle([](const std::string&) { return Verdict::Fail("always"); },
                    false);
  absl::StatusOr<MinimizeResult> r =
      Minimize(*space_, State({1}), oracle, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, State({0, 1, 2, 3}));
  EXPECT_EQ(r->losses.dropped, 0u);
  EXPECT_EQ(r->original_losses.dropped, 3u);
  EXPECT_EQ(r->oracle_runs, 2u);
}

TEST_F(FourWritesTest, RefusesAPassingOrErroringState) {
  FakeOracle oracle(NeedsW1OrW3, false);
  absl::StatusOr<MinimizeResult> r =
      Minimize(*space_, State({1}), oracle, Options());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("state " + State({1}).ToString() +
                                              " passes; nothing to minimize"));
  FakeOracle erring(
      [](const std::string&) { return Verdict::Error("timed out"); }, false);
  r = Minimize(*space_, State({}), erring, Options());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("ERROR: timed out"));
}

TEST_F(FourWritesTest, ErrorVerdictsDoNotCountAsFailing) {
  // FAIL only for the original (nothing persisted), ERROR for the rest.
  FakeOracle oracle(
      [](const std::string& image) {
        for (uint64_t s = 0; s < 4; ++s) {
          if (SectorByte(image, s) != 0) return Verdict::Error("flaky");
        }
        return Verdict::Fail("empty");
      },
      false);
  absl::StatusOr<MinimizeResult> r =
      Minimize(*space_, State({}), oracle, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, State({}));
  EXPECT_EQ(r->losses.dropped, 4u);
}

TEST_F(FourWritesTest, StopsAtTheOracleRunBound) {
  FakeOracle oracle(NeedsW1OrW3, false);
  MinimizeOptions options = Options();
  options.max_oracle_runs = 5;
  absl::StatusOr<MinimizeResult> r =
      Minimize(*space_, State({}), oracle, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->one_minimal);
  EXPECT_EQ(r->oracle_runs, 5u);
  EXPECT_EQ(oracle.runs(), 5);
  EXPECT_EQ(r->state, State({}));  // nothing smaller found in 5 runs
}

TEST_F(FourWritesTest, NearestPassingStatePersistsTheFewestWrites) {
  FakeOracle oracle(NeedsW1OrW3, false);
  NearestOptions options;
  options.work_dir = TmpDir();
  absl::StatusOr<NearestResult> r =
      FindNearestPassing(*space_, State({}), oracle, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->original.kind, VerdictKind::kFail);
  ASSERT_TRUE(r->found);
  EXPECT_EQ(r->state, State({1}));
  EXPECT_THAT(r->persisted, ElementsAre(1u));
  EXPECT_EQ(r->candidates, 2u);  // {0} fails, {1} passes
  EXPECT_EQ(r->oracle_runs, 3u);
  EXPECT_FALSE(r->bound_hit);

  options.max_oracle_runs = 2;
  r = FindNearestPassing(*space_, State({}), oracle, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->found);
  EXPECT_TRUE(r->bound_hit);
  EXPECT_EQ(r->oracle_runs, 2u);

  r = FindNearestPassing(*space_, State({3}), oracle, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->found);
  EXPECT_EQ(r->state, State({3}));
  EXPECT_TRUE(r->persisted.empty());
}

TEST_F(FourWritesTest, TornWritesAreMissingToo) {
  Script s(8);
  s.Write(0, 2, 'A');
  s.Write(2, 2, 'B');
  Trace trace = std::move(s).Build();
  std::unique_ptr<UnitHashes> hashes = *UnitHashes::Build(trace, 0);
  std::unique_ptr<StateSpace> space =
      *StateSpace::Build(*hashes, trace.events().size(), {});
  StateId torn;
  torn.event = static_cast<uint32_t>(trace.events().size());
  torn.unit_bytes = 512;
  torn.bits = Bitmap(4);
  torn.bits.Set(1, true);  // w0 torn: sector 1 only; w1 dropped
  EXPECT_THAT(MissingOps(*space, torn), ElementsAre(0u, 1u));
  EXPECT_EQ(CountLosses(*space, torn).torn, 1u);
  EXPECT_EQ(CountLosses(*space, torn).dropped, 1u);
  // FAIL when sector 3 is not 'B' (w1 missing).
  FakeOracle oracle(
      [](const std::string& image) {
        return SectorByte(image, 3) == 'B' ? Verdict::Pass()
                                           : Verdict::Fail("no B");
      },
      false);
  absl::StatusOr<MinimizeResult> r = Minimize(*space, torn, oracle, Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->original_losses.torn, 1u);
  EXPECT_EQ(r->losses.torn, 0u);
  EXPECT_EQ(r->losses.dropped, 1u);
  EXPECT_EQ(r->state.ToString(), "e4-u512-n4-3");  // w0 whole, w1 dropped
  EXPECT_EQ(r->oracle_runs, 4u);
}

// w0 completes, then a PREFLUSH write p is submitted and never completes:
// p's data may persist only with w0's.
TEST(MinimizePreflushTest, SkipsCandidatesThatBreakAPreflush) {
  Script s(4);
  s.Write(0, 1, 'A');
  s.Submit(1, 1, 'P', kPreflush);
  Trace trace = std::move(s).Build();
  std::unique_ptr<UnitHashes> hashes = *UnitHashes::Build(trace, 0);
  std::unique_ptr<StateSpace> space =
      *StateSpace::Build(*hashes, trace.events().size(), {});
  StateId none;
  none.event = static_cast<uint32_t>(trace.events().size());
  none.unit_bytes = 512;
  none.bits = Bitmap(2);
  // Persisting p alone is not a crash state.
  absl::StatusOr<Resolution> base = space->Resolve(none);
  ASSERT_TRUE(base.ok());
  absl::StatusOr<ResolvedCandidate> bad =
      PersistWhole(*space, none, *base, {1});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("PREFLUSH"));

  FakeOracle oracle(
      [](const std::string& image) {
        return SectorByte(image, 0) == 'A' ? Verdict::Pass()
                                           : Verdict::Fail("no A");
      },
      false);
  MinimizeOptions options;
  options.work_dir = TmpDir();
  absl::StatusOr<MinimizeResult> r = Minimize(*space, none, oracle, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, none);      // persisting p alone is skipped, not judged
  EXPECT_EQ(r->oracle_runs, 3u);  // the original, both persisted, w0 only
  EXPECT_EQ(oracle.runs(), 3);
  EXPECT_TRUE(r->one_minimal);
}

// a and b write sector 0 concurrently: where both persist, the order choice
// says which one shows.
TEST(PersistWholeTest, KeepsOrderChoicesWhereTheyStillApply) {
  Script s(4);
  const uint32_t a = s.Submit(0, 1, 'a');
  const uint32_t b = s.Submit(0, 1, 'b');
  s.Complete(a);
  s.Complete(b);
  s.Write(2, 1, 'c');
  Trace trace = std::move(s).Build();
  std::unique_ptr<UnitHashes> hashes = *UnitHashes::Build(trace, 0);
  std::unique_ptr<StateSpace> space =
      *StateSpace::Build(*hashes, trace.events().size(), {});
  ASSERT_EQ(space->num_bits(), 3u);                   // a, b, c
  StateId both = *StateId::Parse("e6-u512-n3-3-o1");  // b wins, c dropped
  absl::StatusOr<Resolution> r = space->Resolve(both);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<ResolvedCandidate> c = PersistWhole(*space, both, *r, {2});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->id.ToString(), "e6-u512-n3-7-o1");

  // Only b persisted: persisting a makes them compete; the winner of the
  // base (b) is kept.
  StateId only_b = *StateId::Parse("e6-u512-n3-2");
  r = space->Resolve(only_b);
  ASSERT_TRUE(r.ok()) << r.status();
  c = PersistWhole(*space, only_b, *r, {0});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->id.ToString(), "e6-u512-n3-3-o1");
  // Nothing persisted: the first competitor is chosen.
  StateId nothing = *StateId::Parse("e6-u512-n3-0");
  r = space->Resolve(nothing);
  c = PersistWhole(*space, nothing, *r, {0, 1});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->id.ToString(), "e6-u512-n3-3-o0");
}

TEST(StateJudgeTest, JudgesEachImageOnceAndCleansUp) {
  Script s(4);
  s.Write(0, 1, 'a');
  const uint32_t z = s.Submit(1, 1, '\0');  // zeroes over zeroes: folded
  s.Complete(z);
  Trace trace = std::move(s).Build();
  std::unique_ptr<UnitHashes> hashes = *UnitHashes::Build(trace, 0);
  std::unique_ptr<StateSpace> space =
      *StateSpace::Build(*hashes, trace.events().size(), {});
  ASSERT_EQ(space->num_bits(), 2u);
  FakeOracle oracle(
      [](const std::string& image) {
        return image.substr(0, 512) == std::string(512, 'a')
                   ? Verdict::Pass()
                   : Verdict::Fail("no a");
      },
      false);
  const std::string parent = TmpDir() + "/judge";
  std::filesystem::create_directories(parent);
  {
    absl::StatusOr<std::unique_ptr<StateJudge>> judge =
        StateJudge::Create(*space, oracle, parent);
    ASSERT_TRUE(judge.ok()) << judge.status();
    EXPECT_FALSE(std::filesystem::is_empty(parent));
    auto judge_id = [&](const std::string& text) {
      ResolvedCandidate c;
      c.id = *StateId::Parse(text);
      c.resolution = *space->Resolve(c.id);
      return (*judge)->Judge(c);
    };
    // Bit 1 (the folded write) does not change the image.
    EXPECT_EQ(judge_id("e4-u512-n2-0")->kind, VerdictKind::kFail);
    EXPECT_EQ(judge_id("e4-u512-n2-2")->kind, VerdictKind::kFail);
    EXPECT_EQ(judge_id("e4-u512-n2-1")->kind, VerdictKind::kPass);
    EXPECT_EQ(judge_id("e4-u512-n2-3")->kind, VerdictKind::kPass);
    EXPECT_EQ((*judge)->oracle_runs(), 2u);
    EXPECT_EQ(oracle.runs(), 2);
  }
  EXPECT_TRUE(std::filesystem::is_empty(parent));
  absl::StatusOr<std::unique_ptr<StateJudge>> missing =
      StateJudge::Create(*space, oracle, "/nonexistent-dir");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace crashenum
