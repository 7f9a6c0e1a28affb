#include "check/prune_index.h"

#include <memory>
#include <vector>

#include "enumerator/enumerate.h"
#include "enumerator/test_traces.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using testing_traces::Script;

struct Fixture {
  explicit Fixture(Trace t) : trace(std::move(t)) {}
  Trace trace;
  std::unique_ptr<UnitHashes> hashes;
  std::unique_ptr<StateSpace> space;
};

// Three unflushed one-sector writes, 'a' at sector 0, 'b' at 1, 'c' at 2,
// and a crash at the end: three slots, three variables.
std::unique_ptr<Fixture> ThreeWrites() {
  Script s(4);
  s.Write(0, 1, 'a');
  s.Write(1, 1, 'b');
  s.Write(2, 1, 'c');
  auto f = std::make_unique<Fixture>(std::move(s).Build());
  f->hashes = *UnitHashes::Build(f->trace, 0);
  ModelOptions m;
  m.torn = false;
  f->space = *StateSpace::Build(*f->hashes, f->trace.events().size(), m);
  return f;
}

Resolution Resolve(const StateSpace& space, std::vector<uint8_t> vars) {
  StateId id;
  id.event = space.event();
  id.unit_bytes = space.hashes().id_unit_bytes();
  id.bits = space.BitsFor(vars);
  return *space.Resolve(id);
}

TEST(PruneIndexTest, StatesAgreeingOnTheReadSlotsInheritTheVerdict) {
  auto f = ThreeWrites();
  const StateSpace& space = *f->space;
  ASSERT_EQ(space.slots().size(), 3u);
  ASSERT_EQ(space.vars().size(), 3u);
  PruneIndex index(space);
  // The oracle of state {a, b, -} read only sector 0.
  const std::vector<uint32_t> read = index.SlotsOf({{0, 0}});
  ASSERT_EQ(read.size(), 1u);
  index.Add(read, Resolve(space, {1, 1, 0}), Verdict::Fail("a present"));
  // Every state with 'a' at sector 0 inherits FAIL, whatever else it shows.
  for (uint8_t b : {0, 1}) {
    for (uint8_t c : {0, 1}) {
      const Verdict* v = index.Find(Resolve(space, {1, b, c}));
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(v->kind, VerdictKind::kFail);
      EXPECT_EQ(v->message, "a present");
      EXPECT_EQ(index.Find(Resolve(space, {0, b, c})), nullptr);
    }
  }
}

TEST(PruneIndexTest, SeveralReadSetsAndTheBaseVersion) {
  auto f = ThreeWrites();
  const StateSpace& space = *f->space;
  PruneIndex index(space);
  // State {-, -, -} read sectors 1 and 2: both show the base.
  index.Add(index.SlotsOf({{0, 1}, {0, 2}, {0, 3}}), Resolve(space, {0, 0, 0}),
            Verdict::Pass());
  // State {a, b, c} read everything.
  index.Add(index.SlotsOf({{0, 0}, {0, 1}, {0, 2}}), Resolve(space, {1, 1, 1}),
            Verdict::Fail("all"));
  EXPECT_EQ(index.num_read_sets(), 2u);
  EXPECT_EQ(index.Find(Resolve(space, {1, 0, 0}))->kind, VerdictKind::kPass);
  EXPECT_EQ(index.Find(Resolve(space, {1, 1, 1}))->kind, VerdictKind::kFail);
  EXPECT_EQ(index.Find(Resolve(space, {0, 1, 0})), nullptr);
  EXPECT_EQ(index.Find(Resolve(space, {1, 1, 0})), nullptr);
}

TEST(PruneIndexTest, ErrorsAreNotRecordedAndUnknownUnitsAreSkipped) {
  auto f = ThreeWrites();
  const StateSpace& space = *f->space;
  PruneIndex index(space);
  // Sector 3 is no slot; device 1 does not exist.
  EXPECT_TRUE(index.SlotsOf({{0, 3}, {1, 0}}).empty());
  index.Add(index.SlotsOf({{0, 0}}), Resolve(space, {1, 0, 0}),
            Verdict::Error("timed out"));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.Find(Resolve(space, {1, 0, 0})), nullptr);
  // An empty read set covers every state of the crash point.
  index.Add({}, Resolve(space, {0, 0, 0}), Verdict::Pass());
  EXPECT_NE(index.Find(Resolve(space, {1, 1, 1})), nullptr);
}

}  // namespace
}  // namespace crashenum
