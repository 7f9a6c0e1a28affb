#include "enumerator/materializer.h"

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "enumerator/test_traces.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

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

class MaterializerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Script s(4);
    s.Write(0, 1, 'a');
    s.Flush();
    s.Write(1, 2, 'b');
    s.Write(0, 1, 'c');
    s.Discard(3, 1);
    trace_ = std::make_unique<Trace>(std::move(s).Build());
    hashes_ = *UnitHashes::Build(*trace_, 0);
    space_ = *StateSpace::Build(*hashes_, trace_->events().size(), ModelOptions{});
  }
  Resolution Resolve(const std::string& id) {
    absl::StatusOr<Resolution> r = space_->Resolve(*StateId::Parse(id));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }
  std::unique_ptr<Trace> trace_;
  std::unique_ptr<UnitHashes> hashes_;
  std::unique_ptr<StateSpace> space_;
};

TEST_F(MaterializerTest, WritesExactlyTheStateAndOnlyTheDelta) {
  // Optional units: b (2 units, bits 0-1), c (bit 2), discard (bit 3).
  ASSERT_EQ(space_->num_bits(), 4u);
  const std::string path = TmpDir() + "/m.img";
  auto m = Materializer::Create(*hashes_, {path});
  ASSERT_TRUE(m.ok()) << m.status();
  const std::string zero(512, '\0');
  ASSERT_TRUE((*m)->Apply(*space_, Resolve("e10-u512-n4-0")).ok());
  EXPECT_EQ(ReadFile(path), std::string(512, 'a') + zero + zero + zero);

  ASSERT_TRUE((*m)->Apply(*space_, Resolve("e10-u512-n4-6")).ok());
  // Bit 1 is b's second unit (sector 2), bit 2 is c.
  EXPECT_EQ(ReadFile(path), std::string(512, 'c') + zero +
                                std::string(512, 'b') + zero);
  EXPECT_EQ((*m)->last_units_written(), 2u);  // units 0 and 2 only

  ASSERT_TRUE((*m)->Apply(*space_, Resolve("e10-u512-n4-0")).ok());
  EXPECT_EQ(ReadFile(path), std::string(512, 'a') + zero + zero + zero);
  EXPECT_EQ((*m)->last_units_written(), 2u);

  const std::string copy = TmpDir() + "/copy.img";
  ASSERT_TRUE((*m)->Apply(*space_, Resolve("e10-u512-n4-3")).ok());
  ASSERT_TRUE((*m)->CopyTo({copy}).ok());
  EXPECT_EQ(ReadFile(copy), ReadFile(path));
  EXPECT_EQ(ReadFile(copy).size(), 4u * 512);
}

TEST_F(MaterializerTest, WritesOnlyTheDeltaBetweenCrashPoints) {
  // The crash point before the discard's submission: b and c optional, the
  // discard not yet submitted. A shared space, kept by the Materializer.
  std::shared_ptr<const StateSpace> earlier =
      *StateSpace::Build(*hashes_, trace_->events().size() - 2, ModelOptions{});
  ASSERT_EQ(earlier->num_bits(), 3u);
  const std::string path = TmpDir() + "/points.img";
  auto m = Materializer::Create(*hashes_, {path});
  ASSERT_TRUE(m.ok()) << m.status();
  const std::string zero(512, '\0');
  auto resolve = [&](const StateSpace& space, const std::string& id) {
    absl::StatusOr<Resolution> r = space.Resolve(*StateId::Parse(id));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  };
  const uint32_t e = earlier->event();
  // b's both units and c.
  const std::string all = "e" + std::to_string(e) + "-u512-n3-7";
  ASSERT_TRUE((*m)->Apply(earlier, resolve(*earlier, all)).ok());
  EXPECT_EQ(ReadFile(path),
            std::string(512, 'c') + std::string(1024, 'b') + zero);
  earlier.reset();  // the Materializer still has it
  // The last crash point with b, c and the discard's zeroes: nothing to
  // write (sector 3 holds zeroes already).
  ASSERT_TRUE((*m)->Apply(*space_, Resolve("e10-u512-n4-f")).ok());
  EXPECT_EQ(ReadFile(path),
            std::string(512, 'c') + std::string(1024, 'b') + zero);
  EXPECT_EQ((*m)->last_units_written(), 0u);
  // Then none of them: sectors 0 (back to a) and 1, 2 (back to the base).
  ASSERT_TRUE((*m)->Apply(*space_, Resolve("e10-u512-n4-0")).ok());
  EXPECT_EQ(ReadFile(path), std::string(512, 'a') + zero + zero + zero);
  EXPECT_EQ((*m)->last_units_written(), 3u);
}

TEST_F(MaterializerTest, AFailedWriteLeavesItRefusingMore) {
  const std::string path = TmpDir() + "/full.img";
  auto m = Materializer::Create(*hashes_, {path});
  ASSERT_TRUE(m.ok()) << m.status();
  Resolution wrong = Resolve("e10-u512-n4-0");
  wrong.slot_version.push_back(0);
  EXPECT_EQ((*m)->Apply(*space_, wrong).code(),
            absl::StatusCode::kInvalidArgument);
  // A file size limit of one sector: writing sector 2 fails as a full disk
  // does (EFBIG rather than ENOSPC).
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 512;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  absl::Status s = (*m)->Apply(*space_, Resolve("e10-u512-n4-6"));
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr(path));
  // What the file holds is not known now: no later state is written over it.
  absl::Status again = (*m)->Apply(*space_, Resolve("e10-u512-n4-0"));
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
}

TEST_F(MaterializerTest, ReportsUnwritablePaths) {
  auto m = Materializer::Create(*hashes_, {"/nonexistent-dir/x.img"});
  EXPECT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()),
              ::testing::HasSubstr("/nonexistent-dir/x.img"));
  EXPECT_EQ(Materializer::Create(*hashes_, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crashenum
