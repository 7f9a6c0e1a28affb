#include "enumerator/enumerate.h"

#include <set>
#include <string>
#include <vector>

#include "enumerator/state_space.h"
#include "enumerator/test_traces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;
using testing_traces::Script;

struct Outcome {
  std::vector<std::string> ids;
  std::set<std::pair<uint64_t, uint64_t>> images;
  uint64_t visited = 0;
  StateCount count;
};

// Enumerates the end-of-trace crash point and checks every state's ID
// resolves to the hash it was visited with.
Outcome EnumerateEnd(const Trace& t, ModelOptions m, EnumerateOptions e = {}) {
  auto hashes = UnitHashes::Build(t, m.atomic_unit);
  EXPECT_TRUE(hashes.ok()) << hashes.status();
  auto space = StateSpace::Build(**hashes, t.events().size(), m);
  EXPECT_TRUE(space.ok()) << space.status();
  Outcome r;
  r.count = CountStates(**space, e);
  r.visited = EnumerateStates(**space, e, [&](const VisitedState& s) {
    StateId id = s.Id();
    r.ids.push_back(id.ToString());
    absl::StatusOr<Resolution> res = (*space)->Resolve(id);
    EXPECT_TRUE(res.ok()) << res.status();
    if (res.ok()) EXPECT_EQ(res->hash, s.hash()) << id.ToString();
    r.images.insert({s.hash().lo, s.hash().hi});
    return true;
  });
  return r;
}

TEST(EnumerateTest, IndependentWritesGiveEverySubset) {
  Script s(8);
  s.Write(0, 1, 'a');
  s.Write(1, 1, 'b');
  Trace t = std::move(s).Build();
  Outcome r = EnumerateEnd(t, ModelOptions{});
  EXPECT_EQ(r.visited, 4u);
  EXPECT_EQ(r.images.size(), 4u);
  EXPECT_EQ(r.count.ToString(), "4");
  // Gray order: 00, 01, 11, 10.
  EXPECT_EQ(r.ids, (std::vector<std::string>{"e4-u512-n2-0", "e4-u512-n2-1",
                                             "e4-u512-n2-3", "e4-u512-n2-2"}));
}

TEST(EnumerateTest, OverwriteInOrderShowsTheLaterWrite) {
  Script s(8);
  s.Write(0, 1, 'a');
  s.Write(0, 1, 'b');
  Trace t = std::move(s).Build();
  Outcome r = EnumerateEnd(t, ModelOptions{});
  EXPECT_EQ(r.visited, 4u);
  EXPECT_EQ(r.images.size(), 3u);  // base, a, b ({a,b} shows b)
}

TEST(EnumerateTest, ConcurrentWritesEachMayWin) {
  Script s(8);
  uint32_t a = s.Submit(0, 1, 'a');
  uint32_t b = s.Submit(0, 1, 'b');
  s.Complete(a);
  s.Complete(b);
  Trace t = std::move(s).Build();
  Outcome r = EnumerateEnd(t, ModelOptions{});
  EXPECT_EQ(r.visited, 5u);  // {}, {a}, {b}, {a,b} x 2 orders
  EXPECT_EQ(r.images.size(), 3u);
  EXPECT_TRUE(r.count.at_least);
  int with_order = 0;
  for (const std::string& id : r.ids) with_order += id.find("-o") != std::string::npos;
  EXPECT_EQ(with_order, 2);
}

TEST(EnumerateTest, DurableWriteHidesEarlierOptionalOne) {
  Script s(8);
  s.Write(0, 1, 'a');
  s.Write(0, 1, 'b', kFua);  // durable, happens after a
  Trace t = std::move(s).Build();
  Outcome r = EnumerateEnd(t, ModelOptions{});
  EXPECT_EQ(r.visited, 1u);  // a is folded away
  EXPECT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.ids[0], "e4-u512-n1-1");  // folded units read as persisted
}

TEST(EnumerateTest, TearingSplitsWritesIntoUnits) {
  Script s(8);
  s.Write(0, 2, 'a');
  Trace t = std::move(s).Build();
  EXPECT_EQ(EnumerateEnd(t, ModelOptions{}).visited, 4u);
  ModelOptions whole;
  whole.torn = false;
  Outcome r = EnumerateEnd(t, whole);
  EXPECT_EQ(r.visited, 2u);
  EXPECT_EQ(r.ids[1], "e2-u512-n2-3");
  ModelOptions small;
  small.atomic_unit = 256;
  EXPECT_EQ(EnumerateEnd(t, small).visited, 16u);
}

TEST(EnumerateTest, UnitsThatChangeNothingAreFolded) {
  Script s(8);
  s.Write(0, 1, '\0');  // same bytes as the zero base
  s.Write(1, 1, 'x');
  Trace t = std::move(s).Build();
  Outcome r = EnumerateEnd(t, ModelOptions{});
  EXPECT_EQ(r.visited, 2u);
  EXPECT_EQ(r.images.size(), 2u);
}

TEST(EnumerateTest, PreflushInFlightNeedsWhatItCovers) {
  Script s(8);
  s.Write(0, 1, 'a');
  s.Submit(1, 1, 'p', kPreflush);
  Trace t = std::move(s).Build();
  Outcome r = EnumerateEnd(t, ModelOptions{});
  EXPECT_EQ(r.visited, 3u);  // not: p without a
  EXPECT_EQ(r.count.ToString(), "3");
}

TEST(EnumerateTest, DropAtMostBoundsMissingWrites) {
  Script s(8);
  for (int i = 0; i < 5; ++i) s.Write(i, 1, 'a' + i);
  Trace t = std::move(s).Build();
  ModelOptions m;
  m.torn = false;
  EnumerateOptions e;
  e.drop_at_most = 0;
  EXPECT_EQ(EnumerateEnd(t, m, e).visited, 1u);
  e.drop_at_most = 1;
  Outcome r = EnumerateEnd(t, m, e);
  EXPECT_EQ(r.visited, 6u);
  EXPECT_EQ(r.count.exact, 6u);
  e.drop_at_most = 2;
  EXPECT_EQ(EnumerateEnd(t, m, e).visited, 16u);
}

TEST(EnumerateTest, TearAtMostBoundsTornWrites) {
  Script s(8);
  s.Write(0, 2, 'a');
  s.Write(2, 2, 'b');
  Trace t = std::move(s).Build();
  EnumerateOptions e;
  e.tear_at_most = 0;
  Outcome r = EnumerateEnd(t, ModelOptions{}, e);
  EXPECT_EQ(r.visited, 4u);  // each whole or dropped
  e.tear_at_most = 1;
  r = EnumerateEnd(t, ModelOptions{}, e);
  EXPECT_EQ(r.visited, 12u);  // 16 minus the 4 with both torn
  EXPECT_EQ(r.count.exact, 12u);
}

TEST(EnumerateTest, SamplingIsDeterministic) {
  Script s(64);
  for (int i = 0; i < 40; ++i) s.Write(i, 1, 'a' + i % 20);
  Trace t = std::move(s).Build();
  EnumerateOptions e;
  e.sample = 50;
  e.seed = 7;
  Outcome a = EnumerateEnd(t, ModelOptions{}, e);
  Outcome b = EnumerateEnd(t, ModelOptions{}, e);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.visited, 50u);
  e.seed = 8;
  EXPECT_NE(EnumerateEnd(t, ModelOptions{}, e).ids, a.ids);
}

TEST(EnumerateTest, SplitMixStreamIsFixed) {
  // The first outputs of SplitMix64 seeded with 0, as published.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.Next(), 0x6e789e6aa1b965f4ULL);
}

TEST(StateSpaceTest, ResolveRejectsForeignIds) {
  Script s(8);
  s.Write(0, 1, 'a');
  s.Submit(1, 1, 'p', kPreflush);
  Trace t = std::move(s).Build();
  auto hashes = UnitHashes::Build(t, 0);
  auto space = StateSpace::Build(**hashes, t.events().size(), ModelOptions{});
  EXPECT_THAT((*space)->Resolve(*StateId::Parse("e1-u512-n2-0")).status().message(),
              HasSubstr("belongs to crash point e1"));
  EXPECT_THAT((*space)->Resolve(*StateId::Parse("e3-u512-n3-0")).status().message(),
              HasSubstr("has 3 bits"));
  EXPECT_THAT((*space)->Resolve(*StateId::Parse("e3-u4096-n2-0")).status().message(),
              HasSubstr("--atomic-unit=4096"));
  EXPECT_THAT((*space)->Resolve(*StateId::Parse("e3-u512-n2-2")).status().message(),
              HasSubstr("not a crash state"));
  EXPECT_TRUE((*space)->Resolve(*StateId::Parse("e3-u512-n2-3")).ok());
}

TEST(UnitHashesTest, RejectsBadUnits) {
  Script s(8);
  s.Write(1, 1, 'a');
  Trace t = std::move(s).Build();
  EXPECT_THAT(UnitHashes::Build(t, 12).status().message(),
              HasSubstr("power of two"));
  EXPECT_THAT(UnitHashes::Build(t, 1024).status().message(),
              HasSubstr("not aligned"));
  EXPECT_TRUE(UnitHashes::Build(t, 8).ok());
}

}  // namespace
}  // namespace crashenum
