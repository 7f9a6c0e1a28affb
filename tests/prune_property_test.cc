// Read-set pruning is exact (DESIGN.md 3): on random small traces, with a
// random deterministic oracle whose verdict is a function of the units it
// reads (and which units it reads depends on what it finds), a check with
// --prune=readset or --prune=z3 gives exactly the states, verdicts and
// failing states of a check without it, and never more oracle runs. The
// pieces of the search are checked on their own too: the solver's models
// are exactly the valid assignments, and counting a union of covers gives
// what walking every state gives. And the images the oracle judges are the
// reference model's, whichever of a worker's two image sets they were
// written into.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "check/checker.h"
#include "check/cover_count.h"
#include "check/cover_search.h"
#include "core/hash128.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "enumerator/crash_points.h"
#include "enumerator/enumerate.h"
#include "enumerator/state_space.h"
#include "gtest/gtest.h"
#include "oracles/oracle.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "tests/reference_model.h"

namespace crashenum {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kSectors = 8;

struct Generated {
  Trace trace;
  std::string text;
};

// The traces' one device, of 8 sectors.
Device TestDevice() {
  Device dev;
  dev.name = "dev0";
  dev.sector_size = kSector;
  dev.num_sectors = kSectors;
  return dev;
}

// Up to 7 one- or two-sector writes of random letters, flushes between
// some, some left in flight or overlapping.
Generated GenTrace() {
  TraceBuilder b("builder", "");
  RC_ASSERT(b.AddDevice(TestDevice()).ok());
  std::string text;
  uint64_t entry = 0;
  std::vector<uint32_t> in_flight;
  const int n = *rc::gen::inRange(1, 8);
  for (int i = 0; i < n; ++i) {
    if (*rc::gen::weightedElement<bool>({{3, false}, {1, true}})) {
      Op f;
      f.kind = OpKind::kFlush;
      RC_ASSERT(b.SubmitAndComplete(f, entry++).ok());
      text += "flush\n";
    }
    Op op;
    op.kind = OpKind::kWrite;
    op.num_sectors = *rc::gen::inRange<uint64_t>(1, 3);
    op.sector = *rc::gen::inRange<uint64_t>(0, kSectors - op.num_sectors + 1);
    const char letter = *rc::gen::element('a', 'b', 'c');
    op.data = b.Own(std::string(op.num_sectors * kSector, letter));
    absl::StatusOr<uint32_t> id = b.Submit(op, entry++);
    RC_ASSERT(id.ok());
    absl::StrAppend(&text, "write [", op.sector, ", +", op.num_sectors, ") ",
                    std::string(1, letter), "\n");
    if (*rc::gen::weightedElement<bool>({{3, true}, {1, false}})) {
      RC_ASSERT(b.Complete(*id, 0, entry++).ok());
    } else {
      in_flight.push_back(*id);
    }
  }
  for (uint32_t id : in_flight) {
    if (*rc::gen::element(true, false)) {
      RC_ASSERT(b.Complete(id, 0, entry++).ok());
      text += "late completion\n";
    }
  }
  absl::StatusOr<Trace> t = std::move(b).Build();
  RC_ASSERT(t.ok());
  return Generated{*std::move(t), std::move(text)};
}

// Reads sector `first`; depending on its first byte, one of two more
// sectors; FAILs when a checksum of what it read has residue 0 mod 3. Its
// reads are kept per image path for the recorder.
class AdaptiveOracle : public Oracle {
 public:
  AdaptiveOracle(uint64_t first, uint64_t even, uint64_t odd, uint64_t salt,
                 absl::Duration delay = absl::ZeroDuration())
      : first_(first), even_(even), odd_(odd), salt_(salt), delay_(delay) {
    traits_.reads_through_files = true;
  }
  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }
  Verdict Check(const ImageSet& images, const StateId&) override {
    const int fd = ::open(images.paths[0].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Verdict::Error("cannot open the image");
    std::string a = Read(fd, first_);
    const uint64_t next = (a[0] & 1) ? odd_ : even_;
    std::string b = Read(fd, next);
    ::close(fd);
    {
      absl::MutexLock lock(&mu_);
      reads_[images.paths[0]] = {first_, next};
    }
    const Hash128 h = HashBytes(absl::StrCat(salt_, a, b));
    absl::SleepFor(delay_);
    return h.lo % 3 == 0 ? Verdict::Fail("residue 0") : Verdict::Pass();
  }
  std::vector<uint64_t> ReadsOf(const std::string& path) {
    absl::MutexLock lock(&mu_);
    return reads_[path];
  }

 private:
  static std::string Read(int fd, uint64_t sector) {
    std::string buf(kSector, '\0');
    if (::pread(fd, buf.data(), kSector, sector * kSector) != kSector) {
      buf.assign(kSector, '?');
    }
    return buf;
  }
  const std::string name_ = "adaptive";
  OracleTraits traits_;
  const uint64_t first_, even_, odd_, salt_;
  const absl::Duration delay_;  // each run takes at least this long
  absl::Mutex mu_;
  std::map<std::string, std::vector<uint64_t>> reads_;
};

// Reports the oracle's own account of what it read.
class OracleReportedReads : public ReadRecorder {
 public:
  explicit OracleReportedReads(AdaptiveOracle& oracle) : oracle_(oracle) {}
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Begin(
      int worker, const std::vector<std::string>& paths) override {
    absl::MutexLock lock(&mu_);
    path_[worker] = paths[0];
    return std::vector<std::pair<std::string, std::string>>{};
  }
  absl::StatusOr<std::vector<std::pair<uint32_t, uint64_t>>> End(
      int worker, const std::vector<uint32_t>& unit_bytes,
      bool* everything) override {
    *everything = false;
    std::string path;
    {
      absl::MutexLock lock(&mu_);
      path = path_[worker];
    }
    std::vector<std::pair<uint32_t, uint64_t>> units;
    const uint32_t per_sector = kSector / unit_bytes[0];
    for (uint64_t s : oracle_.ReadsOf(path)) {
      for (uint32_t k = 0; k < per_sector; ++k) {
        units.push_back({0, s * per_sector + k});
      }
    }
    return units;
  }

 private:
  AdaptiveOracle& oracle_;
  absl::Mutex mu_;
  std::map<int, std::string> path_;
};

std::string WorkDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

// A generated trace, oracle and check options, and the unpruned report.
struct Case {
  Generated g;
  uint64_t first, even, odd, salt;
  CheckOptions options;
  absl::StatusOr<CheckReport> plain = absl::UnknownError("not run");
};

Case GenCase(uint64_t max_states) {
  Case c{GenTrace(), 0, 0, 0, 0, {}};
  RC_LOG() << "trace:\n" << c.g.text;
  c.first = *rc::gen::inRange<uint64_t>(0, kSectors);
  c.even = *rc::gen::inRange<uint64_t>(0, kSectors);
  c.odd = *rc::gen::inRange<uint64_t>(0, kSectors);
  c.salt = *rc::gen::arbitrary<uint64_t>();
  c.options.points.mode = CrashPointMode::kAll;
  c.options.model.torn = *rc::gen::arbitrary<bool>();
  c.options.model.atomic_unit = *rc::gen::element(0u, 256u);
  c.options.jobs = *rc::gen::inRange(1, 3);
  c.options.work_dir = WorkDir();
  // Small spaces only: each state costs an oracle run.
  c.options.max_states = max_states;
  AdaptiveOracle oracle(c.first, c.even, c.odd, c.salt);
  c.plain = RunCheck(c.g.trace, oracle, c.options);
  if (c.plain.status().code() == absl::StatusCode::kResourceExhausted) {
    RC_DISCARD("more states than the test runs");
  }
  if (!c.plain.ok()) RC_FAIL(c.plain.status().ToString());
  return c;
}

RC_GTEST_PROP(PruneProperty, ReadSetPruningIsExact, ()) {
  Case c = GenCase(20000);
  const absl::StatusOr<CheckReport>& plain = c.plain;
  CheckOptions& options = c.options;
  Generated& g = c.g;
  const uint64_t first = c.first, even = c.even, odd = c.odd, salt = c.salt;
  AdaptiveOracle pruned_oracle(first, even, odd, salt);
  OracleReportedReads recorder(pruned_oracle);
  options.read_recorder = &recorder;
  absl::StatusOr<CheckReport> pruned = RunCheck(g.trace, pruned_oracle, options);
  if (!pruned.ok()) RC_FAIL(pruned.status().ToString());
  RC_ASSERT(pruned->pruned);

  RC_ASSERT(pruned->states == plain->states);
  RC_ASSERT(pruned->failures == plain->failures);
  RC_ASSERT(pruned->distinct_images == plain->distinct_images);
  std::set<std::string> want, got;
  for (const StateFinding& f : plain->findings) want.insert(f.state);
  for (const StateFinding& f : pruned->findings) got.insert(f.state);
  RC_ASSERT(got == want);
  RC_ASSERT(pruned->oracle_runs + pruned->pruned_images ==
            plain->oracle_runs);
  RC_TAG(pruned->pruned_images > 0 ? "pruned some" : "pruned none");
}

// Keeps the whole image of each run; an oracle that may modify its image
// overwrites it after reading, as fsck repairs do.
class ImageKeepingOracle : public Oracle {
 public:
  ImageKeepingOracle(bool mutates, absl::Duration delay) : delay_(delay) {
    traits_.mutates_image = mutates;
  }
  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }
  Verdict Check(const ImageSet& images, const StateId&) override {
    const int fd = ::open(images.paths[0].c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Verdict::Error("cannot open the image");
    std::string image(kSectors * kSector, '\0');
    const bool read = ::pread(fd, image.data(), image.size(), 0) ==
                      static_cast<ssize_t>(image.size());
    if (read && traits_.mutates_image) {
      const std::string repaired(image.size(), 'Z');
      if (::pwrite(fd, repaired.data(), repaired.size(), 0) !=
          static_cast<ssize_t>(repaired.size())) {
        image = "write failed";
      }
    }
    ::close(fd);
    if (!read) return Verdict::Error("short read");
    absl::SleepFor(delay_);
    absl::MutexLock lock(&mu_);
    seen_.push_back(std::move(image));
    return Verdict::Pass();
  }
  std::vector<std::string> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  const std::string name_ = "image-keeping";
  OracleTraits traits_;
  const absl::Duration delay_;
  absl::Mutex mu_;
  std::vector<std::string> seen_;
};

// A worker writes the next job's state into its second set of images while
// the oracle judges the current one (or, on a long trace, keeps one set).
// Whatever the order, every oracle run
// sees a distinct image, and together they are exactly the reference
// model's images of all crash points (DESIGN.md 2), also when the oracle
// overwrites its private copy.
RC_GTEST_PROP(PruneProperty, JudgedImagesAreTheReferenceImages, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  CheckOptions options;
  options.points.mode = CrashPointMode::kAll;
  options.model.torn = *rc::gen::arbitrary<bool>();
  options.model.atomic_unit = *rc::gen::element(0u, 256u);
  options.jobs = *rc::gen::inRange(1, 3);
  options.work_dir = WorkDir();
  options.max_states = 5000;
  const bool two_sets =
      *rc::gen::weightedElement<bool>({{3, true}, {1, false}});
  if (!two_sets) options.two_image_sets_max_units = 0;
  const bool mutates = *rc::gen::arbitrary<bool>();
  ImageKeepingOracle oracle(
      mutates, absl::Microseconds(*rc::gen::element(0, 200, 1000)));
  absl::StatusOr<CheckReport> r = RunCheck(g.trace, oracle, options);
  if (r.status().code() == absl::StatusCode::kResourceExhausted) {
    RC_DISCARD("more states than the test runs");
  }
  if (!r.ok()) RC_FAIL(r.status().ToString());

  reference::ReferenceOptions ro;
  ro.atomic_unit = options.model.atomic_unit;
  ro.torn = options.model.torn;
  std::set<std::string> want;
  for (uint32_t p = 0; p <= g.trace.events().size(); ++p) {
    for (const std::string& image :
         reference::ReferenceImages(g.trace, p, ro)) {
      want.insert(image);
    }
  }
  const std::vector<std::string> seen = oracle.seen();
  const std::set<std::string> got(seen.begin(), seen.end());
  RC_ASSERT(got.size() == seen.size());  // no image judged twice
  RC_ASSERT(seen.size() == r->oracle_runs);
  RC_ASSERT(got == want);
  RC_TAG(mutates ? "mutating oracle" : "read-only oracle",
         two_sets ? "two image sets" : "one image set");
}

// One-sector writes to sectors [from, to), of the letter `letter` gives
// each, none completed.
absl::StatusOr<Trace> InFlightWrites(uint64_t from, uint64_t to,
                                     char (*letter)(uint64_t)) {
  TraceBuilder b("builder", "");
  RETURN_IF_ERROR(b.AddDevice(TestDevice()).status());
  uint64_t entry = 0;
  for (uint64_t sector = from; sector < to; ++sector) {
    Op op;
    op.kind = OpKind::kWrite;
    op.sector = sector;
    op.num_sectors = 1;
    op.data = b.Own(std::string(kSector, letter(sector)));
    RETURN_IF_ERROR(b.Submit(op, entry++).status());
  }
  return std::move(b).Build();
}

// With one worker, a state queued while a run was pending, and covered by
// that run's verdict, takes the verdict instead of an oracle run: with an
// oracle that reads only a sector no write touches, every crash point needs
// exactly one run. The oracle is slow, so that the enumeration queues
// states (and the search offers one) before the first verdict is in.
TEST(PruneTest, QueuedStatesCoveredByAVerdictAreNotRun) {
  absl::StatusOr<Trace> trace =
      InFlightWrites(1, 6, [](uint64_t) { return 'a'; });
  ASSERT_TRUE(trace.ok()) << trace.status();
  for (bool search : {false, true}) {
    SCOPED_TRACE(search ? "--prune=z3" : "--prune=readset");
    AdaptiveOracle oracle(0, 0, 0, 1, absl::Milliseconds(20));
    OracleReportedReads recorder(oracle);
    CheckOptions options;
    options.points.mode = CrashPointMode::kAll;
    options.model.torn = false;
    options.jobs = 1;
    options.work_dir = WorkDir();
    options.read_recorder = &recorder;
    options.search = search;
    absl::StatusOr<CheckReport> r = RunCheck(*trace, oracle, options);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->points.back().oracle_runs, 1u);
    EXPECT_EQ(r->oracle_runs, r->points.size());
    EXPECT_EQ(r->oracle_runs + r->pruned_images, r->distinct_images);
    // The last crash point holds all 32 states of the 5 writes in flight.
    EXPECT_EQ(r->points.back().states, 32u);
  }
}

// Stops the check (as a signal would) once it has judged `after` images.
class StoppingOracle : public AdaptiveOracle {
 public:
  StoppingOracle(std::atomic<bool>& cancel, int after)
      : AdaptiveOracle(1, 2, 2, 7, absl::Milliseconds(5)),
        cancel_(cancel),
        after_(after) {}
  Verdict Check(const ImageSet& images, const StateId& id) override {
    Verdict v = AdaptiveOracle::Check(images, id);
    if (++runs_ >= after_) cancel_.store(true);
    return v;
  }

 private:
  std::atomic<bool>& cancel_;
  const int after_;
  std::atomic<int> runs_{0};
};

// An interrupted search counts the states its judged runs cover; when that
// would take more steps than allowed, only the states it visited, and says
// so.
TEST(PruneTest, InterruptedSearchCountsCoversWithinItsBudget) {
  absl::StatusOr<Trace> trace = InFlightWrites(
      0, kSectors, [](uint64_t sector) { return char('a' + sector % 3); });
  ASSERT_TRUE(trace.ok()) << trace.status();
  for (uint64_t budget : {uint64_t{1} << 31, uint64_t{0}}) {
    SCOPED_TRACE(absl::StrCat("budget ", budget));
    std::atomic<bool> cancel{false};
    StoppingOracle oracle(cancel, 2);
    OracleReportedReads recorder(oracle);
    CheckOptions options;
    options.points.mode = CrashPointMode::kDurable;  // the end: 256 states
    options.model.torn = false;
    options.jobs = 1;
    options.work_dir = WorkDir();
    options.read_recorder = &recorder;
    options.search = true;
    options.cancel = &cancel;
    options.interrupted_count_work = budget;
    absl::StatusOr<CheckReport> r = RunCheck(*trace, oracle, options);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->interrupted);
    ASSERT_EQ(r->points.size(), 1u);
    const PointResult& p = r->points.back();
    ASSERT_TRUE(p.searched);
    ASSERT_GT(p.visited, 0u);
    // Each run reads two of the 8 written sectors: its cover holds a
    // quarter of the 256 states, more than were visited.
    if (budget == 0) {
      EXPECT_TRUE(p.covers_uncounted);
      EXPECT_NE(p.uncounted_reason.find("steps to count"), std::string::npos)
          << p.uncounted_reason;
      EXPECT_LE(p.states, p.visited);
    } else {
      EXPECT_FALSE(p.covers_uncounted);
      EXPECT_EQ(p.uncounted_reason, "");
      EXPECT_GE(p.states, 64u);
      EXPECT_GT(p.states, p.visited);
    }
  }
}

// Runs the check without pruning and with --prune=z3 (the readset recorder
// and the search); the spaces are walked (walk_limit -1) or counted (0).
void CheckSearchAgainstPlain(bool count) {
  Case c = GenCase(2000);
  const absl::StatusOr<CheckReport>& plain = c.plain;
  CheckOptions& options = c.options;
  Generated& g = c.g;
  const uint64_t first = c.first, even = c.even, odd = c.odd, salt = c.salt;
  AdaptiveOracle searched_oracle(first, even, odd, salt);
  OracleReportedReads recorder(searched_oracle);
  options.read_recorder = &recorder;
  options.search = true;
  options.walk_limit = count ? 0 : -1;
  // The unpruned run's limit applies to the plan's count, a lower bound
  // where concurrent writes add order choices; the search may visit more.
  options.max_states = 1000000;
  absl::StatusOr<CheckReport> searched =
      RunCheck(g.trace, searched_oracle, options);
  if (!searched.ok()) RC_FAIL(searched.status().ToString());
  RC_ASSERT(searched->pruned);

  RC_ASSERT(searched->states == plain->states);
  RC_ASSERT(searched->failures == plain->failures);
  RC_ASSERT(searched->errors == plain->errors);
  RC_ASSERT(searched->points.size() == plain->points.size());
  for (size_t i = 0; i < plain->points.size(); ++i) {
    RC_ASSERT(searched->points[i].searched);
    RC_ASSERT(searched->points[i].states == plain->points[i].states);
    RC_ASSERT(searched->points[i].failing_states ==
              plain->points[i].failing_states);
    RC_ASSERT(searched->points[i].visited <= plain->points[i].states);
  }
  std::set<std::string> want, got;
  for (const StateFinding& f : plain->findings) want.insert(f.state);
  for (const StateFinding& f : searched->findings) got.insert(f.state);
  if (count) {
    // Counted: only judged states are listed, each one a real failure.
    RC_ASSERT(std::includes(want.begin(), want.end(), got.begin(), got.end()));
  } else {
    RC_ASSERT(got == want);
  }
  RC_ASSERT(searched->oracle_runs <= plain->oracle_runs);
  RC_TAG(searched->oracle_runs < plain->oracle_runs ? "fewer runs"
                                                    : "as many runs");
}

RC_GTEST_PROP(PruneProperty, Z3SearchIsExact, ()) {
  CheckSearchAgainstPlain(/*count=*/false);
}

RC_GTEST_PROP(PruneProperty, Z3SearchCountsExactly, ()) {
  CheckSearchAgainstPlain(/*count=*/true);
}

// Every state of a crash point: its variable values and its resolution.
struct Walked {
  std::vector<uint8_t> values;
  Resolution r;
};
std::vector<Walked> Walk(const StateSpace& space) {
  std::vector<Walked> out;
  EnumerateStates(space, EnumerateOptions(), [&](const VisitedState& s) {
    absl::StatusOr<Resolution> r = space.Resolve(s.Id());
    RC_ASSERT(r.ok());
    out.push_back(Walked{s.cursor().values(), *r});
    return true;
  });
  return out;
}

// The spaces of every crash point of a generated trace.
struct Spaces {
  std::unique_ptr<UnitHashes> hashes;
  std::vector<std::unique_ptr<StateSpace>> spaces;
};
Spaces AllSpaces(const Trace& trace, const ModelOptions& model) {
  Spaces out;
  absl::StatusOr<std::unique_ptr<UnitHashes>> h =
      UnitHashes::Build(trace, model.atomic_unit);
  RC_ASSERT(h.ok());
  out.hashes = *std::move(h);
  CrashPointOptions cpo;
  cpo.mode = CrashPointMode::kAll;
  absl::StatusOr<std::vector<CrashPoint>> points = FindCrashPoints(trace, cpo);
  RC_ASSERT(points.ok());
  for (const CrashPoint& cp : *points) {
    absl::StatusOr<std::unique_ptr<StateSpace>> s =
        StateSpace::Build(*out.hashes, cp.event, model);
    RC_ASSERT(s.ok());
    out.spaces.push_back(*std::move(s));
  }
  return out;
}

ModelOptions GenModel() {
  ModelOptions m;
  m.torn = *rc::gen::arbitrary<bool>();
  m.atomic_unit = *rc::gen::element(0u, 256u);
  return m;
}

// With nothing blocked but each model found, the solver's models are
// exactly the assignments enumeration visits. The searches of all crash
// points are open at once and asked in turn (as the check does; they share
// the thread's solver state).
RC_GTEST_PROP(PruneProperty, SearchModelsAreTheValidAssignments, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  Spaces all = AllSpaces(g.trace, GenModel());
  struct Open {
    std::unique_ptr<CoverSearch> cs;
    std::set<std::vector<uint8_t>> want, got;
    bool done = false;
  };
  std::vector<Open> open;
  for (const auto& space : all.spaces) {
    if (space->vars().size() > 8) continue;
    Open o;
    for (const Walked& w : Walk(*space)) o.want.insert(w.values);
    absl::StatusOr<std::unique_ptr<CoverSearch>> cs = CoverSearch::Create(*space);
    RC_ASSERT(cs.ok());
    o.cs = *std::move(cs);
    open.push_back(std::move(o));
  }
  for (bool any = true; any;) {
    any = false;
    for (Open& o : open) {
      if (o.done) continue;
      any = true;
      absl::StatusOr<std::optional<std::vector<uint8_t>>> m = o.cs->Next();
      RC_ASSERT(m.ok());
      if (!m->has_value()) {
        o.done = true;
        continue;
      }
      RC_ASSERT(o.got.insert(**m).second);  // never the same model twice
      RC_ASSERT(o.got.size() <= o.want.size());
      o.cs->BlockAssignment(**m);
    }
  }
  for (const Open& o : open) RC_ASSERT(o.got == o.want);
  RC_TAG(open.size() > 1 ? "several searches open" : "one search or none");
}

// A random cover of `space`: a state of `states` and a random subset of
// the slots (what its run read), and per valid assignment whether the cover
// holds it (every one of its states).
struct RandomCover {
  const Walked* judged;
  std::vector<uint32_t> slots;
  std::map<std::vector<uint8_t>, bool> covered;
};
RandomCover GenRandomCover(const StateSpace& space,
                           const std::vector<Walked>& states) {
  RandomCover c{&states[*rc::gen::inRange<size_t>(0, states.size())], {}, {}};
  for (uint32_t s = 0; s < space.slots().size(); ++s) {
    if (*rc::gen::arbitrary<bool>()) c.slots.push_back(s);
  }
  const Cover cover = CoverOf(space, c.slots, c.judged->r);
  for (const Walked& w : states) {
    auto [it, fresh] = c.covered.try_emplace(w.values, true);
    it->second =
        it->second && CoverOf(space, c.slots, w.r).contents == cover.contents;
  }
  return c;
}

// A cover blocks exactly the assignments all of whose states it holds, and
// as a guess it steers NextOutside without excluding any.
RC_GTEST_PROP(PruneProperty, BlockCoverExcludesExactlyTheCoveredAssignments,
              ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  Spaces all = AllSpaces(g.trace, GenModel());
  for (const auto& space : all.spaces) {
    if (space->vars().size() > 8) continue;
    const std::vector<Walked> states = Walk(*space);
    const RandomCover random = GenRandomCover(*space, states);
    const Walked& judged = *random.judged;
    const std::vector<uint32_t>& slots = random.slots;
    const std::map<std::vector<uint8_t>, bool>& covered = random.covered;
    std::set<std::vector<uint8_t>> want;
    for (const auto& [values, c] : covered) {
      if (!c) want.insert(values);
    }
    absl::StatusOr<std::unique_ptr<CoverSearch>> cs = CoverSearch::Create(*space);
    RC_ASSERT(cs.ok());
    (*cs)->BlockCover(slots, judged.r);
    std::set<std::vector<uint8_t>> got;
    while (true) {
      absl::StatusOr<std::optional<std::vector<uint8_t>>> m = (*cs)->Next();
      RC_ASSERT(m.ok());
      if (!m->has_value()) break;
      got.insert(**m);
      (*cs)->BlockAssignment(**m);
    }
    RC_ASSERT(got == want);
    // The same cover as a guess at a pending run's: NextOutside gives every
    // assignment outside it before any inside it, and still every valid
    // assignment once (the guess steers, and never excludes).
    size_t outside = 0;
    for (const auto& [values, c] : covered) outside += !c;
    absl::StatusOr<std::unique_ptr<CoverSearch>> guessed =
        CoverSearch::Create(*space);
    RC_ASSERT(guessed.ok());
    std::set<std::vector<uint8_t>> all;
    while (true) {
      absl::StatusOr<std::optional<std::vector<uint8_t>>> m =
          (*guessed)->NextOutside(slots, judged.r);
      RC_ASSERT(m.ok());
      if (!m->has_value()) break;
      RC_ASSERT(covered.count(**m) == 1u);  // a valid assignment
      RC_ASSERT(covered.at(**m) == (all.size() >= outside));
      RC_ASSERT(all.insert(**m).second);
      (*guessed)->BlockAssignment(**m);
    }
    RC_ASSERT(all.size() == covered.size());
    RC_TAG(outside > 0 && outside < covered.size() ? "both sides" : "one side");
  }
}

// Counting a union of random covers gives what walking every state gives.
RC_GTEST_PROP(PruneProperty, CountCoveredMatchesAWalk, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  Spaces all = AllSpaces(g.trace, GenModel());
  for (const auto& space : all.spaces) {
    if (space->vars().size() > 14) continue;
    const std::vector<Walked> states = Walk(*space);
    std::vector<Cover> covers;
    const int n = *rc::gen::inRange(0, 6);
    for (int k = 0; k < n; ++k) {
      const Walked& judged =
          states[*rc::gen::inRange<size_t>(0, states.size())];
      std::vector<uint32_t> slots;
      for (uint32_t s = 0; s < space->slots().size(); ++s) {
        if (*rc::gen::weightedElement<bool>({{1, true}, {2, false}})) {
          slots.push_back(s);
        }
      }
      covers.push_back(CoverOf(*space, slots, judged.r));
    }
    std::vector<std::vector<size_t>> groups(3);
    for (size_t c = 0; c < covers.size(); ++c) {
      groups[0].push_back(c);
      if (c % 2 == 0) groups[1].push_back(c);
    }
    absl::StatusOr<CoverCounts> counts = CountCovered(*space, covers, groups);
    RC_ASSERT(counts.ok());
    RC_ASSERT(counts->total.fits);
    RC_ASSERT(counts->total.exact == states.size());
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      uint64_t want = 0;
      for (const Walked& w : states) {
        bool in = false;
        for (size_t c : groups[gi]) {
          in |= CoverOf(*space, covers[c].slots, w.r).contents ==
                covers[c].contents;
        }
        want += in;
      }
      RC_ASSERT(counts->unions[gi].exact == want);
    }
    // A budget of steps either gives the same counts or refuses, and one of
    // no steps refuses whenever every cover constrains a slot (a cover
    // that constrains none holds every state, which needs no counting).
    const uint64_t budget = *rc::gen::element<uint64_t>(0, 1, 10, 100, 1000);
    absl::StatusOr<CoverCounts> bounded =
        CountCovered(*space, covers, groups, budget);
    if (bounded.ok()) {
      for (size_t gi = 0; gi < groups.size(); ++gi) {
        RC_ASSERT(bounded->unions[gi].exact == counts->unions[gi].exact);
      }
      RC_TAG("counted within the budget");
    } else {
      RC_ASSERT(bounded.status().code() ==
                absl::StatusCode::kResourceExhausted);
      RC_TAG("over the budget");
    }
    bool constrains = !covers.empty();
    for (const Cover& c : covers) constrains &= !c.slots.empty();
    if (budget == 0 && constrains) RC_ASSERT(!bounded.ok());
  }
}

}  // namespace
}  // namespace crashenum
