#include "enumerator/state_space.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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
  h->hashes_.resize(total);
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    if (op.kind == OpKind::kFlush) continue;
    const uint64_t ub = h->unit_bytes_[op.device];
    const uint32_t n = h->num_units(static_cast<uint32_t>(i));
    const uint64_t first = h->first_unit(static_cast<uint32_t>(i));
    for (uint32_t k = 0; k < n; ++k) {
      const Hash128 content = op.kind == OpKind::kDiscard
                                  ? h->zero_[op.device]
                                  : HashBytes(op.data.substr(k * ub, ub));
      const uint64_t g = GlobalUnit(op.device, first + k);
      h->hashes_[h->offset_[i] + k] =
          UnitKey(g, content) ^ UnitKey(g, h->BaseContent(op.device, first + k));
    }
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

namespace {

struct RawCandidate {
  uint32_t op;
  uint32_t unit_in_op;
  bool durable;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StateSpace>> StateSpace::Build(
    const UnitHashes& hashes, uint32_t event, const ModelOptions& options) {
  const Trace& trace = hashes.trace();
  if (event > trace.events().size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "crash point e", event, " lies past the end of the trace (",
        trace.events().size(), " events)"));
  }
  std::unique_ptr<StateSpace> s(new StateSpace(hashes, event, options));
  s->durability_ = DurabilityAt(trace, event, options.discard);
  const auto& state = s->durability_.state;
  const auto& ops = trace.ops();

  // Optional ops and their canonical bits.
  std::vector<int32_t> optional_index(ops.size(), -1);
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (state[i] != OpState::kOptional) continue;
    OptionalOp o;
    o.op = i;
    o.first_bit = s->num_bits_;
    o.num_units = hashes.num_units(i);
    o.unit_var.assign(o.num_units, -1);
    s->num_bits_ += o.num_units;
    optional_index[i] = static_cast<int32_t>(s->optional_.size());
    s->optional_.push_back(std::move(o));
  }

  // --oracle-reads=metadata: optional writes taken as persisted.
  std::vector<uint8_t> forced(ops.size(), 0);
  if (options.metadata_only) {
    for (uint32_t i = 0; i < ops.size(); ++i) {
      forced[i] = state[i] == OpState::kOptional &&
                  ops[i].kind == OpKind::kWrite && (ops[i].flags & kMeta) == 0;
    }
    // What the preflush of a persisted write covers persisted too.
    for (bool changed = true; changed;) {
      changed = false;
      for (const PreflushConstraint& pc : s->durability_.constraints) {
        if (!forced[pc.write]) continue;
        for (uint32_t c : pc.covered) {
          if (!forced[c]) forced[c] = 1, changed = true;
        }
      }
    }
  }

  // Candidates of every unit a possible write covers, by unit, each unit's
  // in op order (a stable sort of entries made in op order).
  std::vector<std::pair<uint64_t, RawCandidate>> entries;
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (state[i] == OpState::kAbsent) continue;
    const uint32_t dev = ops[i].device;
    const uint64_t first = hashes.first_unit(i);
    const uint32_t n = hashes.num_units(i);
    for (uint32_t k = 0; k < n; ++k) {
      entries.push_back(
          {UnitHashes::GlobalUnit(dev, first + k),
           RawCandidate{i, k, state[i] == OpState::kDurable || forced[i] != 0}});
    }
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  auto hb = [&](uint32_t a, uint32_t b) {
    return trace.complete_event(a) < trace.submit_event(b);
  };
  // (optional op index, unit in op) -> (slot, candidate), for variables.
  std::vector<std::vector<std::pair<int32_t, int32_t>>> where(s->optional_.size());
  for (size_t o = 0; o < s->optional_.size(); ++o) {
    where[o].assign(s->optional_[o].num_units, {-1, -1});
  }

  std::vector<RawCandidate> raw;
  for (size_t e = 0; e < entries.size();) {
    const uint64_t g = entries[e].first;
    raw.clear();
    for (; e < entries.size() && entries[e].first == g; ++e) {
      raw.push_back(entries[e].second);
    }
    const uint32_t dev = static_cast<uint32_t>(g >> 44);
    const uint64_t unit = g & ((uint64_t{1} << 44) - 1);
    // Without ModelOptions::fold, units with an optional version keep every
    // version.
    bool has_optional = false;
    for (const RawCandidate& c : raw) has_optional |= !c.durable;
    const bool fold_unit = options.fold || !has_optional;
    // Drop versions that happen before a durable version: they never show.
    std::vector<RawCandidate> live;
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
    std::vector<Hash128> rel;
    for (const RawCandidate& c : live) rel.push_back(hashes.rel(c.op, c.unit_in_op));
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
      if (live.empty()) continue;  // every version shows the base bytes
    }
    bool all_same = true;
    size_t num_durable = 0;
    for (size_t i = 0; i < live.size(); ++i) {
      all_same &= rel[i] == rel.front();
      num_durable += live[i].durable;
    }
    const bool any_durable = num_durable > 0;
    const bool any_optional = num_durable < live.size();
    const bool constant =
        all_same && (any_durable || rel.front().IsZero());
    if (fold_unit && (constant || (!any_optional && num_durable == 1))) {
      FixedUnit f;
      f.device = dev;
      f.unit = unit;
      if (!rel.front().IsZero() || any_durable) {
        f.op = live.front().op;
        f.unit_in_op = live.front().unit_in_op;
        s->fixed_hash_ ^= rel.front();
      }
      if (f.op != UINT32_MAX || !rel.front().IsZero()) s->fixed_.push_back(f);
      continue;
    }
    Slot slot;
    slot.device = dev;
    slot.unit = unit;
    const uint32_t slot_index = static_cast<uint32_t>(s->slots_.size());
    for (size_t i = 0; i < live.size(); ++i) {
      Candidate c;
      c.op = live[i].op;
      c.unit_in_op = live[i].unit_in_op;
      c.rel = rel[i];
      if (!live[i].durable) {
        const int32_t o = optional_index[c.op];
        c.bit = s->optional_[o].first_bit + c.unit_in_op;
        where[o][c.unit_in_op] = {static_cast<int32_t>(slot_index),
                                  static_cast<int32_t>(i)};
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
      s->has_non_chain_ = true;
      slot.hb.assign(n * n, 0);
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j) {
          slot.hb[i * n + j] =
              hb(slot.candidates[i].op, slot.candidates[j].op) ? 1 : 0;
        }
      }
    }
    s->slots_.push_back(std::move(slot));
  }

  // Variables, in canonical bit order.
  for (size_t o = 0; o < s->optional_.size(); ++o) {
    OptionalOp& op = s->optional_[o];
    int32_t whole_var = -1;
    for (uint32_t k = 0; k < op.num_units; ++k) {
      const auto [slot, cand] = where[o][k];
      if (slot < 0) continue;
      int32_t v;
      if (options.torn || whole_var < 0) {
        v = static_cast<int32_t>(s->vars_.size());
        s->vars_.push_back(Variable{static_cast<uint32_t>(o), {}});
        op.vars.push_back(static_cast<uint32_t>(v));
        if (!options.torn) whole_var = v;
      } else {
        v = whole_var;
      }
      s->vars_[v].units.push_back(
          {static_cast<uint32_t>(slot), static_cast<uint32_t>(cand)});
      op.unit_var[k] = v;
    }
  }

  // A PREFLUSH write whose units are all folded still decides whether what
  // its preflush covers must persist: give it a variable of its own that
  // controls no unit.
  for (const PreflushConstraint& pc : s->durability_.constraints) {
    OptionalOp& op = s->optional_[optional_index[pc.write]];
    if (!op.vars.empty() || forced[pc.write]) continue;
    const uint32_t v = static_cast<uint32_t>(s->vars_.size());
    s->vars_.push_back(Variable{static_cast<uint32_t>(optional_index[pc.write]), {}});
    op.vars.push_back(v);
  }
  for (const PreflushConstraint& pc : s->durability_.constraints) {
    VarConstraint vc;
    vc.write_vars = s->optional_[optional_index[pc.write]].vars;
    for (uint32_t c : pc.covered) {
      const auto& v = s->optional_[optional_index[c]].vars;
      vc.covered_vars.insert(vc.covered_vars.end(), v.begin(), v.end());
    }
    if (vc.write_vars.empty() || vc.covered_vars.empty()) continue;
    std::sort(vc.covered_vars.begin(), vc.covered_vars.end());
    s->constraints_.push_back(std::move(vc));
  }
  return s;
}

Bitmap StateSpace::BitsFor(const std::vector<uint8_t>& var_values) const {
  Bitmap bits(num_bits_);
  for (const OptionalOp& op : optional_) {
    bool any = op.vars.empty();
    for (uint32_t v : op.vars) any |= var_values[v] != 0;
    for (uint32_t k = 0; k < op.num_units; ++k) {
      const int32_t v = op.unit_var[k];
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
