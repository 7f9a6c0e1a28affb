// Benchmarks of the enumeration step and of incremental materialization.
//
//   bazel run -c opt //enumerator:enumerate_benchmark
#include <cstdlib>

#include "benchmark/benchmark.h"
#include "enumerator/enumerate.h"
#include "enumerator/materializer.h"
#include "enumerator/state_space.h"
#include "enumerator/test_traces.h"

namespace crashenum {
namespace {

using testing_traces::Script;

// A crash point whose `units` optional units each sit in their own slot.
Trace UnflushedWrites(int units) {
  Script s(units + 8);
  for (int i = 0; i < units; ++i) s.Write(i, 1, static_cast<char>('A' + i % 50));
  return std::move(s).Build();
}

// 2 * `units` unflushed writes: each of `units` units is written twice, one
// write after the other (chain slots with two optional versions).
Trace Overwrites(int units) {
  Script s(units + 8);
  for (int i = 0; i < units; ++i) s.Write(i, 1, 'a');
  for (int i = 0; i < units; ++i) s.Write(i, 1, 'b');
  return std::move(s).Build();
}

// 63 unflushed writes in their own units, then a PREFLUSH write still in
// flight whose preflush covers them all: one constraint that every variable
// takes part in.
Trace PreflushWrites() {
  Script s(72);
  for (int i = 0; i < 63; ++i) s.Write(i, 1, static_cast<char>('A' + i % 50));
  s.Submit(63, 1, 'z', kPreflush);
  return std::move(s).Build();
}

// Gray-code steps with the incremental 128-bit hash through the visit
// callback; stops after a fixed number of states (the full space is 2^64).
void RunSteps(benchmark::State& state, const Trace& t) {
  auto hashes = *UnitHashes::Build(t, 0);
  auto space = *StateSpace::Build(*hashes, t.events().size(), ModelOptions{});
  const uint64_t per_round = 1 << 24;
  uint64_t total = 0;
  for (auto _ : state) {
    Hash128 acc;
    uint64_t n = 0;
    EnumerateStates(*space, EnumerateOptions{}, [&](const VisitedState& s) {
      acc ^= s.hash();
      return ++n < per_round;
    });
    benchmark::DoNotOptimize(acc);
    total += n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(total));
}

// One crash point of 64 optional units, each in its own slot.
void BM_EnumerateStep(benchmark::State& state) {
  RunSteps(state, UnflushedWrites(64));
}
BENCHMARK(BM_EnumerateStep)->Unit(benchmark::kMillisecond);

// 64 optional writes over 32 units (each slot's top version moves).
void BM_EnumerateStepOverwrites(benchmark::State& state) {
  RunSteps(state, Overwrites(32));
}
BENCHMARK(BM_EnumerateStepOverwrites)->Unit(benchmark::kMillisecond);

// 64 optional writes under one preflush constraint, updated on every step
// (the 2^24 states of a round all leave the PREFLUSH write out, so all are
// valid).
void BM_EnumerateStepPreflush(benchmark::State& state) {
  RunSteps(state, PreflushWrites());
}
BENCHMARK(BM_EnumerateStepPreflush)->Unit(benchmark::kMillisecond);

// One Gray-code step through Materializer::Apply (one unit's delta).
void BM_MaterializeState(benchmark::State& state) {
  Trace t = UnflushedWrites(static_cast<int>(state.range(0)));
  auto hashes = *UnitHashes::Build(t, 0);
  auto space = *StateSpace::Build(*hashes, t.events().size(), ModelOptions{});
  const char* tmp = std::getenv("TMPDIR");
  auto m = *Materializer::Create(*hashes, {std::string(tmp ? tmp : "/tmp") +
                                           "/crashenum-bench.img"});
  std::vector<uint8_t> values(space->vars().size(), 0);
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    values[__builtin_ctzll(i) % values.size()] ^= 1;
    StateId id;
    id.event = space->event();
    id.unit_bytes = hashes->id_unit_bytes();
    id.bits = space->BitsFor(values);
    auto r = space->Resolve(id);
    benchmark::DoNotOptimize(m->Apply(*space, *r).ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MaterializeState)->Arg(64)->Arg(4096);

}  // namespace
}  // namespace crashenum
