// The SAT solver adapter: models, assumptions, and a SIGINT during a solve
// reaching the process's own handler rather than the solver's.
#include "check/internal/sat_solver.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace internal_check {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

// The pigeonhole problem: `holes` + 1 pigeons, each in a hole, no two in one
// hole. Unsatisfiable, and hard enough for a SAT solver to take a while.
void AddPigeonhole(SatSolver& s, uint32_t holes) {
  std::vector<std::vector<uint32_t>> in(holes + 1);
  for (auto& pigeon : in) {
    std::vector<Literal> some_hole;
    for (uint32_t h = 0; h < holes; ++h) {
      pigeon.push_back(s.NewVar());
      some_hole.push_back(Pos(pigeon.back()));
    }
    s.AddClause(some_hole);
  }
  for (uint32_t h = 0; h < holes; ++h) {
    for (uint32_t a = 0; a < in.size(); ++a) {
      for (uint32_t b = a + 1; b < in.size(); ++b) {
        s.AddClause({Neg(in[a][h]), Neg(in[b][h])});
      }
    }
  }
}

// The model Solve() gives (nullopt when unsatisfiable); an error fails the
// test.
std::optional<std::vector<uint8_t>> Model(
    SatSolver& s, uint32_t num_vars, const std::vector<Literal>& assume = {}) {
  absl::StatusOr<std::optional<std::vector<uint8_t>>> m =
      s.Solve(num_vars, assume);
  if (!m.ok()) {
    ADD_FAILURE() << m.status();
    return std::nullopt;
  }
  return *std::move(m);
}

TEST(SatSolverTest, ModelSatisfiesTheClausesAndBlockingEndsIt) {
  if (!SatSolver::Available()) GTEST_SKIP() << "built without Z3";
  auto s = SatSolver::Create();
  ASSERT_TRUE(s.ok()) << s.status();
  const uint32_t a = (*s)->NewVar(), b = (*s)->NewVar();
  (*s)->AddClause({Pos(a), Pos(b)});
  (*s)->AddClause({Neg(a)});
  EXPECT_THAT(Model(**s, 2), Optional(ElementsAre(0, 1)));
  (*s)->AddClause({Neg(b)});
  EXPECT_EQ(Model(**s, 2), std::nullopt);
}

TEST(SatSolverTest, EmptyClauseMakesItUnsatisfiable) {
  if (!SatSolver::Available()) GTEST_SKIP() << "built without Z3";
  auto s = SatSolver::Create();
  ASSERT_TRUE(s.ok()) << s.status();
  (*s)->NewVar();
  (*s)->AddClause({});
  EXPECT_EQ(Model(**s, 1), std::nullopt);
}

TEST(SatSolverTest, AssumptionsHoldForOneSolveOnly) {
  if (!SatSolver::Available()) GTEST_SKIP() << "built without Z3";
  auto s = SatSolver::Create();
  ASSERT_TRUE(s.ok()) << s.status();
  const uint32_t a = (*s)->NewVar(), b = (*s)->NewVar();
  (*s)->AddClause({Neg(a), Neg(b)});
  EXPECT_THAT(Model(**s, 2, {Pos(a)}), Optional(ElementsAre(1, 0)));
  // Unsatisfiable under both.
  EXPECT_EQ(Model(**s, 2, {Pos(a), Pos(b)}), std::nullopt);
  // The earlier assumptions are gone.
  EXPECT_THAT(Model(**s, 2, {Pos(b)}), Optional(ElementsAre(0, 1)));
}

std::atomic<int> sigints{0};
void CountSigint(int) { sigints.fetch_add(1); }

// Z3 catches SIGINT while it solves unless told not to; it then gives up
// ("canceled") and the process's handler, which stops a check with a
// partial report, never runs.
TEST(SatSolverTest, SigintDuringASolveGoesToTheProcessHandler) {
  if (!SatSolver::Available()) GTEST_SKIP() << "built without Z3";
  struct sigaction sa = {}, old = {};
  sa.sa_handler = CountSigint;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(::sigaction(SIGINT, &sa, &old), 0);
  sigints = 0;
  std::atomic<bool> done{false};
  std::thread sender([&] {
    while (!done.load()) {
      ::kill(::getpid(), SIGINT);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  int solves = 0;
  absl::Status failed;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (failed.ok() &&
         (std::chrono::steady_clock::now() < until || solves < 3)) {
    auto s = SatSolver::Create();
    if (!s.ok()) {
      failed = s.status();
      break;
    }
    AddPigeonhole(**s, 7);
    auto m = (*s)->Solve(0);
    if (!m.ok()) {
      failed = m.status();
    } else {
      EXPECT_FALSE(m->has_value());
    }
    ++solves;
  }
  done = true;
  sender.join();
  ::sigaction(SIGINT, &old, nullptr);
  ASSERT_TRUE(failed.ok()) << "solve " << solves << ": " << failed;
  // Nearly all of the time was spent solving, so most signals came during a
  // solve; every one reached the handler.
  EXPECT_GT(sigints.load(), 100) << solves << " solves";
}

}  // namespace
}  // namespace internal_check
}  // namespace crashenum
