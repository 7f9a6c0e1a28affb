// Property tests of the enumerator against the brute-force reference model of
// DESIGN.md section 2 (tests/reference_model.h), on small random traces.
//
// rapidcheck draws each trace (1-2 devices, interleaved submits and
// completions, failed and never-completed ops, flags, flushes, discards,
// marks), shrinks a failing one and prints it (the "trace:" log) with the
// seed. Replay a failure with
//
//   bazel test //tests:enumerator_property_test --test_env=RC_PARAMS="seed=S"
//
// with S the seed the failure printed ("Using configuration: seed=S"), or
// its "reproduce=..." string instead of seed=S to go straight to the
// shrunk case.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/crash_state.h"
#include "core/hash128.h"
#include "core/trace.h"
#include "enumerator/crash_points.h"
#include "enumerator/durability.h"
#include "enumerator/enumerate.h"
#include "enumerator/materializer.h"
#include "enumerator/state_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "tests/reference_model.h"

namespace crashenum {

// How rapidcheck prints the values it drew (found by ADL).
void showValue(OpKind k, std::ostream& os) {
  os << (k == OpKind::kWrite   ? "write"
         : k == OpKind::kFlush ? "flush"
                               : "discard");
}

namespace {

// The reference walks 2^n subsets; crash points with more variables than
// this are skipped.
constexpr int kMaxReferenceVars = 12;

// ---------------------------------------------------------------------------
// Random traces

struct Generated {
  Trace trace;
  std::string text;  // the trace, one event a line, for failure messages
};

char Letter(char c) { return c == '\0' ? '0' : c; }

// `bytes` of data made of 256-byte chunks (or one run), each one letter of a
// three-letter alphabet that includes zero, so equal content is common.
std::string Fill(uint32_t bytes, std::string* letters) {
  static const std::vector<char> kAlphabet = {'\0', 'a', 'b'};
  const uint32_t chunk = *rc::gen::arbitrary<bool>() ? bytes : 256;
  const std::vector<char> chosen = *rc::gen::container<std::vector<char>>(
      bytes / chunk, rc::gen::elementOf(kAlphabet));
  std::string out;
  for (char c : chosen) {
    out.append(chunk, c);
    *letters += Letter(c);
  }
  return out;
}

Generated GenTrace() {
  TraceBuilder b("builder", "");
  std::string text;
  const uint32_t num_devices = *rc::gen::inRange(1, 3);
  for (uint32_t d = 0; d < num_devices; ++d) {
    Device dev;
    dev.name = absl::StrCat("dev", d);
    const bool big = *rc::gen::weightedElement<bool>({{4, false}, {1, true}});
    dev.sector_size = big ? 4096 : 512;
    dev.num_sectors = big ? *rc::gen::inRange(2, 5) : *rc::gen::inRange(4, 9);
    std::string base = "zeroes";
    if (*rc::gen::weightedElement<bool>({{3, false}, {1, true}})) {
      base.clear();
      dev.base = b.Own(Fill(dev.num_sectors * dev.sector_size, &base));
    }
    absl::StrAppend(&text, dev.name, ": ", dev.num_sectors, " x ",
                    dev.sector_size, " bytes, base ", base, "\n");
    RC_ASSERT(b.AddDevice(dev).ok());
  }
  const int num_ops = *rc::gen::inRange(1, 9);
  int budget = *rc::gen::inRange(1, 11);  // sectors of writes and discards
  int submitted = 0, marks = 0;
  uint64_t entry = 0;
  std::vector<uint32_t> in_flight;
  auto complete = [&](uint32_t op) {
    const int32_t status =
        *rc::gen::weightedElement<int32_t>({{5, 0}, {1, -5}});
    RC_ASSERT(b.Complete(op, status, entry++).ok());
    absl::StrAppend(&text, "complete op", op, status ? " status -5" : "", "\n");
  };
  while (submitted < num_ops || !in_flight.empty()) {
    int action = 0;  // 0 submit, 1 complete, 2 mark
    if (submitted == num_ops) {
      action = 1;
    } else if (!in_flight.empty()) {
      action = *rc::gen::weightedElement<int>({{3, 0}, {2, 1}, {1, 2}});
    }
    if (action == 2 && marks < 3) {
      b.AddMark(absl::StrCat("m", marks), entry++);
      absl::StrAppend(&text, "mark m", marks++, "\n");
      continue;
    }
    if (action == 1) {
      const size_t k = *rc::gen::inRange<size_t>(0, in_flight.size());
      complete(in_flight[k]);
      in_flight.erase(in_flight.begin() + k);
      continue;
    }
    Op op;
    op.device = *rc::gen::inRange<uint32_t>(0, num_devices);
    const Device& dev = b.device(op.device);
    op.kind = *rc::gen::weightedElement<OpKind>(
        {{6, OpKind::kWrite}, {2, OpKind::kFlush}, {1, OpKind::kDiscard}});
    if (budget == 0) op.kind = OpKind::kFlush;
    std::string desc;
    if (op.kind != OpKind::kFlush) {
      const int most = std::min<int>({3, budget, int(dev.num_sectors)});
      op.num_sectors = *rc::gen::inRange(1, most + 1);
      op.sector =
          *rc::gen::inRange<uint64_t>(0, dev.num_sectors - op.num_sectors + 1);
      budget -= static_cast<int>(op.num_sectors);
      desc = absl::StrCat(" [", op.sector, ", +", op.num_sectors, ")");
    }
    if (op.kind == OpKind::kWrite) {
      // PREFLUSH often, so that in-flight PREFLUSH writes constrain states.
      for (auto [f, weight] :
           {std::pair<uint32_t, int>{kFua, 1}, {kPreflush, 2}, {kMeta, 1}}) {
        if (*rc::gen::weightedElement<bool>(
                {{4 - weight, false}, {weight, true}})) {
          op.flags |= f;
        }
      }
      std::string letters;
      op.data = b.Own(Fill(op.num_sectors * dev.sector_size, &letters));
      absl::StrAppend(&desc, " ", FlagsToString(op.flags), " data ", letters);
    }
    absl::StatusOr<uint32_t> i = b.Submit(op, entry++);
    RC_ASSERT(i.ok());
    ++submitted;
    const char* kind = op.kind == OpKind::kWrite   ? "write"
                       : op.kind == OpKind::kFlush ? "flush"
                                                   : "discard";
    absl::StrAppend(&text, "submit op", *i, " ", kind, " dev", op.device, desc,
                    "\n");
    // Complete now, later (interleaved with other ops), or never.
    const int fate = *rc::gen::weightedElement<int>({{4, 0}, {4, 1}, {1, 2}});
    if (fate == 0) complete(*i);
    if (fate == 1) in_flight.push_back(*i);
  }
  absl::StatusOr<Trace> trace = std::move(b).Build();
  RC_ASSERT(trace.ok());
  return Generated{*std::move(trace), std::move(text)};
}

// ---------------------------------------------------------------------------
// Model options and images

struct Config {
  uint32_t atomic_unit = 0;
  bool torn = true;
  DiscardMode discard = DiscardMode::kEither;
};

std::string ToString(const Config& c);
void showValue(const Config& c, std::ostream& os) { os << ToString(c); }

std::string ToString(const Config& c) {
  const char* d = c.discard == DiscardMode::kEither ? "either"
                  : c.discard == DiscardMode::kKeep ? "keep"
                                                    : "zero";
  return absl::StrCat("--atomic-unit=", c.atomic_unit,
                      c.torn ? " --torn=sectors" : " --torn=none",
                      " --discard=", d);
}

reference::ReferenceOptions ReferenceFor(const Config& c, int drop = -1) {
  reference::ReferenceOptions o;
  o.atomic_unit = c.atomic_unit;
  o.torn = c.torn;
  o.discard = c.discard == DiscardMode::kEither ? reference::Discard::kEither
              : c.discard == DiscardMode::kKeep ? reference::Discard::kKeep
                                                : reference::Discard::kZero;
  o.drop_at_most = drop;
  return o;
}

// Every combination of tearing and discard mode, with the sector as the
// atomic unit and, when every device has 512-byte sectors, with `sub`.
std::vector<Config> AllConfigs(const Trace& trace, uint32_t sub) {
  bool small = true;
  for (const Device& d : trace.devices()) small &= d.sector_size == 512;
  std::vector<Config> out;
  for (uint32_t unit : {0u, sub}) {
    if (unit != 0 && !small) continue;
    for (bool torn : {true, false}) {
      for (DiscardMode m :
           {DiscardMode::kEither, DiscardMode::kKeep, DiscardMode::kZero}) {
        out.push_back(Config{unit, torn, m});
      }
    }
  }
  return out;
}

Config GenConfig(const Trace& trace) {
  std::vector<Config> all = AllConfigs(trace, *rc::gen::element(256u, 128u));
  return *rc::gen::elementOf(all);
}

// A compact picture of an image for messages: one character per 128 bytes
// (the letter when they are all equal, '?' otherwise), devices separated by
// spaces.
std::string Picture(const Trace& trace, const std::string& image) {
  std::string out;
  size_t off = 0;
  for (const Device& d : trace.devices()) {
    if (!out.empty()) out += ' ';
    for (uint64_t i = 0; i < d.num_sectors * d.sector_size / 128; ++i) {
      absl::string_view chunk(image.data() + off, 128);
      off += 128;
      const bool uniform =
          chunk.find_first_not_of(chunk[0]) == absl::string_view::npos;
      out += uniform ? Letter(chunk[0]) : '?';
    }
  }
  return out;
}

std::string Pictures(const Trace& trace, const std::set<std::string>& images) {
  std::vector<std::string> p;
  for (const std::string& image : images) p.push_back(Picture(trace, image));
  return p.empty() ? "(none)" : absl::StrJoin(p, "\n    ");
}

void AssertSameImages(const Trace& trace, const std::set<std::string>& got,
                      const std::set<std::string>& want,
                      const std::string& where) {
  if (got == want) return;
  std::set<std::string> extra, missing;
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(),
                      std::inserter(extra, extra.end()));
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                      std::inserter(missing, missing.end()));
  RC_FAIL(absl::StrCat(
      where, ": crashenum has ", got.size(), " images, the reference model ",
      want.size(), "\n  only crashenum:\n    ", Pictures(trace, extra),
      "\n  only the reference:\n    ", Pictures(trace, missing)));
}

// The image of a resolved state, straight from the Resolution: the base,
// then the fixed units, then each slot's chosen version.
std::string ImageOf(const StateSpace& space, const Resolution& r) {
  const Trace& trace = space.trace();
  const UnitHashes& h = space.hashes();
  std::vector<std::string> dev;
  for (const Device& d : trace.devices()) {
    dev.push_back(
        d.base.empty()
            ? std::string(d.num_sectors * d.sector_size, '\0')
            : std::string(d.base.substr(0, d.num_sectors * d.sector_size)));
  }
  auto put = [&](uint32_t d, uint64_t unit, uint32_t op, uint32_t k) {
    const uint32_t ub = h.unit_bytes(d);
    const char* bytes = h.bytes(op, k);
    if (bytes == nullptr) {
      dev[d].replace(unit * ub, ub, std::string(ub, '\0'));
    } else {
      dev[d].replace(unit * ub, ub, bytes, ub);
    }
  };
  for (const FixedUnit& f : space.fixed()) {
    if (f.op != UINT32_MAX) put(f.device, f.unit, f.op, f.unit_in_op);
  }
  for (size_t s = 0; s < space.slots().size(); ++s) {
    const int32_t v = r.slot_version[s];
    if (v < 0) continue;
    const Slot& slot = space.slots()[s];
    const Candidate& c = slot.candidates[v];
    put(slot.device, slot.unit, c.op, c.unit_in_op);
  }
  return absl::StrJoin(dev, "");
}

const OptionalOp& FindOptional(const StateSpace& space, uint32_t op) {
  for (const OptionalOp& o : space.optional_ops()) {
    if (o.op == op) return o;
  }
  RC_FAIL(absl::StrCat("op ", op, " is not optional"));
}

bool AnyBit(const StateId& id, const OptionalOp& o) {
  for (uint32_t k = 0; k < o.num_units; ++k) {
    if (id.bits.Get(o.first_bit + k)) return true;
  }
  return false;
}

// Why the bitmap of `id` breaks the PREFLUSH rule (2.2), or "" when it does
// not. `skip_folded` passes over PREFLUSH writes whose units are all folded.
std::string BreaksPreflush(const StateSpace& space, const StateId& id,
                           bool skip_folded = false) {
  for (const PreflushConstraint& pc : space.preflush()) {
    const OptionalOp& w = FindOptional(space, pc.write);
    if ((skip_folded && w.vars.empty()) || !AnyBit(id, w)) continue;
    for (uint32_t c : pc.covered) {
      const OptionalOp& o = FindOptional(space, c);
      for (uint32_t k = 0; k < o.num_units; ++k) {
        if (!id.bits.Get(o.first_bit + k)) {
          return absl::StrCat("PREFLUSH write op", pc.write,
                              " persisted but not unit ", k, " of op", c,
                              ", which it flushes");
        }
      }
    }
  }
  return "";
}

struct Visit {
  StateId id;
  Hash128 hash;
  std::vector<uint8_t> values;
  std::string image;
};

// Enumerates `space`, resolving every visited ID and checking that it
// round-trips through its text form and resolves to the visited hash.
std::vector<Visit> Enumerate(const StateSpace& space,
                             const EnumerateOptions& options) {
  std::vector<Visit> out;
  std::string error;
  EnumerateStates(space, options, [&](const VisitedState& s) {
    Visit v{s.Id(), s.hash(), s.cursor().values(), ""};
    const std::string text = v.id.ToString();
    absl::StatusOr<StateId> parsed = StateId::Parse(text);
    if (!parsed.ok() || !(*parsed == v.id)) {
      error = absl::StrCat("state ", text, " does not round-trip");
      return false;
    }
    absl::StatusOr<Resolution> r = space.Resolve(v.id);
    if (!r.ok()) {
      error = absl::StrCat("visited state does not resolve: ",
                           r.status().ToString());
      return false;
    }
    if (std::string why = BreaksPreflush(space, v.id); !why.empty()) {
      error = absl::StrCat("state ", text, ": ", why);
      return false;
    }
    if (r->hash != v.hash) {
      error = absl::StrCat("state ", text, " visited with hash ",
                           v.hash.ToHex(), " resolves to ", r->hash.ToHex());
      return false;
    }
    v.image = ImageOf(space, *r);
    out.push_back(std::move(v));
    return true;
  });
  if (!error.empty()) RC_FAIL(error);
  return out;
}

std::set<std::string> ImagesOf(const std::vector<Visit>& visits) {
  std::set<std::string> out;
  for (const Visit& v : visits) out.insert(v.image);
  return out;
}

std::vector<uint32_t> Points(const Trace& trace, CrashPointMode mode,
                             DiscardMode discard) {
  CrashPointOptions o;
  o.mode = mode;
  o.discard = discard;
  absl::StatusOr<std::vector<CrashPoint>> points = FindCrashPoints(trace, o);
  RC_ASSERT(points.ok());
  std::vector<uint32_t> out;
  for (const CrashPoint& p : *points) out.push_back(p.event);
  return out;
}

std::unique_ptr<UnitHashes> Hashes(const Trace& trace, const Config& c) {
  absl::StatusOr<std::unique_ptr<UnitHashes>> h =
      UnitHashes::Build(trace, c.atomic_unit);
  RC_ASSERT(h.ok());
  return *std::move(h);
}

std::unique_ptr<StateSpace> Space(const UnitHashes& h, uint32_t point,
                                  const Config& c) {
  ModelOptions m;
  m.atomic_unit = c.atomic_unit;
  m.torn = c.torn;
  m.discard = c.discard;
  absl::StatusOr<std::unique_ptr<StateSpace>> s =
      StateSpace::Build(h, point, m);
  RC_ASSERT(s.ok());
  return *std::move(s);
}

bool Small(const Trace& trace, uint32_t point, const Config& c) {
  return reference::ReferenceVariables(trace, point, ReferenceFor(c)) <=
         kMaxReferenceVars;
}

std::string Where(uint32_t point, const Config& c) {
  return absl::StrCat("crash point e", point, " with ", ToString(c));
}

// ---------------------------------------------------------------------------
// Properties

// (a, b) At every crash point, under every model option, exhaustive
// enumeration yields exactly the reference model's images; every ID
// round-trips and resolves to its hash; hashes and images correspond one to
// one across all points.
RC_GTEST_PROP(EnumeratorProperty, ExhaustiveMatchesReference, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  for (const Config& c : AllConfigs(trace, *rc::gen::element(256u, 128u))) {
    std::unique_ptr<UnitHashes> h = Hashes(trace, c);
    const std::vector<uint32_t> all =
        Points(trace, CrashPointMode::kAll, c.discard);
    RC_ASSERT(all.size() == trace.events().size() + 1);
    const std::vector<uint32_t> durable =
        Points(trace, CrashPointMode::kDurable, c.discard);
    RC_ASSERT(!durable.empty());
    RC_ASSERT(durable.back() == trace.events().size());
    RC_ASSERT(
        std::includes(all.begin(), all.end(), durable.begin(), durable.end()));
    std::map<std::pair<uint64_t, uint64_t>, std::string> by_hash;
    std::map<std::string, Hash128> by_image;
    for (uint32_t p : all) {
      if (!Small(trace, p, c)) continue;
      std::unique_ptr<StateSpace> space = Space(*h, p, c);
      const std::vector<Visit> visits = Enumerate(*space, EnumerateOptions());
      AssertSameImages(trace, ImagesOf(visits),
                       reference::ReferenceImages(trace, p, ReferenceFor(c)),
                       Where(p, c));
      std::set<std::string> ids;
      for (const Visit& v : visits) {
        RC_ASSERT(ids.insert(v.id.ToString()).second);  // no state twice
        auto [it, fresh] = by_hash.insert({{v.hash.lo, v.hash.hi}, v.image});
        if (!fresh && it->second != v.image) {
          RC_FAIL(absl::StrCat(Where(p, c), ": hash ", v.hash.ToHex(),
                               " names two images: ", Picture(trace, v.image),
                               " and ", Picture(trace, it->second)));
        }
        auto [jt, new_image] = by_image.insert({v.image, v.hash});
        if (!new_image && jt->second != v.hash) {
          RC_FAIL(absl::StrCat(Where(p, c), ": image ", Picture(trace, v.image),
                               " has hashes ", v.hash.ToHex(), " and ",
                               jt->second.ToHex()));
        }
      }
    }
  }
}

// DESIGN 2.7: the default crash points (before each event that grows the
// durable set, and the end) lose no image: together they show every image
// that a crash at any point shows.
RC_GTEST_PROP(EnumeratorProperty, DefaultCrashPointsCoverEveryImage, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  Config c = GenConfig(trace);
  const std::vector<uint32_t> all =
      Points(trace, CrashPointMode::kAll, c.discard);
  for (uint32_t p : all) RC_PRE(Small(trace, p, c));
  const std::vector<uint32_t> durable =
      Points(trace, CrashPointMode::kDurable, c.discard);
  std::set<std::string> every, covered;
  std::map<std::string, uint32_t> first_point;
  for (uint32_t p : all) {
    for (const std::string& image :
         reference::ReferenceImages(trace, p, ReferenceFor(c))) {
      every.insert(image);
      first_point.insert({image, p});
    }
  }
  for (uint32_t p : durable) {
    std::set<std::string> s =
        reference::ReferenceImages(trace, p, ReferenceFor(c));
    covered.insert(s.begin(), s.end());
  }
  for (const std::string& image : every) {
    if (covered.count(image)) continue;
    RC_FAIL(absl::StrCat("image ", Picture(trace, image), " of crash point e",
                         first_point[image], " (", ToString(c),
                         ") is at no default crash point (",
                         absl::StrJoin(durable, ", "), ")"));
  }
}

// Materialization writes exactly the resolved image: from scratch
// (MaterializeState) and incrementally (Materializer), in real files.
RC_GTEST_PROP(EnumeratorProperty, MaterializedFilesMatch, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  const Config c = GenConfig(trace);
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir = tmp != nullptr ? tmp : "/tmp";
  std::vector<std::string> scratch, incremental;
  for (size_t d = 0; d < trace.devices().size(); ++d) {
    scratch.push_back(absl::StrCat(dir, "/scratch", d, ".img"));
    incremental.push_back(absl::StrCat(dir, "/incremental", d, ".img"));
  }
  auto read = [](const std::vector<std::string>& paths) {
    std::string out;
    for (const std::string& p : paths) {
      std::ifstream in(p, std::ios::binary);
      out.append(std::istreambuf_iterator<char>(in), {});
    }
    return out;
  };
  std::unique_ptr<UnitHashes> h = Hashes(trace, c);
  absl::StatusOr<std::unique_ptr<Materializer>> m =
      Materializer::Create(*h, incremental);
  RC_ASSERT(m.ok());
  for (uint32_t p : Points(trace, CrashPointMode::kDurable, c.discard)) {
    if (!Small(trace, p, c)) continue;
    // Shared: the Materializer keeps it until the next crash point's
    // first state, which it writes as a difference from this one's last.
    std::shared_ptr<const StateSpace> space = Space(*h, p, c);
    std::set<std::string> images;
    for (const Visit& v : Enumerate(*space, EnumerateOptions())) {
      absl::StatusOr<Resolution> r = space->Resolve(v.id);
      RC_ASSERT(r.ok());
      RC_ASSERT(MaterializeState(*space, *r, scratch).ok());
      if (absl::Status s = (*m)->Apply(space, *r); !s.ok()) {
        RC_FAIL(absl::StrCat(Where(p, c), ", state ", v.id.ToString(), ": ",
                             s.ToString()));
      }
      const std::string& want = v.image;
      if (read(scratch) != want || read(incremental) != want) {
        RC_FAIL(absl::StrCat(
            Where(p, c), ", state ", v.id.ToString(), ": resolved ",
            Picture(trace, want), ", MaterializeState wrote ",
            Picture(trace, read(scratch)), ", Materializer wrote ",
            Picture(trace, read(incremental))));
      }
      images.insert(want);
    }
    AssertSameImages(trace, images,
                     reference::ReferenceImages(trace, p, ReferenceFor(c)),
                     Where(p, c));
  }
}

// (c) Exhaustive enumeration is a Gray code: without preflush constraints,
// consecutive visits change exactly one variable (or none, between order
// choices of one assignment), every assignment is visited, and the count is
// exact.
RC_GTEST_PROP(EnumeratorProperty, GrayOrder, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  const Config c = GenConfig(trace);
  std::unique_ptr<UnitHashes> h = Hashes(trace, c);
  for (uint32_t p : Points(trace, CrashPointMode::kAll, c.discard)) {
    std::unique_ptr<StateSpace> space = Space(*h, p, c);
    if (!space->constraints().empty() || space->vars().size() > 14) continue;
    const std::vector<Visit> visits = Enumerate(*space, EnumerateOptions());
    RC_ASSERT(!visits.empty());
    RC_ASSERT(visits[0].values ==
              std::vector<uint8_t>(space->vars().size(), 0));
    std::set<std::vector<uint8_t>> assignments;
    for (size_t i = 0; i < visits.size(); ++i) {
      assignments.insert(visits[i].values);
      if (i == 0) continue;
      int changed = 0;
      for (size_t v = 0; v < space->vars().size(); ++v) {
        changed += visits[i].values[v] != visits[i - 1].values[v];
      }
      if (changed == 1) continue;
      if (changed == 0 && space->has_non_chain() &&
          visits[i].id.order != visits[i - 1].id.order) {
        continue;
      }
      RC_FAIL(absl::StrCat(Where(p, c), ": visit ", i, " changes ", changed,
                           " variables (", visits[i - 1].id.ToString(), " -> ",
                           visits[i].id.ToString(), ")"));
    }
    RC_ASSERT(assignments.size() == uint64_t{1} << space->vars().size());
    const StateCount count = CountStates(*space, EnumerateOptions());
    RC_ASSERT(count.fits);
    RC_ASSERT(!count.at_most);
    RC_ASSERT(count.exact == assignments.size());
    if (!space->has_non_chain()) RC_ASSERT(count.exact == visits.size());
  }
}

// (d) --drop-at-most=K with --torn=none: every visited state misses at most K
// optional writes, the images are the reference's subsets that miss at most
// K, and the count is exact when nothing constrains or multiplies it.
RC_GTEST_PROP(EnumeratorProperty, DropAtMost, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  Config c = GenConfig(trace);
  c.torn = false;
  const int k = *rc::gen::inRange(0, 3);
  EnumerateOptions options;
  options.drop_at_most = k;
  std::unique_ptr<UnitHashes> h = Hashes(trace, c);
  for (uint32_t p : Points(trace, CrashPointMode::kAll, c.discard)) {
    if (!Small(trace, p, c)) continue;
    std::unique_ptr<StateSpace> space = Space(*h, p, c);
    const std::vector<Visit> visits = Enumerate(*space, options);
    const std::string where = absl::StrCat(Where(p, c), " --drop-at-most=", k);
    for (const Visit& v : visits) {
      int missing = 0;
      for (const OptionalOp& op : space->optional_ops()) {
        missing += !AnyBit(v.id, op);
      }
      if (missing > k) {
        RC_FAIL(absl::StrCat(where, ": state ", v.id.ToString(), " misses ",
                             missing, " writes"));
      }
    }
    AssertSameImages(trace, ImagesOf(visits),
                     reference::ReferenceImages(trace, p, ReferenceFor(c, k)),
                     where);
    if (space->constraints().empty() && !space->has_non_chain()) {
      const StateCount count = CountStates(*space, options);
      RC_ASSERT(count.fits);
      RC_ASSERT(count.exact == visits.size());
    }
  }
}

// DESIGN 3, --oracle-reads=metadata: the images are exactly the reference's
// images of the subsets in which every write without META persisted whole;
// every state ID resolves to its image, and where a space built without the
// option resolves it too, to the same image.
RC_GTEST_PROP(EnumeratorProperty, MetadataOnlyMatchesReference, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  const Config c = GenConfig(trace);
  std::unique_ptr<UnitHashes> h = Hashes(trace, c);
  for (uint32_t p : Points(trace, CrashPointMode::kAll, c.discard)) {
    if (!Small(trace, p, c)) continue;
    ModelOptions m;
    m.atomic_unit = c.atomic_unit;
    m.torn = c.torn;
    m.discard = c.discard;
    m.metadata_only = true;
    absl::StatusOr<std::unique_ptr<StateSpace>> meta =
        StateSpace::Build(*h, p, m);
    RC_ASSERT(meta.ok());
    std::unique_ptr<StateSpace> plain = Space(*h, p, c);
    const std::vector<Visit> visits = Enumerate(**meta, EnumerateOptions());
    reference::ReferenceOptions ro = ReferenceFor(c);
    ro.metadata_only = true;
    const std::string where =
        absl::StrCat(Where(p, c), " --oracle-reads=metadata");
    AssertSameImages(trace, ImagesOf(visits),
                     reference::ReferenceImages(trace, p, ro), where);
    for (const Visit& v : visits) {
      absl::StatusOr<Resolution> own = (*meta)->Resolve(v.id);
      if (!own.ok()) RC_FAIL(absl::StrCat(where, ": ", own.status().ToString()));
      RC_ASSERT(own->hash == v.hash);
      absl::StatusOr<Resolution> r = plain->Resolve(v.id);
      if (r.ok() && r->hash != v.hash) {
        RC_FAIL(absl::StrCat(where, ": ", v.id.ToString(),
                             " names another image without the option"));
      }
    }
  }
}

// (e) Sampling with a fixed seed is deterministic, and every sampled state is
// a crash state of the reference model.
RC_GTEST_PROP(EnumeratorProperty, SamplingIsDeterministicAndSound, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  const Config c = GenConfig(trace);
  EnumerateOptions options;
  options.sample = *rc::gen::inRange<uint64_t>(1, 40);
  options.seed = *rc::gen::arbitrary<uint64_t>();
  std::unique_ptr<UnitHashes> h = Hashes(trace, c);
  for (uint32_t p : Points(trace, CrashPointMode::kDurable, c.discard)) {
    if (!Small(trace, p, c)) continue;
    std::unique_ptr<StateSpace> space = Space(*h, p, c);
    const std::vector<Visit> first = Enumerate(*space, options);
    const std::vector<Visit> second = Enumerate(*space, options);
    RC_ASSERT(first.size() == second.size());
    RC_ASSERT(first.size() <= options.sample);
    const std::set<std::string> want =
        reference::ReferenceImages(trace, p, ReferenceFor(c));
    for (size_t i = 0; i < first.size(); ++i) {
      RC_ASSERT(first[i].id.ToString() == second[i].id.ToString());
      if (!want.count(first[i].image)) {
        RC_FAIL(absl::StrCat(
            Where(p, c), ": sampled state ", first[i].id.ToString(), " shows ",
            Picture(trace, first[i].image), ", which is no crash state"));
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Enumerator bugs the properties found, as minimal traces. Disabled until
// fixed; the properties above skip exactly these cases.

// Builds a trace step by step; ops are numbered in submission order.
class Script {
 public:
  Script() : b_("builder", "") {}
  void AddDevice(uint32_t sector_size, uint64_t sectors) {
    Device d;
    d.name = absl::StrCat("dev", devices_++);
    d.sector_size = sector_size;
    d.num_sectors = sectors;
    ASSERT_TRUE(b_.AddDevice(d).ok());
  }
  uint32_t Submit(OpKind kind, uint32_t device, uint64_t sector, uint64_t n,
                  char fill, uint32_t flags = 0) {
    Op op;
    op.kind = kind;
    op.device = device;
    op.sector = sector;
    op.num_sectors = n;
    op.flags = flags;
    if (kind == OpKind::kWrite) {
      op.data = b_.Own(std::string(n * b_.device(device).sector_size, fill));
    }
    return *b_.Submit(op, entry_++);
  }
  void Complete(uint32_t op) { ASSERT_TRUE(b_.Complete(op, 0, entry_++).ok()); }
  Trace Build() { return *std::move(b_).Build(); }

 private:
  TraceBuilder b_;
  uint32_t devices_ = 0;
  uint64_t entry_ = 0;
};

std::vector<StateId> VisitedIds(const StateSpace& space,
                                const EnumerateOptions& options) {
  std::vector<StateId> ids;
  EnumerateStates(space, options, [&](const VisitedState& s) {
    ids.push_back(s.Id());
    return true;
  });
  return ids;
}

// DESIGN 2.7: the default crash points are the events that grow the durable
// set. With --discard=zero a discard is durable from its submit, but
// DurabilityTracker::WouldGrow only looks at completions, so the point just
// before the submit is missed, and with it every image the discard hides:
// here a crash before the discard may show 'a' in sector 0, a crash at the
// only default point (the end) never does.
TEST(EnumeratorRegression, ZeroDiscardSubmitIsACrashPoint) {
  Script s;
  s.AddDevice(512, 4);
  s.Complete(s.Submit(OpKind::kWrite, 0, 0, 1, 'a'));  // events 0, 1
  s.Complete(s.Submit(OpKind::kDiscard, 0, 0, 1, 0));  // events 2, 3
  Trace trace = s.Build();
  CrashPointOptions o;
  o.discard = DiscardMode::kZero;
  absl::StatusOr<std::vector<CrashPoint>> points = FindCrashPoints(trace, o);
  ASSERT_TRUE(points.ok());
  std::vector<uint32_t> events;
  for (const CrashPoint& p : *points) events.push_back(p.event);
  EXPECT_THAT(events, ::testing::ElementsAre(2, 4));
}

// DESIGN 2.2, 2.8: a state ID is the bitmap of persisted optional units, and
// no crash state shows a PREFLUSH write without what its preflush covers.
// Op 2 below is an in-flight PREFLUSH write of zeroes over zeroes: all its
// units fold away, yet it must still not count as persisted unless op 1 (which
// it covers) did, both in IDs and under --drop-at-most.
TEST(EnumeratorRegression, FoldedPreflushWriteBreaksItsConstraint) {
  Script s;
  s.AddDevice(512, 4);
  s.Complete(s.Submit(OpKind::kWrite, 0, 2, 1, 'a'));  // op 0
  s.Complete(s.Submit(OpKind::kWrite, 0, 1, 1, 'b'));  // op 1
  s.Submit(OpKind::kWrite, 0, 0, 1, '\0', kPreflush);  // op 2, in flight
  Trace trace = s.Build();
  std::unique_ptr<UnitHashes> h = *UnitHashes::Build(trace, 0);
  ModelOptions m;
  m.torn = false;
  std::unique_ptr<StateSpace> space =
      *StateSpace::Build(*h, trace.events().size(), m);
  for (const StateId& id : VisitedIds(*space, EnumerateOptions())) {
    EXPECT_EQ(BreaksPreflush(*space, id, /*skip_folded=*/false), "")
        << id.ToString();
  }
  EnumerateOptions drop;
  drop.drop_at_most = 1;
  std::set<std::string> images;
  EnumerateStates(*space, drop, [&](const VisitedState& v) {
    images.insert(ImageOf(*space, *space->Resolve(v.Id())));
    return true;
  });
  reference::ReferenceOptions r;
  r.torn = false;
  r.drop_at_most = 1;
  EXPECT_EQ(Pictures(trace, images),
            Pictures(trace, reference::ReferenceImages(
                                trace, trace.events().size(), r)));
}

}  // namespace
}  // namespace crashenum
