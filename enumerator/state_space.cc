#include "enumerator/state_space.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace crashenum {

// ---------------------------------------------------------------------------
// UnitHashes

absl::StatusOr<std::unique_ptr<UnitHashes>> UnitHashes::Build(
    const Trace& trace, uint32_t atomic_unit) {
  if (atomic_unit != 0 &&
      (atomic_unit < 8 || (atomic_unit & (atomic_unit - 1)) != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--atomic-unit=", atomic_unit, ": must be a power of two, at least 8"));
  }
  std::unique_ptr<UnitHashes> h(new UnitHashes(trace));
  for (const Device& d : trace.devices()) {
    uint32_t ub = atomic_unit == 0 ? d.sector_size : atomic_unit;
    h->unit_bytes_.push_back(ub);
    h->zero_.push_back(HashBytes(std::string(ub, '\0')));
  }
  h->id_unit_bytes_ = h->unit_bytes_[0];
  for (uint32_t ub : h->unit_bytes_) {
    if (ub != h->id_unit_bytes_) h->id_unit_bytes_ = 0;
  }
  const auto& ops = trace.ops();
  h->offset_.resize(ops.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    h->offset_[i] = total;
    if (op.kind == OpKind::kFlush) continue;
    const Device& d = trace.devices()[op.device];
    const uint64_t ub = h->unit_bytes_[op.device];
    const uint64_t start = op.sector * d.sector_size;
    const uint64_t len = op.num_sectors * d.sector_size;
    if (start % ub != 0 || len % ub != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry ", op.source_entry, ": sectors [", op.sector, ", ",
          op.sector + op.num_sectors, ") are not aligned to the atomic unit of ",
          ub, " bytes"));
    }
    total += len / ub;
  }
  h->offset_[ops.size()] = total;
  h->stored_.assign(ops.size(), kAllBase);
  h->hashes_.reserve(total);  // pages are touched only as keys are stored
  uint64_t hashed = 0;  // bytes since the data pages were last released
  std::vector<Hash128> keys;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    if (op.kind == OpKind::kFlush) continue;
    const Device& d = trace.devices()[op.device];
    if (op.kind == OpKind::kDiscard && d.base.empty()) continue;  // all base
    const uint64_t ub = h->unit_bytes_[op.device];
    if (op.kind == OpKind::kWrite) hashed += op.data.size();
    if (hashed >= Trace::kReleaseBytes) {
      trace.ReleaseDataPages();
      hashed = 0;
    }
    const uint32_t n = h->num_units(static_cast<uint32_t>(i));
    const uint64_t first = h->first_unit(static_cast<uint32_t>(i));
    keys.clear();
    bool all_base = true;
    for (uint32_t k = 0; k < n; ++k) {
      const Hash128 content = op.kind == OpKind::kDiscard
                                  ? h->zero_[op.device]
                                  : HashBytes(op.data.substr(k * ub, ub));
      const Hash128 base = h->BaseContent(op.device, first + k);
      // A version showing the base content changes nothing: its key is
      // zero either way.
      const bool shows_base = content == base;
      const uint64_t g = GlobalUnit(op.device, first + k);
      keys.push_back(shows_base ? Hash128()
                                : UnitKey(g, content) ^ UnitKey(g, base));
      all_base &= shows_base;
    }
    if (all_base) continue;
    h->stored_[i] = h->hashes_.size();
    h->hashes_.insert(h->hashes_.end(), keys.begin(), keys.end());
  }
  trace.ReleaseDataPages();
  return h;
}

uint64_t UnitHashes::first_unit(uint32_t op) const {
  const Op& o = trace_.ops()[op];
  return o.sector * trace_.devices()[o.device].sector_size /
         unit_bytes_[o.device];
}

uint32_t UnitHashes::num_units(uint32_t op) const {
  return static_cast<uint32_t>(offset_[op + 1] - offset_[op]);
}

const char* UnitHashes::bytes(uint32_t op, uint32_t k) const {
  const Op& o = trace_.ops()[op];
  if (o.kind != OpKind::kWrite) return nullptr;
  return o.data.data() + uint64_t{k} * unit_bytes_[o.device];
}

Hash128 UnitHashes::BaseContent(uint32_t device, uint64_t unit) const {
  const Device& d = trace_.devices()[device];
  if (d.base.empty()) return zero_[device];
  const uint64_t ub = unit_bytes_[device];
  return HashBytes(d.base.substr(unit * ub, ub));
}

// ---------------------------------------------------------------------------
// StateSpace

// A version of a unit at a crash point: durable (or taken as persisted), or
// optional.
struct StateSpace::RawCandidate {
  uint32_t op;
  uint32_t unit_in_op;
  bool durable;
};

// What assembling a space keeps between its units.
struct StateSpace::Assembly {
  std::vector<int32_t> optional_index;  // per op: into optional_, or -1
  std::vector<uint8_t> forced;          // per op: taken as persisted
  // The optional versions that are candidates of a slot: (optional op
  // index, unit in op, slot, candidate), for the variables. (Most units of
  // a trace's optional ops fold, its discards' mostly.)
  std::vector<std::array<uint32_t, 4>> where;
  // Scratch space of AddUnit.
  std::vector<RawCandidate> live;
  std::vector<Hash128> rel;
};

std::unique_ptr<StateSpace> StateSpace::Begin(const UnitHashes& hashes,
                                              uint32_t event,
                                              const ModelOptions& options,
                                              Durability durability,
                                              Assembly& a) {
  const Trace& trace = hashes.trace();
  std::unique_ptr<StateSpace> s(new StateSpace(hashes, event, options));
  s->durability_ = std::move(durability);
  const auto& state = s->durability_.state;
  const auto& ops = trace.ops();

  // Optional ops and their canonical bits.
  a.optional_index.assign(ops.size(), -1);
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (state[i] != OpState::kOptional) continue;
    OptionalOp o;
    o.op = i;
    o.first_bit = s->num_bits_;
    o.num_units = hashes.num_units(i);
    s->num_bits_ += o.num_units;
    a.optional_index[i] = static_cast<int32_t>(s->optional_.size());
    s->optional_.push_back(std::move(o));
  }

  // --oracle-reads=metadata: optional writes taken as persisted.
  a.forced.assign(ops.size(), 0);
  if (options.metadata_only) {
    for (uint32_t i = 0; i < ops.size(); ++i) {
      a.forced[i] = state[i] == OpState::kOptional &&
                    ops[i].kind == OpKind::kWrite &&
                    (ops[i].flags & kMeta) == 0;
    }
    // What the preflush of a persisted write covers persisted too.
    for (bool changed = true; changed;) {
      changed = false;
      for (const PreflushConstraint& pc : s->durability_.constraints) {
        if (!a.forced[pc.write]) continue;
        for (uint32_t c : pc.covered) {
          if (!a.forced[c]) a.forced[c] = 1, changed = true;
        }
      }
    }
  }
  a.where.clear();
  return s;
}

void StateSpace::AddUnit(uint64_t g, const std::vector<RawCandidate>& raw,
                         Assembly& a) {
  const Trace& trace = hashes_.trace();
  auto hb = [&](uint32_t x, uint32_t y) {
    return trace.complete_event(x) < trace.submit_event(y);
  };
  const uint32_t dev = static_cast<uint32_t>(g >> 44);
  const uint64_t unit = g & ((uint64_t{1} << 44) - 1);
  // Without ModelOptions::fold, units with an optional version keep every
  // version.
  bool has_optional = false;
  for (const RawCandidate& c : raw) has_optional |= !c.durable;
  const bool fold_unit = options_.fold || !has_optional;
  // Drop versions that happen before a durable version: they never show.
  std::vector<RawCandidate>& live = a.live;
  live.clear();
  for (const RawCandidate& c : raw) {
    bool hidden = false;
    for (const RawCandidate& d : raw) {
      if (fold_unit && d.durable && hb(c.op, d.op)) {
        hidden = true;
        break;
      }
    }
    if (!hidden) live.push_back(c);
  }
  std::vector<Hash128>& rel = a.rel;
  rel.clear();
  for (const RawCandidate& c : live)
    rel.push_back(hashes_.rel(c.op, c.unit_in_op));
  bool chain = true;
  for (size_t i = 0; i + 1 < live.size(); ++i) {
    chain &= hb(live[i].op, live[i + 1].op);
  }
  if (chain && fold_unit) {
    // An optional version with the same bytes as every version below it
    // (and as the base, when nothing durable is below) never changes the
    // image: fold it.
    Hash128 floor;  // the base
    size_t keep = 0;
    bool uniform = true;
    for (size_t i = 0; i < live.size(); ++i) {
      if (live[i].durable) floor = rel[i];  // only live[0] can be durable
      const bool fold = uniform && !live[i].durable && rel[i] == floor;
      uniform &= rel[i] == floor;
      if (fold) continue;
      live[keep] = live[i];
      rel[keep] = rel[i];
      ++keep;
    }
    live.resize(keep);
    rel.resize(keep);
    if (live.empty()) return;  // every version shows the base bytes
  }
  bool all_same = true;
  size_t num_durable = 0;
  for (size_t i = 0; i < live.size(); ++i) {
    all_same &= rel[i] == rel.front();
    num_durable += live[i].durable;
  }
  const bool any_durable = num_durable > 0;
  const bool any_optional = num_durable < live.size();
  const bool constant = all_same && (any_durable || rel.front().IsZero());
  if (fold_unit && (constant || (!any_optional && num_durable == 1))) {
    FixedUnit f;
    f.device = dev;
    f.unit = unit;
    if (!rel.front().IsZero() || any_durable) {
      f.op = live.front().op;
      f.unit_in_op = live.front().unit_in_op;
      fixed_hash_ ^= rel.front();
    }
    if (f.op != UINT32_MAX || !rel.front().IsZero()) fixed_.push_back(f);
    return;
  }
  Slot slot;
  slot.device = dev;
  slot.unit = unit;
  const uint32_t slot_index = static_cast<uint32_t>(slots_.size());
  for (size_t i = 0; i < live.size(); ++i) {
    Candidate c;
    c.op = live[i].op;
    c.unit_in_op = live[i].unit_in_op;
    c.rel = rel[i];
    if (!live[i].durable) {
      const int32_t o = a.optional_index[c.op];
      c.bit = optional_[o].first_bit + c.unit_in_op;
      a.where.push_back({static_cast<uint32_t>(o), c.unit_in_op, slot_index,
                         static_cast<uint32_t>(i)});
    }
    slot.candidates.push_back(c);
  }
  const size_t n = slot.candidates.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    if (!hb(slot.candidates[i].op, slot.candidates[i + 1].op)) {
      slot.chain = false;
    }
  }
  if (!slot.chain) {
    has_non_chain_ = true;
    slot.hb.assign(n * n, 0);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        slot.hb[i * n + j] =
            hb(slot.candidates[i].op, slot.candidates[j].op) ? 1 : 0;
      }
    }
  }
  slots_.push_back(std::move(slot));
}

void StateSpace::Finish(Assembly& a) {
  // Variables, in canonical bit order.
  std::sort(a.where.begin(), a.where.end());
  int32_t whole_var = -1;  // without tearing: the variable of op `o`
  for (const auto& [o, k, slot, cand] : a.where) {
    OptionalOp& op = optional_[o];
    if (op.unit_var.empty()) {  // the op's first unit with a variable
      op.unit_var.assign(op.num_units, -1);
      whole_var = -1;
    }
    int32_t v;
    if (options_.torn || whole_var < 0) {
      v = static_cast<int32_t>(vars_.size());
      vars_.push_back(Variable{o, {}});
      op.vars.push_back(static_cast<uint32_t>(v));
      if (!options_.torn) whole_var = v;
    } else {
      v = whole_var;
    }
    vars_[v].units.push_back({slot, cand});
    op.unit_var[k] = v;
  }

  // A PREFLUSH write whose units are all folded still decides whether what
  // its preflush covers must persist: give it a variable of its own that
  // controls no unit.
  for (const PreflushConstraint& pc : durability_.constraints) {
    OptionalOp& op = optional_[a.optional_index[pc.write]];
    if (!op.vars.empty() || a.forced[pc.write]) continue;
    const uint32_t v = static_cast<uint32_t>(vars_.size());
    vars_.push_back(
        Variable{static_cast<uint32_t>(a.optional_index[pc.write]), {}});
    op.vars.push_back(v);
  }
  for (const PreflushConstraint& pc : durability_.constraints) {
    VarConstraint vc;
    vc.write_vars = optional_[a.optional_index[pc.write]].vars;
    for (uint32_t c : pc.covered) {
      const auto& v = optional_[a.optional_index[c]].vars;
      vc.covered_vars.insert(vc.covered_vars.end(), v.begin(), v.end());
    }
    if (vc.write_vars.empty() || vc.covered_vars.empty()) continue;
    std::sort(vc.covered_vars.begin(), vc.covered_vars.end());
    constraints_.push_back(std::move(vc));
  }
}

namespace {

absl::Status CheckEvent(const Trace& trace, uint32_t event) {
  if (event > trace.events().size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "crash point e", event, " lies past the end of the trace (",
        trace.events().size(), " events)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<StateSpace>> StateSpace::Build(
    const UnitHashes& hashes, uint32_t event, const ModelOptions& options) {
  const Trace& trace = hashes.trace();
  RETURN_IF_ERROR(CheckEvent(trace, event));
  Assembly a;
  std::unique_ptr<StateSpace> s = Begin(
      hashes, event, options, DurabilityAt(trace, event, options.discard), a);
  const auto& state = s->durability_.state;
  const auto& ops = trace.ops();

  // Candidates of every unit a possible write covers, by unit, each unit's
  // in op order (a stable sort of entries made in op order).
  std::vector<std::pair<uint64_t, RawCandidate>> entries;
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (state[i] == OpState::kAbsent) continue;
    const uint32_t dev = ops[i].device;
    const uint64_t first = hashes.first_unit(i);
    const uint32_t n = hashes.num_units(i);
    const bool durable = state[i] == OpState::kDurable || a.forced[i] != 0;
    for (uint32_t k = 0; k < n; ++k) {
      entries.push_back({UnitHashes::GlobalUnit(dev, first + k),
                         RawCandidate{i, k, durable}});
    }
  }
  std::stable_sort(
      entries.begin(), entries.end(),
      [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<RawCandidate> raw;
  for (size_t e = 0; e < entries.size();) {
    const uint64_t g = entries[e].first;
    raw.clear();
    for (; e < entries.size() && entries[e].first == g; ++e) {
      raw.push_back(entries[e].second);
    }
    s->AddUnit(g, raw, a);
  }
  s->Finish(a);
  return s;
}

// ---------------------------------------------------------------------------
// SpaceBuilder

SpaceBuilder::SpaceBuilder(const UnitHashes& hashes,
                           const ModelOptions& options)
    : hashes_(hashes),
      options_(options),
      assembly_(std::make_unique<StateSpace::Assembly>()) {
  Restart();
}

SpaceBuilder::~SpaceBuilder() = default;

void SpaceBuilder::Restart() {
  tracker_ =
      std::make_unique<DurabilityTracker>(hashes_.trace(), options_.discard);
  next_event_ = 0;
  merged_.assign(hashes_.trace().ops().size(), 0);
  listed_.assign(hashes_.trace().ops().size(), 0);
  units_.clear();
  ops_.clear();
  optional_.clear();
}

std::vector<std::pair<uint64_t, uint32_t>> SpaceBuilder::NewUnits(
    OpState wanted, std::vector<uint8_t>& seen) const {
  const auto& state = tracker_->state();
  // Each op's units are one ascending run: merge the runs (a sort of the
  // concatenation is several times slower on a trace's thousands of units).
  struct Run {
    uint64_t next, end;  // global units [next, end)
    uint32_t op;
  };
  std::vector<Run> runs;
  uint64_t total = 0;
  for (uint32_t i = 0; i < state.size(); ++i) {
    if (state[i] != wanted || seen[i]) continue;
    seen[i] = 1;
    const uint32_t n = hashes_.num_units(i);
    if (n == 0) continue;
    const uint64_t first = UnitHashes::GlobalUnit(
        hashes_.trace().ops()[i].device, hashes_.first_unit(i));
    runs.push_back(Run{first, first + n, i});
    total += n;
  }
  auto before = [](const Run& a, const Run& b) {
    return a.next != b.next ? a.next < b.next : a.op < b.op;
  };
  std::sort(runs.begin(), runs.end(), before);
  std::vector<std::pair<uint64_t, uint32_t>> out;
  out.reserve(total);
  // The runs started, a min-heap by `before`; those not yet started follow
  // in `runs` from `r`. The least run is copied up to the next run's unit.
  std::vector<Run> heap;
  auto after = [&](const Run& a, const Run& b) { return before(b, a); };
  size_t r = 0;
  while (r < runs.size() || !heap.empty()) {
    if (heap.empty()) heap.push_back(runs[r++]);
    while (r < runs.size() && !before(heap.front(), runs[r])) {
      heap.push_back(runs[r++]);
      std::push_heap(heap.begin(), heap.end(), after);
    }
    std::pop_heap(heap.begin(), heap.end(), after);
    Run least = heap.back();
    heap.pop_back();
    const Run* bound = heap.empty() ? nullptr : &heap.front();
    if (r < runs.size() && (bound == nullptr || before(runs[r], *bound))) {
      bound = &runs[r];
    }
    do {
      out.push_back({least.next, least.op});
      ++least.next;
    } while (least.next < least.end &&
             (bound == nullptr || before(least, *bound)));
    if (least.next < least.end) {
      heap.push_back(least);
      std::push_heap(heap.begin(), heap.end(), after);
    }
  }
  return out;
}

void SpaceBuilder::MergeDurable() {
  const Trace& trace = hashes_.trace();
  std::vector<std::pair<uint64_t, uint32_t>> fresh =
      NewUnits(OpState::kDurable, merged_);
  if (fresh.empty()) return;
  auto hb = [&](uint32_t x, uint32_t y) {
    return trace.complete_event(x) < trace.submit_event(y);
  };
  std::vector<uint64_t> units;
  std::vector<uint32_t> ops;
  units.reserve(units_.size() + fresh.size());
  ops.reserve(units_.size() + fresh.size());
  std::vector<uint32_t> group;
  size_t i = 0, j = 0;
  while (i < units_.size() || j < fresh.size()) {
    const uint64_t g =
        j == fresh.size() || (i < units_.size() && units_[i] < fresh[j].first)
            ? units_[i]
            : fresh[j].first;
    group.clear();
    for (; i < units_.size() && units_[i] == g; ++i) group.push_back(ops_[i]);
    const size_t old = group.size();
    for (; j < fresh.size() && fresh[j].first == g; ++j)
      group.push_back(fresh[j].second);
    if (old == 0 && group.size() == 1) {
      units.push_back(g);
      ops.push_back(group[0]);
      continue;
    }
    std::inplace_merge(group.begin(), group.begin() + old, group.end());
    // Keep the versions no other durable version of the unit hides.
    for (uint32_t c : group) {
      bool hidden = false;
      for (uint32_t d : group) hidden |= hb(c, d);
      if (hidden) continue;
      units.push_back(g);
      ops.push_back(c);
    }
  }
  units_ = std::move(units);
  ops_ = std::move(ops);
}

void SpaceBuilder::MergeOptional() {
  const auto& state = tracker_->state();
  std::vector<std::pair<uint64_t, uint32_t>> fresh =
      NewUnits(OpState::kOptional, listed_);
  // Ops only leave the optional state to become durable.
  optional_.erase(std::remove_if(optional_.begin(), optional_.end(),
                                 [&](const auto& e) {
                                   return state[e.second] != OpState::kOptional;
                                 }),
                  optional_.end());
  if (fresh.empty()) return;
  if (optional_.empty()) {
    optional_.swap(fresh);
    return;
  }
  // Into a buffer kept from build to build: a trace's discards leave tens
  // of thousands of optional units, and fresh memory for them costs more
  // than merging them.
  merge_buffer_.resize(optional_.size() + fresh.size());
  std::merge(optional_.begin(), optional_.end(), fresh.begin(), fresh.end(),
             merge_buffer_.begin());
  optional_.swap(merge_buffer_);
}

absl::StatusOr<std::unique_ptr<StateSpace>> SpaceBuilder::Build(
    uint32_t event) {
  const Trace& trace = hashes_.trace();
  RETURN_IF_ERROR(CheckEvent(trace, event));
  if (!options_.fold) return StateSpace::Build(hashes_, event, options_);
  if (event < next_event_) Restart();
  while (next_event_ < event) tracker_->Apply(next_event_++);
  MergeDurable();

  using RawCandidate = StateSpace::RawCandidate;
  StateSpace::Assembly& a = *assembly_;
  std::unique_ptr<StateSpace> s = StateSpace::Begin(
      hashes_, event, options_,
      Durability{tracker_->state(), tracker_->Constraints()}, a);

  MergeOptional();
  const std::vector<std::pair<uint64_t, uint32_t>>& entries = optional_;

  constexpr uint64_t kUnitMask = (uint64_t{1} << 44) - 1;
  auto durable = [&](size_t i) {
    const uint32_t op = ops_[i];
    return RawCandidate{
        op,
        static_cast<uint32_t>((units_[i] & kUnitMask) - hashes_.first_unit(op)),
        true};
  };
  std::vector<RawCandidate> raw;
  s->fixed_.reserve(units_.size() + entries.size());
  size_t i = 0, j = 0;
  while (i < units_.size() || j < entries.size()) {
    const uint64_t g = j == entries.size() || (i < units_.size() &&
                                               units_[i] < entries[j].first)
                           ? units_[i]
                           : entries[j].first;
    const bool one_durable = i < units_.size() && units_[i] == g &&
                             (i + 1 == units_.size() || units_[i + 1] != g) &&
                             (j == entries.size() || entries[j].first != g);
    const bool one_optional =
        j < entries.size() && entries[j].first == g &&
        (j + 1 == entries.size() || entries[j + 1].first != g) &&
        (i == units_.size() || units_[i] != g);
    if (one_optional) {
      // A lone optional version that shows the base (a discard of a unit
      // never written, say): AddUnit would fold it, unless it is taken as
      // persisted.
      const uint32_t op = entries[j].second;
      const uint32_t k =
          static_cast<uint32_t>((g & kUnitMask) - hashes_.first_unit(op));
      if (!a.forced[op] && hashes_.rel(op, k).IsZero()) {
        ++j;
        continue;
      }
    }
    if (one_durable) {
      // The common case: what AddUnit makes of a lone durable version.
      const RawCandidate c = durable(i++);
      s->fixed_.push_back(FixedUnit{static_cast<uint32_t>(g >> 44),
                                    g & kUnitMask, c.op, c.unit_in_op});
      s->fixed_hash_ ^= hashes_.rel(c.op, c.unit_in_op);
      continue;
    }
    // Both lists are in op order within the unit: merge them.
    raw.clear();
    while ((i < units_.size() && units_[i] == g) ||
           (j < entries.size() && entries[j].first == g)) {
      const bool take_durable = i < units_.size() && units_[i] == g &&
                                (j == entries.size() || entries[j].first != g ||
                                 ops_[i] < entries[j].second);
      if (take_durable) {
        raw.push_back(durable(i++));
      } else {
        const uint32_t op = entries[j++].second;
        raw.push_back(RawCandidate{
            op, static_cast<uint32_t>((g & kUnitMask) - hashes_.first_unit(op)),
            a.forced[op] != 0});
      }
    }
    s->AddUnit(g, raw, a);
  }
  s->Finish(a);
  return s;
}

Bitmap StateSpace::BitsFor(const std::vector<uint8_t>& var_values) const {
  Bitmap bits(num_bits_);
  for (const OptionalOp& op : optional_) {
    if (op.vars.empty()) {  // every unit persisted or folded: all set
      bits.SetRange(op.first_bit, op.first_bit + op.num_units);
      continue;
    }
    bool any = false;
    for (uint32_t v : op.vars) any |= var_values[v] != 0;
    for (uint32_t k = 0; k < op.num_units; ++k) {
      const int32_t v = op.var_of(k);
      bits.Set(op.first_bit + k, v >= 0 ? var_values[v] != 0 : any);
    }
  }
  return bits;
}

std::vector<uint32_t> StateSpace::MaximalPersisted(
    uint32_t s, const std::vector<uint8_t>& persisted) const {
  const Slot& slot = slots_[s];
  const size_t n = slot.candidates.size();
  std::vector<uint32_t> out;
  for (size_t i = 0; i < n; ++i) {
    if (!persisted[i]) continue;
    bool maximal = true;
    for (size_t j = 0; j < n && maximal; ++j) {
      if (persisted[j] && slot.hb[i * n + j]) maximal = false;
    }
    if (maximal) out.push_back(static_cast<uint32_t>(i));
  }
  return out;
}

absl::StatusOr<Resolution> StateSpace::Resolve(const StateId& id) const {
  const std::string text = id.ToString();
  if (id.event != event_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state ", text, " belongs to crash point e", id.event, ", not e",
        event_));
  }
  if (id.unit_bytes != hashes_.id_unit_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state ", text, " uses ", id.unit_bytes,
        "-byte atomic units; this run uses ", hashes_.id_unit_bytes(),
        " (pass --atomic-unit=", id.unit_bytes, ")"));
  }
  if (id.bits.size() != num_bits_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state ", text, " has ", id.bits.size(), " bits; crash point e",
        event_, " has ", num_bits_,
        " optional units (are the --discard options the same?)"));
  }
  // Preflush constraints. Folded units carry their op's choice, so every
  // unit counts.
  for (const PreflushConstraint& pc : durability_.constraints) {
    auto find = [&](uint32_t op) -> const OptionalOp& {
      return *std::find_if(optional_.begin(), optional_.end(),
                           [&](const OptionalOp& o) { return o.op == op; });
    };
    const OptionalOp& w = find(pc.write);
    bool active = false;
    for (uint32_t k = 0; k < w.num_units; ++k) {
      active |= id.bits.Get(w.first_bit + k);
    }
    if (!active) continue;
    for (uint32_t c : pc.covered) {
      const OptionalOp& co = find(c);
      for (uint32_t k = 0; k < co.num_units; ++k) {
        if (!id.bits.Get(co.first_bit + k)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "state ", text, " is not a crash state: PREFLUSH write entry ",
              trace().ops()[pc.write].source_entry,
              " persisted but the write it flushes, entry ",
              trace().ops()[c].source_entry, ", did not"));
        }
      }
    }
  }
  Resolution r;
  r.hash = fixed_hash_;
  r.slot_version.resize(slots_.size(), -1);
  size_t next_order = 0;
  std::vector<uint8_t> persisted;
  for (uint32_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    persisted.assign(slot.candidates.size(), 0);
    for (size_t i = 0; i < slot.candidates.size(); ++i) {
      const Candidate& c = slot.candidates[i];
      persisted[i] = c.bit < 0 || id.bits.Get(static_cast<size_t>(c.bit));
    }
    int32_t winner = -1;
    if (slot.chain) {
      for (int32_t i = static_cast<int32_t>(persisted.size()) - 1; i >= 0; --i) {
        if (persisted[i]) {
          winner = i;
          break;
        }
      }
    } else {
      std::vector<uint32_t> m = MaximalPersisted(s, persisted);
      if (m.size() == 1) winner = static_cast<int32_t>(m[0]);
      if (m.size() > 1) {
        if (next_order >= id.order.size()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "state ", text, " lacks an order choice for unit ", slot.unit,
              " of device ", slot.device, ", where ", m.size(),
              " concurrent writes compete"));
        }
        const uint32_t d = id.order[next_order++];
        if (d >= m.size()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "state ", text, ": order choice ", d, " for unit ", slot.unit,
              " is out of range (", m.size(), " competing writes)"));
        }
        winner = static_cast<int32_t>(m[d]);
      }
    }
    r.slot_version[s] = winner;
    if (winner >= 0) r.hash ^= slot.candidates[winner].rel;
  }
  if (next_order != id.order.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state ", text, " has ", id.order.size(), " order choices; it needs ",
        next_order));
  }
  return r;
}

}  // namespace crashenum
