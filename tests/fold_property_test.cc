// Folding (DESIGN.md 3) never changes the images of a crash point.
//
// The default model folds optional unit versions that cannot change the
// image: (1) versions that happen before a durable version of their unit,
// (2) in chain slots, optional versions equal to every version below them,
// and (3) units whose versions are all equal. ModelOptions::fold = false
// turns this off. On small random traces biased towards such versions, every
// crash point is enumerated exhaustively both ways, under every tearing and
// discard option, with an atomic unit of 512 or 256 bytes (drawn per trace),
// and both must give exactly the images of the brute-force reference model
// (tests/reference_model.h) and the same image hashes, the folded space no
// more variables or states, and every folded state ID the same image in the
// unfolded space where no order choices enter.
//
// Replay a failure with
//
//   bazel test //tests:fold_property_test --test_env=RC_PARAMS="seed=S"
//
// with S the seed the failure printed, or its "reproduce=..." string.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/crash_state.h"
#include "core/hash128.h"
#include "core/trace.h"
#include "enumerator/crash_points.h"
#include "enumerator/durability.h"
#include "enumerator/enumerate.h"
#include "enumerator/state_space.h"
#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "tests/reference_model.h"

namespace crashenum {
namespace {

// Crash points whose reference model walks more variables are skipped.
constexpr int kMaxReferenceVars = 10;

// ---------------------------------------------------------------------------
// Random traces biased towards foldable versions

struct Generated {
  Trace trace;
  std::string text;  // the trace, one event a line, for failure messages
};

char Letter(char c) { return c == '\0' ? '0' : c; }

// One letter per 256 bytes, for the trace text.
std::string Letters(absl::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 256) out += Letter(bytes[i]);
  return out;
}

// `bytes` of data in 256-byte chunks, each zero, 'a' or 'b'.
std::string Chunks(uint32_t bytes) {
  static const std::vector<char> kAlphabet = {'\0', 'a', 'b'};
  std::string out;
  for (uint32_t i = 0; i < bytes / 256; ++i) {
    out.append(256, *rc::gen::elementOf(kAlphabet));
  }
  return out;
}

Generated GenTrace() {
  TraceBuilder b("builder", "");
  std::string text;
  const uint32_t num_devices =
      *rc::gen::weightedElement<uint32_t>({{4, 1}, {1, 2}});
  // Per device: the base content, and what the writes submitted so far put
  // over it, in submission order.
  std::vector<std::string> base, latest;
  for (uint32_t d = 0; d < num_devices; ++d) {
    Device dev;
    dev.name = absl::StrCat("dev", d);
    dev.sector_size = 512;
    dev.num_sectors = *rc::gen::inRange(2, 7);
    const uint32_t size = dev.num_sectors * dev.sector_size;
    base.push_back(*rc::gen::weightedElement<bool>({{2, false}, {1, true}})
                       ? Chunks(size)
                       : std::string(size, '\0'));
    if (base.back().find_first_not_of('\0') != std::string::npos) {
      dev.base = b.Own(base.back());
    }
    latest.push_back(base.back());
    absl::StrAppend(&text, dev.name, ": ", dev.num_sectors,
                    " x 512 bytes, base ", Letters(base.back()), "\n");
    RC_ASSERT(b.AddDevice(dev).ok());
  }
  struct Range {
    uint32_t device;
    uint64_t sector;
    uint64_t n;
  };
  std::vector<Range> written;  // writes and discards so far
  // The trace's length does not grow with rapidcheck's size: short traces
  // fold little.
  const int num_ops = *rc::gen::resize(100, rc::gen::inRange(1, 13));
  // Sectors of writes and discards.
  int budget = *rc::gen::resize(100, rc::gen::inRange(1, 10));
  int submitted = 0;
  uint64_t entry = 0;
  std::vector<uint32_t> in_flight;
  auto complete = [&](uint32_t op) {
    const int32_t status =
        *rc::gen::weightedElement<int32_t>({{7, 0}, {1, -5}});
    RC_ASSERT(b.Complete(op, status, entry++).ok());
    absl::StrAppend(&text, "complete op", op, status ? " status -5" : "", "\n");
  };
  auto flush = [&](uint32_t device) {
    Op op;
    op.kind = OpKind::kFlush;
    op.device = device;
    absl::StatusOr<uint32_t> i = b.Submit(op, entry++);
    RC_ASSERT(i.ok());
    absl::StrAppend(&text, "submit op", *i, " flush dev", device, "\n");
    return *i;
  };
  while (submitted < num_ops || !in_flight.empty()) {
    const bool submit = submitted < num_ops &&
                        (in_flight.empty() || *rc::gen::weightedElement<bool>(
                                                  {{3, true}, {2, false}}));
    if (!submit) {
      const size_t k = *rc::gen::inRange<size_t>(0, in_flight.size());
      complete(in_flight[k]);
      in_flight.erase(in_flight.begin() + k);
      continue;
    }
    ++submitted;
    OpKind kind = *rc::gen::weightedElement<OpKind>(
        {{6, OpKind::kWrite}, {2, OpKind::kFlush}, {2, OpKind::kDiscard}});
    if (budget == 0) kind = OpKind::kFlush;
    if (kind == OpKind::kFlush) {
      const uint32_t op = flush(*rc::gen::inRange<uint32_t>(0, num_devices));
      if (*rc::gen::arbitrary<bool>()) {
        complete(op);
      } else {
        in_flight.push_back(op);
      }
      continue;
    }
    // Mostly over (part of) an earlier write, so that versions compete,
    // and then often with FUA, so that the later version is durable.
    Op op;
    op.kind = kind;
    const int most = std::min(3, budget);
    const bool rewrite = !written.empty() && *rc::gen::weightedElement<bool>(
                                                 {{1, false}, {2, true}});
    if (rewrite) {
      const Range& r = *rc::gen::elementOf(written);
      op.device = r.device;
      op.sector = *rc::gen::inRange<uint64_t>(r.sector, r.sector + r.n);
      const uint64_t room = b.device(op.device).num_sectors - op.sector;
      op.num_sectors =
          *rc::gen::inRange<uint64_t>(1, std::min<uint64_t>(room, most) + 1);
    } else {
      op.device = *rc::gen::inRange<uint32_t>(0, num_devices);
      const uint64_t size = b.device(op.device).num_sectors;
      op.num_sectors =
          *rc::gen::inRange<uint64_t>(1, std::min<uint64_t>(size, most) + 1);
      op.sector = *rc::gen::inRange<uint64_t>(0, size - op.num_sectors + 1);
    }
    budget -= static_cast<int>(op.num_sectors);
    written.push_back(Range{op.device, op.sector, op.num_sectors});
    const uint64_t off = op.sector * 512, len = op.num_sectors * 512;
    std::string desc = absl::StrCat(" dev", op.device, " [", op.sector, ", +",
                                    op.num_sectors, ")");
    std::string data(len, '\0');
    if (kind == OpKind::kWrite) {
      // What the write holds: mostly bytes that are there already.
      switch (*rc::gen::weightedElement<int>(
          {{3, 0}, {2, 1}, {1, 2}, {2, 3}, {1, 4}})) {
        case 0:  // what the writes before it left there
          data = latest[op.device].substr(off, len);
          break;
        case 1:  // the base content
          data = base[op.device].substr(off, len);
          break;
        case 2:  // zeroes
          break;
        case 3:  // one letter
          data.assign(len, *rc::gen::element('a', 'b'));
          break;
        default:
          data = Chunks(len);
      }
      if (*rc::gen::weightedElement<bool>({{3, false}, {1, true}})) {
        op.flags |= kPreflush;
      }
      if (*rc::gen::weightedElement<bool>(
              {{3, false}, {rewrite ? 3 : 1, true}})) {
        op.flags |= kFua;
      }
      if (*rc::gen::arbitrary<bool>()) op.flags |= kMeta;
      op.data = b.Own(data);
      absl::StrAppend(&desc, " ", FlagsToString(op.flags), " data ",
                      Letters(data));
    }
    latest[op.device].replace(off, len, data);
    absl::StatusOr<uint32_t> i = b.Submit(op, entry++);
    RC_ASSERT(i.ok());
    absl::StrAppend(&text, "submit op", *i,
                    kind == OpKind::kWrite ? " write" : " discard", desc, "\n");
    // Complete now, now and flush (durable at once), later, or never.
    switch (*rc::gen::weightedElement<int>({{3, 0}, {2, 1}, {3, 2}, {1, 3}})) {
      case 0:
        complete(*i);
        break;
      case 1:
        complete(*i);
        complete(flush(op.device));
        break;
      case 2:
        in_flight.push_back(*i);
        break;
      default:
        break;
    }
  }
  absl::StatusOr<Trace> trace = std::move(b).Build();
  RC_ASSERT(trace.ok());
  return Generated{*std::move(trace), std::move(text)};
}

// ---------------------------------------------------------------------------
// Model options, enumeration and images

struct Config {
  uint32_t atomic_unit = 0;
  bool torn = true;
  DiscardMode discard = DiscardMode::kEither;
};

std::string ToString(const Config& c) {
  const char* d = c.discard == DiscardMode::kEither ? "either"
                  : c.discard == DiscardMode::kKeep ? "keep"
                                                    : "zero";
  return absl::StrCat("--atomic-unit=", c.atomic_unit,
                      c.torn ? " --torn=sectors" : " --torn=none",
                      " --discard=", d);
}

// Every combination of tearing and discard mode with atomic unit `unit`.
std::vector<Config> AllConfigs(uint32_t unit) {
  std::vector<Config> out;
  for (bool torn : {true, false}) {
    for (DiscardMode m :
         {DiscardMode::kEither, DiscardMode::kKeep, DiscardMode::kZero}) {
      out.push_back(Config{unit, torn, m});
    }
  }
  return out;
}

reference::ReferenceOptions ReferenceFor(const Config& c) {
  reference::ReferenceOptions o;
  o.atomic_unit = c.atomic_unit;
  o.torn = c.torn;
  o.discard = c.discard == DiscardMode::kEither ? reference::Discard::kEither
              : c.discard == DiscardMode::kKeep ? reference::Discard::kKeep
                                                : reference::Discard::kZero;
  return o;
}

absl::StatusOr<std::unique_ptr<StateSpace>> Space(const UnitHashes& h,
                                                  uint32_t point,
                                                  const Config& c, bool fold) {
  ModelOptions m;
  m.atomic_unit = c.atomic_unit;
  m.torn = c.torn;
  m.discard = c.discard;
  m.fold = fold;
  return StateSpace::Build(h, point, m);
}

// The image of a resolved state: the base, then the fixed units, then each
// slot's chosen version; devices concatenated.
std::string ImageOf(const StateSpace& space, const Resolution& r) {
  const Trace& trace = space.trace();
  const UnitHashes& h = space.hashes();
  std::vector<std::string> dev;
  for (const Device& d : trace.devices()) {
    const uint64_t size = d.num_sectors * d.sector_size;
    dev.push_back(d.base.empty() ? std::string(size, '\0')
                                 : std::string(d.base.substr(0, size)));
  }
  auto put = [&](uint32_t d, uint64_t unit, uint32_t op, uint32_t k) {
    const uint32_t ub = h.unit_bytes(d);
    const char* bytes = h.bytes(op, k);
    dev[d].replace(
        unit * ub, ub,
        bytes == nullptr ? std::string(ub, '\0') : std::string(bytes, ub));
  };
  for (const FixedUnit& f : space.fixed()) {
    if (f.op != UINT32_MAX) put(f.device, f.unit, f.op, f.unit_in_op);
  }
  for (size_t s = 0; s < space.slots().size(); ++s) {
    const int32_t v = r.slot_version[s];
    if (v < 0) continue;
    const Slot& slot = space.slots()[s];
    put(slot.device, slot.unit, slot.candidates[v].op,
        slot.candidates[v].unit_in_op);
  }
  return absl::StrJoin(dev, "");
}

// A compact picture of an image: one character per 256 bytes.
std::string Picture(const std::string& image) { return Letters(image); }

std::string Pictures(const std::set<std::string>& images) {
  std::vector<std::string> p;
  for (const std::string& image : images) p.push_back(Picture(image));
  return p.empty() ? "(none)" : absl::StrJoin(p, " ");
}

struct Enumeration {
  std::vector<std::pair<StateId, Hash128>> states;  // in visiting order
  std::set<std::pair<uint64_t, uint64_t>> hashes;
  std::set<std::string> images;
};

// Enumerates `space` exhaustively. Every state must be new and resolve
// (StateSpace::Resolve) to the hash the enumeration gave; the first state of
// each hash is materialized from its Resolution.
absl::StatusOr<Enumeration> Enumerate(const StateSpace& space) {
  Enumeration e;
  std::string error;
  std::set<std::pair<std::vector<uint64_t>, std::vector<uint32_t>>> seen;
  EnumerateStates(space, EnumerateOptions(), [&](const VisitedState& s) {
    StateId id = s.Id();
    if (!seen.insert({id.bits.words(), id.order}).second) {
      error = absl::StrCat("state ", id.ToString(), " visited twice");
      return false;
    }
    absl::StatusOr<Resolution> r = space.Resolve(id);
    if (!r.ok()) {
      error = absl::StrCat("state ", id.ToString(),
                           " does not resolve: ", r.status().ToString());
      return false;
    }
    if (r->hash != s.hash()) {
      error = absl::StrCat("state ", id.ToString(), " visited with hash ",
                           s.hash().ToHex(), " resolves to ", r->hash.ToHex());
      return false;
    }
    if (e.hashes.insert({s.hash().lo, s.hash().hi}).second) {
      e.images.insert(ImageOf(space, *r));
    }
    e.states.push_back({std::move(id), s.hash()});
    return true;
  });
  if (!error.empty()) return absl::InternalError(error);
  return e;
}

// Units of optional ops that have no variable (folded).
uint32_t FoldedUnits(const StateSpace& space) {
  uint32_t n = 0;
  for (const OptionalOp& op : space.optional_ops()) {
    for (uint32_t k = 0; k < op.num_units; ++k) n += op.var_of(k) < 0;
  }
  return n;
}

// The kinds of folding the default model applies to the slots of an
// unfolded space: bit 0 hidden, bit 1 equal to what is below, bit 2 all
// versions equal.
constexpr int kHidden = 1, kEqualBelow = 2, kAllEqual = 4;

int FoldKinds(const StateSpace& unfolded) {
  const Trace& trace = unfolded.trace();
  auto hb = [&](uint32_t a, uint32_t b) {
    return trace.complete_event(a) < trace.submit_event(b);
  };
  int kinds = 0;
  for (const Slot& slot : unfolded.slots()) {
    std::vector<Candidate> live;
    for (const Candidate& c : slot.candidates) {
      bool hidden = false;
      for (const Candidate& d : slot.candidates) {
        hidden |= d.bit < 0 && hb(c.op, d.op);
      }
      if (!hidden) live.push_back(c);
      if (hidden && c.bit >= 0) kinds |= kHidden;
    }
    bool chain = true;
    for (size_t i = 0; i + 1 < live.size(); ++i) {
      chain &= hb(live[i].op, live[i + 1].op);
    }
    if (chain) {
      std::vector<Candidate> kept;
      Hash128 floor;
      bool uniform = true;
      for (const Candidate& c : live) {
        if (c.bit < 0) floor = c.rel;
        if (uniform && c.bit >= 0 && c.rel == floor) {
          kinds |= kEqualBelow;
          continue;
        }
        uniform &= c.rel == floor;
        kept.push_back(c);
      }
      live = std::move(kept);
    }
    bool same = !live.empty(), durable = false, optional = false;
    for (const Candidate& c : live) {
      same &= c.rel == live.front().rel;
      durable |= c.bit < 0;
      optional |= c.bit >= 0;
    }
    if (same && optional && (durable || live.front().rel.IsZero())) {
      kinds |= kAllEqual;
    }
  }
  return kinds;
}

std::string KindsToString(int kinds) {
  std::vector<std::string> out;
  if (kinds & kHidden) out.push_back("hidden");
  if (kinds & kEqualBelow) out.push_back("equal-below");
  if (kinds & kAllEqual) out.push_back("all-equal");
  return out.empty() ? "none" : absl::StrJoin(out, "+");
}

std::vector<uint32_t> AllPoints(const Trace& trace, DiscardMode discard) {
  CrashPointOptions o;
  o.mode = CrashPointMode::kAll;
  o.discard = discard;
  absl::StatusOr<std::vector<CrashPoint>> points = FindCrashPoints(trace, o);
  RC_ASSERT(points.ok());
  std::vector<uint32_t> out;
  for (const CrashPoint& p : *points) out.push_back(p.event);
  return out;
}

bool SameDurability(const Durability& a, const Durability& b) {
  if (a.state != b.state || a.constraints.size() != b.constraints.size()) {
    return false;
  }
  for (size_t i = 0; i < a.constraints.size(); ++i) {
    if (a.constraints[i].write != b.constraints[i].write ||
        a.constraints[i].covered != b.constraints[i].covered) {
      return false;
    }
  }
  return true;
}

// Why CountStates disagrees with the `visited` states of an exhaustive
// enumeration, or "". It counts variable assignments that satisfy the
// preflush constraints: exactly without order choices, as a lower bound
// with them (so few variables are always walked exactly).
std::string CheckCount(const StateSpace& space, uint64_t visited) {
  const StateCount n = CountStates(space, EnumerateOptions());
  const bool ok = n.fits && !n.at_most &&
                  (space.has_non_chain() ? n.at_least && n.exact <= visited
                                         : !n.at_least && n.exact == visited);
  if (ok) return "";
  return absl::StrCat("CountStates says ", n.ToString(),
                      ", the enumeration visited ", visited);
}

// ---------------------------------------------------------------------------
// The property

RC_GTEST_PROP(FoldProperty, FoldingKeepsEveryImage, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  int kinds = 0;
  uint64_t folded_units = 0;
  // The sector or half of it (two units a sector) as the atomic unit.
  const uint32_t unit = *rc::gen::element(0u, 256u);
  for (const Config& c : AllConfigs(unit)) {
    absl::StatusOr<std::unique_ptr<UnitHashes>> h =
        UnitHashes::Build(trace, c.atomic_unit);
    RC_ASSERT(h.ok());
    const std::vector<uint32_t> points = AllPoints(trace, c.discard);
    RC_ASSERT(points.size() == trace.events().size() + 1);
    Durability previous;
    for (uint32_t p : points) {
      // Happens-before among the possible ops does not depend on the point,
      // so a point whose ops have the states and preflush constraints of the
      // point before it has the same space: skip it.
      Durability d = DurabilityAt(trace, p, c.discard);
      if (p > 0 && SameDurability(d, previous)) continue;
      previous = std::move(d);
      const int ref_vars =
          reference::ReferenceVariables(trace, p, ReferenceFor(c));
      if (ref_vars > kMaxReferenceVars) continue;
      const std::string where =
          absl::StrCat("crash point e", p, " with ", ToString(c));
      absl::StatusOr<std::unique_ptr<StateSpace>> folded =
          Space(**h, p, c, /*fold=*/true);
      absl::StatusOr<std::unique_ptr<StateSpace>> unfolded =
          Space(**h, p, c, /*fold=*/false);
      RC_ASSERT(folded.ok());
      RC_ASSERT(unfolded.ok());
      const StateSpace& f = **folded;
      const StateSpace& u = **unfolded;
      // Without folding every optional unit has a variable: as many as the
      // reference model walks.
      RC_ASSERT(f.num_bits() == u.num_bits());
      RC_ASSERT(FoldedUnits(u) == 0u);
      RC_ASSERT(u.vars().size() == static_cast<size_t>(ref_vars));
      RC_ASSERT(f.vars().size() <= u.vars().size());
      kinds |= FoldKinds(u);
      folded_units += FoldedUnits(f);

      absl::StatusOr<Enumeration> fe = Enumerate(f);
      if (!fe.ok())
        RC_FAIL(absl::StrCat(where, ", folded: ", fe.status().message()));
      absl::StatusOr<Enumeration> ue = Enumerate(u);
      if (!ue.ok()) {
        RC_FAIL(absl::StrCat(where, ", unfolded: ", ue.status().message()));
      }
      const std::set<std::string> want =
          reference::ReferenceImages(trace, p, ReferenceFor(c));
      if (fe->images != want || ue->images != want) {
        RC_FAIL(absl::StrCat(where, ": folded images ", Pictures(fe->images),
                             ", unfolded ", Pictures(ue->images),
                             ", reference ", Pictures(want)));
      }
      RC_ASSERT(fe->hashes == ue->hashes);
      RC_ASSERT(fe->hashes.size() == want.size());
      RC_ASSERT(fe->states.size() <= ue->states.size());
      if (std::string why = CheckCount(f, fe->states.size()); !why.empty()) {
        RC_FAIL(absl::StrCat(where, ", folded: ", why));
      }
      if (std::string why = CheckCount(u, ue->states.size()); !why.empty()) {
        RC_FAIL(absl::StrCat(where, ", unfolded: ", why));
      }
      // Folded units keep their bits in state IDs: where no order choices
      // enter, a folded state's ID names the same image without folding.
      if (f.has_non_chain() || u.has_non_chain()) continue;
      for (const auto& [id, hash] : fe->states) {
        absl::StatusOr<Resolution> b = u.Resolve(id);
        if (!b.ok()) {
          RC_FAIL(absl::StrCat(
              where, ": ", id.ToString(),
              " does not resolve without folding: ", b.status().ToString()));
        }
        if (b->hash != hash) {
          absl::StatusOr<Resolution> a = f.Resolve(id);
          RC_ASSERT(a.ok());
          RC_FAIL(absl::StrCat(where, ": ", id.ToString(), " is ",
                               Picture(ImageOf(f, *a)), " folded and ",
                               Picture(ImageOf(u, *b)), " unfolded"));
        }
      }
    }
  }
  RC_TAG(folded_units > 0 ? "some units folded" : "no unit folded",
         KindsToString(kinds));
}

// ---------------------------------------------------------------------------
// Each kind of folding on a hand-built trace

// Builds a one-device trace of 512-byte sectors, zeroes as its base.
class Script {
 public:
  explicit Script(uint64_t sectors) : b_("builder", "") {
    Device d;
    d.name = "dev0";
    d.sector_size = 512;
    d.num_sectors = sectors;
    EXPECT_TRUE(b_.AddDevice(d).ok());
  }
  uint32_t Submit(uint64_t sector, uint64_t n, char fill, uint32_t flags = 0) {
    Op op;
    op.kind = OpKind::kWrite;
    op.sector = sector;
    op.num_sectors = n;
    op.flags = flags;
    op.data = b_.Own(std::string(n * 512, fill));
    return *b_.Submit(op, entry_++);
  }
  void Complete(uint32_t op) { EXPECT_TRUE(b_.Complete(op, 0, entry_++).ok()); }
  uint32_t Write(uint64_t sector, uint64_t n, char fill, uint32_t flags = 0) {
    const uint32_t op = Submit(sector, n, fill, flags);
    Complete(op);
    return op;
  }
  void Flush() {
    Op op;
    op.kind = OpKind::kFlush;
    EXPECT_TRUE(b_.SubmitAndComplete(op, entry_++).ok());
  }
  Trace Build() && { return *std::move(b_).Build(); }

 private:
  TraceBuilder b_;
  uint64_t entry_ = 0;
};

struct Outcome {
  size_t vars = 0;
  size_t slots = 0;
  size_t fixed = 0;
  uint32_t folded_units = 0;
  int kinds = 0;  // FoldKinds of the unfolded space
  uint64_t states = 0;
  std::vector<std::string> images;  // pictures, sorted
};

// Builds and enumerates the end of `trace` with or without folding.
Outcome AtEnd(const Trace& trace, bool fold, bool torn = true) {
  Outcome o;
  std::unique_ptr<UnitHashes> h = *UnitHashes::Build(trace, 0);
  Config c;
  c.torn = torn;
  absl::StatusOr<std::unique_ptr<StateSpace>> space =
      Space(*h, trace.events().size(), c, fold);
  EXPECT_TRUE(space.ok()) << space.status();
  if (!space.ok()) return o;
  o.vars = (*space)->vars().size();
  o.slots = (*space)->slots().size();
  o.fixed = (*space)->fixed().size();
  o.folded_units = FoldedUnits(**space);
  if (!fold) o.kinds = FoldKinds(**space);
  absl::StatusOr<Enumeration> e = Enumerate(**space);
  EXPECT_TRUE(e.ok()) << e.status();
  if (!e.ok()) return o;
  o.states = e->states.size();
  for (const std::string& image : e->images) o.images.push_back(Picture(image));
  reference::ReferenceOptions r;
  r.torn = torn;
  std::set<std::string> want =
      reference::ReferenceImages(trace, trace.events().size(), r);
  EXPECT_EQ(Pictures(e->images), Pictures(want));
  return o;
}

// (1) A version that happens before a durable version never shows.
// op0 'a' over sectors 0-1, completed; op1 'b' FUA over sector 0, completed
// (durable); op2 'c' over sector 0, in flight.
//   Folded: sector 0 is the chain [op1 durable, op2]; op0's unit there is
//   hidden. Variables: op0 sector 1, op2 sector 0 = 2; states 4.
//   Unfolded: sector 0 is the chain [op0, op1 durable, op2], a durable
//   version in the middle. Variables: op0 x 2, op2 = 3; states 8.
// Images: sector 0 'b' or 'c', sector 1 '0' or 'a' (2 chars per sector).
// ---------------------------------------------------------------------------
// SpaceBuilder builds what StateSpace::Build builds

// Where two spaces differ, or "".
std::string SpaceDiff(const StateSpace& a, const StateSpace& b) {
  if (a.event() != b.event()) return "event";
  if (a.op_states() != b.op_states()) return "op states";
  if (a.preflush().size() != b.preflush().size()) return "preflush";
  for (size_t i = 0; i < a.preflush().size(); ++i) {
    if (a.preflush()[i].write != b.preflush()[i].write ||
        a.preflush()[i].covered != b.preflush()[i].covered) {
      return absl::StrCat("preflush constraint ", i);
    }
  }
  if (a.num_bits() != b.num_bits()) return "number of bits";
  if (a.fixed_hash() != b.fixed_hash()) return "hash of the fixed units";
  if (a.has_non_chain() != b.has_non_chain()) return "has_non_chain";
  if (a.optional_ops().size() != b.optional_ops().size()) return "optional ops";
  for (size_t i = 0; i < a.optional_ops().size(); ++i) {
    const OptionalOp& x = a.optional_ops()[i];
    const OptionalOp& y = b.optional_ops()[i];
    if (x.op != y.op || x.first_bit != y.first_bit ||
        x.num_units != y.num_units || x.unit_var != y.unit_var ||
        x.vars != y.vars) {
      return absl::StrCat("optional op ", i);
    }
  }
  if (a.fixed().size() != b.fixed().size()) {
    return absl::StrCat(a.fixed().size(), " vs ", b.fixed().size(),
                        " fixed units");
  }
  for (size_t i = 0; i < a.fixed().size(); ++i) {
    const FixedUnit& x = a.fixed()[i];
    const FixedUnit& y = b.fixed()[i];
    if (x.device != y.device || x.unit != y.unit || x.op != y.op ||
        x.unit_in_op != y.unit_in_op) {
      return absl::StrCat("fixed unit ", i);
    }
  }
  if (a.slots().size() != b.slots().size()) {
    return absl::StrCat(a.slots().size(), " vs ", b.slots().size(), " slots");
  }
  for (size_t i = 0; i < a.slots().size(); ++i) {
    const Slot& x = a.slots()[i];
    const Slot& y = b.slots()[i];
    bool same = x.device == y.device && x.unit == y.unit &&
                x.chain == y.chain && x.hb == y.hb &&
                x.candidates.size() == y.candidates.size();
    for (size_t k = 0; same && k < x.candidates.size(); ++k) {
      const Candidate& p = x.candidates[k];
      const Candidate& q = y.candidates[k];
      same = p.op == q.op && p.unit_in_op == q.unit_in_op && p.bit == q.bit &&
             p.rel == q.rel;
    }
    if (!same) return absl::StrCat("slot ", i, " (unit ", x.unit, ")");
  }
  if (a.vars().size() != b.vars().size()) return "number of variables";
  for (size_t i = 0; i < a.vars().size(); ++i) {
    if (a.vars()[i].optional_op != b.vars()[i].optional_op ||
        a.vars()[i].units != b.vars()[i].units) {
      return absl::StrCat("variable ", i);
    }
  }
  if (a.constraints().size() != b.constraints().size()) return "constraints";
  for (size_t i = 0; i < a.constraints().size(); ++i) {
    if (a.constraints()[i].write_vars != b.constraints()[i].write_vars ||
        a.constraints()[i].covered_vars != b.constraints()[i].covered_vars) {
      return absl::StrCat("constraint ", i);
    }
  }
  return "";
}

// Every point in order, then a random earlier one (the builder starts over),
// and on from it: each space equals StateSpace::Build's.
RC_GTEST_PROP(SpaceBuilderProperty, BuildsWhatBuildBuilds, ()) {
  Generated g = GenTrace();
  RC_LOG() << "trace:\n" << g.text;
  const Trace& trace = g.trace;
  const uint32_t unit = *rc::gen::element(0u, 256u);
  for (const Config& c : AllConfigs(unit)) {
    for (bool metadata_only : {false, true}) {
      ModelOptions m;
      m.atomic_unit = c.atomic_unit;
      m.torn = c.torn;
      m.discard = c.discard;
      m.metadata_only = metadata_only;
      absl::StatusOr<std::unique_ptr<UnitHashes>> h =
          UnitHashes::Build(trace, c.atomic_unit);
      RC_ASSERT(h.ok());
      SpaceBuilder builder(**h, m);
      const uint32_t n = static_cast<uint32_t>(trace.events().size());
      std::vector<uint32_t> points;
      for (uint32_t p = 0; p <= n; ++p) {
        if (*rc::gen::weightedElement<bool>({{3, true}, {1, false}})) {
          points.push_back(p);
        }
      }
      const uint32_t back = *rc::gen::inRange<uint32_t>(0, n + 1);
      for (uint32_t p = back; p <= n; ++p) points.push_back(p);
      for (uint32_t p : points) {
        absl::StatusOr<std::unique_ptr<StateSpace>> built = builder.Build(p);
        absl::StatusOr<std::unique_ptr<StateSpace>> direct =
            StateSpace::Build(**h, p, m);
        RC_ASSERT(built.ok());
        RC_ASSERT(direct.ok());
        const std::string diff = SpaceDiff(**built, **direct);
        if (!diff.empty()) {
          RC_FAIL(absl::StrCat("crash point e", p, " with ", ToString(c),
                               metadata_only ? " --oracle-reads=metadata" : "",
                               ": the builder's space differs in ", diff));
        }
      }
      RC_ASSERT(builder.Build(n + 1).status().code() ==
                absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(FoldRegression, HiddenBehindDurableWrite) {
  Script s(2);
  s.Write(0, 2, 'a');
  s.Write(0, 1, 'b', kFua);
  s.Submit(0, 1, 'c');
  const Trace trace = std::move(s).Build();
  const Outcome folded = AtEnd(trace, true);
  const Outcome unfolded = AtEnd(trace, false);
  EXPECT_EQ(folded.vars, 2u);
  EXPECT_EQ(folded.states, 4u);
  EXPECT_EQ(folded.folded_units, 1u);
  EXPECT_EQ(unfolded.vars, 3u);
  EXPECT_EQ(unfolded.states, 8u);
  EXPECT_EQ(unfolded.folded_units, 0u);
  EXPECT_EQ(unfolded.kinds, kHidden);
  const std::vector<std::string> images = {"bb00", "bbaa", "cc00", "ccaa"};
  EXPECT_EQ(folded.images, images);
  EXPECT_EQ(unfolded.images, images);
}

// (2) An optional version equal to everything below it changes nothing.
// op0 'a' over sector 0, flushed (durable); op1 'a' over sector 0 and op2
// 'b' over sector 0, completed, not flushed; op3 zeroes over sector 1 (the
// base), completed.
//   Folded: sector 0 is the chain [op0 durable, op2] (op1 folded), sector 1
//   has no slot (op3 folded). Variables: op2 = 1; states 2.
//   Unfolded: [op0 durable, op1, op2] and [op3]. Variables: op1, op2, op3 =
//   3; states 8.
// Images: sector 0 'a' or 'b', sector 1 zeroes.
TEST(FoldRegression, EqualToWhatIsBelow) {
  Script s(2);
  s.Write(0, 1, 'a');
  s.Flush();
  s.Write(0, 1, 'a');
  s.Write(0, 1, 'b');
  s.Write(1, 1, '\0');
  const Trace trace = std::move(s).Build();
  const Outcome folded = AtEnd(trace, true);
  const Outcome unfolded = AtEnd(trace, false);
  EXPECT_EQ(folded.vars, 1u);
  EXPECT_EQ(folded.states, 2u);
  EXPECT_EQ(folded.slots, 1u);
  EXPECT_EQ(folded.folded_units, 2u);
  EXPECT_EQ(unfolded.vars, 3u);
  EXPECT_EQ(unfolded.states, 8u);
  EXPECT_EQ(unfolded.slots, 2u);
  EXPECT_EQ(unfolded.kinds, kEqualBelow);
  const std::vector<std::string> images = {"aa00", "bb00"};
  EXPECT_EQ(folded.images, images);
  EXPECT_EQ(unfolded.images, images);
}

// (3) A unit whose versions are all equal is fixed, even where concurrent
// writes compete for it. op0 'a' over sector 0, in flight; op1 'a' FUA over
// sector 0, submitted while op0 is in flight and completed (durable);
// op2 zeroes and op3 zeroes over sector 1, both in flight together.
//   Folded: sector 0 is fixed at op1, sector 1 shows the base. Variables:
//   none; states 1.
//   Unfolded: sector 0 is the non-chain slot [op0, op1 durable], sector 1
//   the non-chain slot [op2, op3]. Variables: op0, op2, op3 = 3; states:
//   sector 0 has 2 (op0 absent) + 2 x 1 (op0 present: two orders), sector
//   1 has 1 + 1 + 1 + 2 (both present: two orders) = 3 x 5 = 15.
// Images: one, sector 0 'a'.
TEST(FoldRegression, AllVersionsEqual) {
  Script s(2);
  s.Submit(0, 1, 'a');
  s.Write(0, 1, 'a', kFua);
  s.Submit(1, 1, '\0');
  s.Submit(1, 1, '\0');
  const Trace trace = std::move(s).Build();
  const Outcome folded = AtEnd(trace, true);
  const Outcome unfolded = AtEnd(trace, false);
  EXPECT_EQ(folded.vars, 0u);
  EXPECT_EQ(folded.states, 1u);
  EXPECT_EQ(folded.slots, 0u);
  EXPECT_EQ(folded.fixed, 1u);
  EXPECT_EQ(folded.folded_units, 3u);
  EXPECT_EQ(unfolded.vars, 3u);
  EXPECT_EQ(unfolded.states, 15u);
  EXPECT_EQ(unfolded.slots, 2u);
  EXPECT_EQ(unfolded.fixed, 0u);
  EXPECT_EQ(unfolded.kinds, kAllEqual);
  const std::vector<std::string> images = {"aa00"};
  EXPECT_EQ(folded.images, images);
  EXPECT_EQ(unfolded.images, images);
}

// Without tearing, folding removes whole ops only when all their units fold.
// op0 'a' over sectors 0-1, completed; op1 'b' over sector 0, flushed with
// it. The flush makes both durable; op2 'b' over sectors 0-1 then rewrites
// sector 0 with the bytes op1 left (folded) and sector 1 with new ones.
//   Folded: op2 keeps one variable (its sector 1 unit); states 2.
//   Unfolded: op2 has one variable for both units; states 2.
TEST(FoldRegression, WholeWritesKeepTheirVariable) {
  Script s(2);
  s.Write(0, 2, 'a');
  s.Write(0, 1, 'b');
  s.Flush();
  s.Write(0, 2, 'b');
  const Trace trace = std::move(s).Build();
  const Outcome folded = AtEnd(trace, true, /*torn=*/false);
  const Outcome unfolded = AtEnd(trace, false, /*torn=*/false);
  EXPECT_EQ(folded.vars, 1u);
  EXPECT_EQ(folded.states, 2u);
  EXPECT_EQ(folded.folded_units, 1u);
  EXPECT_EQ(unfolded.vars, 1u);
  EXPECT_EQ(unfolded.states, 2u);
  EXPECT_EQ(unfolded.kinds, kEqualBelow);
  const std::vector<std::string> images = {"bbaa", "bbbb"};
  EXPECT_EQ(folded.images, images);
  EXPECT_EQ(unfolded.images, images);
}

}  // namespace
}  // namespace crashenum
