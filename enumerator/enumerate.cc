#include "enumerator/enumerate.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crashenum {

// ---------------------------------------------------------------------------
// Counting

std::string StateCount::ToString() const {
  std::string n = fits ? absl::StrCat(exact) : absl::StrFormat("2^%.1f", log2);
  if (at_most) return absl::StrCat("<= ", n);
  if (at_least) return absl::StrCat(">= ", n);
  return n;
}

namespace {

using u128 = unsigned __int128;
constexpr u128 kSaturated = ~u128{0};

u128 SatMul(u128 a, u128 b) {
  if (a == 0 || b == 0) return 0;
  if (a > kSaturated / b) return kSaturated;
  return a * b;
}
u128 SatAdd(u128 a, u128 b) { return a > kSaturated - b ? kSaturated : a + b; }

// A count kept both exactly (saturating) and as log2.
struct Num {
  u128 exact = 0;
  long double value = 0;
};
Num Add(Num a, Num b) { return {SatAdd(a.exact, b.exact), a.value + b.value}; }
Num Mul(Num a, Num b) { return {SatMul(a.exact, b.exact), a.value * b.value}; }
Num Pow2(uint64_t k) {
  return {k < 127 ? (u128{1} << k) : kSaturated, std::ldexp(1.0L, k)};
}

StateCount ToCount(Num n) {
  StateCount c;
  c.fits = n.exact <= UINT64_MAX;
  c.exact = c.fits ? static_cast<uint64_t>(n.exact) : UINT64_MAX;
  c.log2 = n.value > 0 ? static_cast<double>(std::log2(n.value)) : 0.0;
  if (std::isinf(n.value)) c.log2 = 1e30;
  return c;
}

// Optional ops that carry variables, as lists of their variables.
std::vector<std::vector<uint32_t>> ChoiceOps(const StateSpace& space) {
  std::vector<std::vector<uint32_t>> out;
  for (const OptionalOp& op : space.optional_ops()) {
    if (!op.vars.empty()) out.push_back(op.vars);
  }
  return out;
}

// Exact count of assignments that satisfy every preflush constraint, when the
// variables involved are few enough to walk; otherwise nullopt.
bool CountWithConstraints(const StateSpace& space, Num* out) {
  std::vector<int32_t> local(space.vars().size(), -1);
  std::vector<uint32_t> involved;
  for (const VarConstraint& c : space.constraints()) {
    for (const auto* side : {&c.write_vars, &c.covered_vars}) {
      for (uint32_t v : *side) {
        if (local[v] < 0) {
          local[v] = static_cast<int32_t>(involved.size());
          involved.push_back(v);
        }
      }
    }
  }
  if (involved.size() > 22) return false;
  uint64_t valid = 0;
  for (uint64_t m = 0; m < (uint64_t{1} << involved.size()); ++m) {
    bool ok = true;
    for (const VarConstraint& c : space.constraints()) {
      bool active = false, full = true;
      for (uint32_t v : c.write_vars) active |= (m >> local[v]) & 1;
      for (uint32_t v : c.covered_vars) full &= (m >> local[v]) & 1;
      if (active && !full) ok = false;
    }
    valid += ok;
  }
  *out = Mul(Num{valid, static_cast<long double>(valid)},
             Pow2(space.vars().size() - involved.size()));
  return true;
}

}  // namespace

StateCount CountStates(const StateSpace& space,
                       const EnumerateOptions& options) {
  StateCount result;
  if (options.sample > 0) {
    result = ToCount(Num{options.sample, static_cast<long double>(options.sample)});
    result.at_most = true;
  } else if (!options.bounded()) {
    Num n = Pow2(space.vars().size());
    bool exact = true;
    if (!space.constraints().empty()) exact = CountWithConstraints(space, &n);
    result = ToCount(n);
    result.at_most = !exact;
  } else {
    const int64_t dmax = options.drop_at_most, tmax = options.tear_at_most;
    const size_t dn = dmax < 0 ? 1 : static_cast<size_t>(dmax) + 1;
    const size_t tn = tmax < 0 ? 1 : static_cast<size_t>(tmax) + 1;
    std::vector<Num> dp(dn * tn);
    dp[0] = Num{1, 1};
    for (const auto& vars : ChoiceOps(space)) {
      const size_t k = vars.size();
      Num torn = k >= 2 ? Pow2(k) : Num{0, 0};
      if (k >= 2) {
        torn.exact = torn.exact == kSaturated ? kSaturated : torn.exact - 2;
        torn.value -= 2;
      }
      std::vector<Num> next(dn * tn);
      for (size_t d = 0; d < dn; ++d) {
        for (size_t t = 0; t < tn; ++t) {
          const Num cur = dp[d * tn + t];
          if (cur.exact == 0) continue;
          Num& keep = next[d * tn + t];
          keep = Add(keep, cur);  // whole
          const size_t d2 = dmax < 0 ? d : d + 1;
          if (d2 < dn) next[d2 * tn + t] = Add(next[d2 * tn + t], cur);
          const size_t t2 = tmax < 0 ? t : t + 1;
          if (k >= 2 && t2 < tn) {
            next[d * tn + t2] = Add(next[d * tn + t2], Mul(cur, torn));
          }
        }
      }
      dp = std::move(next);
    }
    Num total;
    for (const Num& n : dp) total = Add(total, n);
    result = ToCount(total);
    result.at_most = !space.constraints().empty();
  }
  if (space.has_non_chain() && !result.at_most) result.at_least = true;
  return result;
}

// ---------------------------------------------------------------------------
// Cursor

Cursor::Cursor(const StateSpace& space)
    : space_(space), values_(space.vars().size(), 0) {
  const auto& slots = space.slots();
  slot_offset_.reserve(slots.size() + 1);
  uint32_t off = 0;
  for (uint32_t s = 0; s < slots.size(); ++s) {
    slot_offset_.push_back(off);
    off += static_cast<uint32_t>(slots[s].candidates.size());
  }
  slot_offset_.push_back(off);
  persisted_.assign(off, 0);
  top_.assign(slots.size(), -1);
  hash_ = space.fixed_hash();
  for (uint32_t s = 0; s < slots.size(); ++s) {
    const Slot& slot = slots[s];
    for (size_t i = 0; i < slot.candidates.size(); ++i) {
      if (slot.candidates[i].bit < 0) {
        persisted_[slot_offset_[s] + i] = 1;
        top_[s] = static_cast<int32_t>(i);
      }
    }
    if (slot.chain) {
      if (top_[s] >= 0) hash_ ^= slot.candidates[top_[s]].rel;
    } else {
      non_chain_.push_back(s);
    }
  }
  const auto& cons = space.constraints();
  write_count_.assign(cons.size(), 0);
  missing_count_.resize(cons.size());
  std::vector<std::vector<uint32_t>> by_var(values_.size());
  for (uint32_t c = 0; c < cons.size(); ++c) {
    missing_count_[c] = static_cast<int32_t>(cons[c].covered_vars.size());
    for (uint32_t v : cons[c].write_vars) by_var[v].push_back(c << 1 | 1);
    for (uint32_t v : cons[c].covered_vars) by_var[v].push_back(c << 1);
  }
  // Optional versions per slot: a chain slot with one is static.
  std::vector<uint32_t> optional_in_slot(slots.size(), 0);
  for (const Variable& var : space.vars()) {
    for (const auto& [s, cand] : var.units) ++optional_in_slot[s];
  }
  var_info_.resize(values_.size());
  for (uint32_t v = 0; v < values_.size(); ++v) {
    VarInfo& info = var_info_[v];
    info.unit_begin = static_cast<uint32_t>(dyn_units_.size());
    for (const auto& [s, cand] : space.vars()[v].units) {
      const Slot& slot = slots[s];
      if (slot.chain && optional_in_slot[s] == 1) {
        // The slot shows `cand` while it persists, if it lies above the
        // highest durable version; that version otherwise.
        const int32_t durable_top = top_[s];
        if (static_cast<int32_t>(cand) > durable_top) {
          info.delta ^= slot.candidates[cand].rel;
          if (durable_top >= 0) info.delta ^= slot.candidates[durable_top].rel;
        }
      } else {
        dyn_units_.push_back({s, cand, slot_offset_[s], slot.chain});
      }
    }
    info.unit_end = static_cast<uint32_t>(dyn_units_.size());
    info.con_begin = static_cast<uint32_t>(var_cons_.size());
    var_cons_.insert(var_cons_.end(), by_var[v].begin(), by_var[v].end());
    info.con_end = static_cast<uint32_t>(var_cons_.size());
    info.slow = info.unit_begin != info.unit_end || info.con_begin != info.con_end;
  }
  maximal_.resize(non_chain_.size());
}

void Cursor::FlipSlow(const VarInfo& info, bool value) {
  for (uint32_t i = info.unit_begin; i < info.unit_end; ++i) {
    const DynUnit& u = dyn_units_[i];
    uint8_t* p = &persisted_[u.offset];
    p[u.cand] = value;
    if (!u.chain) {
      radices_valid_ = false;
      continue;
    }
    const int32_t old = top_[u.slot];
    int32_t top = old;
    const int32_t c = static_cast<int32_t>(u.cand);
    if (value) {
      if (c > old) top = c;
    } else if (c == old) {
      top = c - 1;
      while (top >= 0 && !p[top]) --top;
    }
    if (top != old) {
      const std::vector<Candidate>& cands = space_.slots()[u.slot].candidates;
      if (old >= 0) hash_ ^= cands[old].rel;
      if (top >= 0) hash_ ^= cands[top].rel;
      top_[u.slot] = top;
    }
  }
  for (uint32_t i = info.con_begin; i < info.con_end; ++i) {
    const uint32_t c = var_cons_[i] >> 1;
    const bool before = write_count_[c] > 0 && missing_count_[c] > 0;
    if (var_cons_[i] & 1) {
      write_count_[c] += value ? 1 : -1;
    } else {
      missing_count_[c] += value ? -1 : 1;
    }
    const bool after = write_count_[c] > 0 && missing_count_[c] > 0;
    violations_ += static_cast<int64_t>(after) - static_cast<int64_t>(before);
  }
}

const std::vector<uint32_t>& Cursor::radices() {
  if (radices_valid_) return radices_;
  radices_.clear();
  std::vector<uint8_t> p;
  for (size_t i = 0; i < non_chain_.size(); ++i) {
    const uint32_t s = non_chain_[i];
    p.assign(persisted_.begin() + slot_offset_[s],
             persisted_.begin() + slot_offset_[s + 1]);
    maximal_[i] = space_.MaximalPersisted(s, p);
    if (maximal_[i].size() > 1) {
      radices_.push_back(static_cast<uint32_t>(maximal_[i].size()));
    }
  }
  radices_valid_ = true;
  return radices_;
}

Hash128 Cursor::HashWithOrder(const std::vector<uint32_t>& order) {
  radices();
  Hash128 h = hash_;
  size_t d = 0;
  for (size_t i = 0; i < non_chain_.size(); ++i) {
    const auto& m = maximal_[i];
    if (m.empty()) continue;
    const uint32_t pick = m.size() == 1 ? m[0] : m[order[d++]];
    h ^= space_.slots()[non_chain_[i]].candidates[pick].rel;
  }
  return h;
}

StateId Cursor::Id(const std::vector<uint32_t>& order) const {
  StateId id;
  id.event = space_.event();
  id.unit_bytes = space_.hashes().id_unit_bytes();
  id.bits = space_.BitsFor(values_);
  id.order = order;
  return id;
}

// ---------------------------------------------------------------------------
// Enumeration

uint64_t SplitMix64::Below(uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = Next();
  } while (x >= limit);
  return x % n;
}

namespace {

// Visits the current assignment with every combination of order choices.
// Returns false to stop.
bool VisitAssignment(Cursor& cursor, bool non_chain,
                     absl::FunctionRef<bool(const VisitedState&)> visit,
                     uint64_t* visited) {
  if (!cursor.valid()) return true;
  static const std::vector<uint32_t> kNoOrder;
  if (!non_chain) {
    ++*visited;
    return visit(VisitedState(cursor, kNoOrder, cursor.hash()));
  }
  const std::vector<uint32_t> radices = cursor.radices();
  std::vector<uint32_t> order(radices.size(), 0);
  while (true) {
    ++*visited;
    if (!visit(VisitedState(cursor, order, cursor.HashWithOrder(order)))) {
      return false;
    }
    size_t i = 0;
    while (i < order.size() && ++order[i] == radices[i]) order[i++] = 0;
    if (i == order.size()) return true;
  }
}

uint64_t Exhaustive(const StateSpace& space,
                    absl::FunctionRef<bool(const VisitedState&)> visit) {
  Cursor cursor(space);
  const bool nc = space.has_non_chain();
  uint64_t visited = 0;
  if (!VisitAssignment(cursor, nc, visit, &visited)) return visited;
  const size_t n = space.vars().size();
  if (n == 0) return visited;
  // The counter runs from 1 to 2^n - 1 (to 2^64 - 1 for n >= 64).
  const uint64_t last = n >= 64 ? UINT64_MAX : (uint64_t{1} << n) - 1;
  if (!nc) {
    static const std::vector<uint32_t> kNoOrder;
    for (uint64_t i = 1;; ++i) {
      cursor.Flip(static_cast<uint32_t>(__builtin_ctzll(i)));
      if (cursor.valid()) {
        ++visited;
        if (!visit(VisitedState(cursor, kNoOrder, cursor.hash()))) break;
      }
      if (i == last) break;
    }
    return visited;
  }
  for (uint64_t i = 1;; ++i) {
    cursor.Flip(static_cast<uint32_t>(__builtin_ctzll(i)));
    if (!VisitAssignment(cursor, nc, visit, &visited)) break;
    if (i == last) break;
  }
  return visited;
}

uint64_t Bounded(const StateSpace& space, const EnumerateOptions& options,
                 absl::FunctionRef<bool(const VisitedState&)> visit) {
  Cursor cursor(space);
  const bool nc = space.has_non_chain();
  const std::vector<std::vector<uint32_t>> ops = ChoiceOps(space);
  for (const auto& vars : ops) {
    for (uint32_t v : vars) cursor.Set(v, true);
  }
  const int64_t n = static_cast<int64_t>(ops.size());
  const int64_t dmax = options.drop_at_most, tmax = options.tear_at_most;
  std::vector<uint64_t> choice(n, UINT64_MAX);  // UINT64_MAX: none yet
  int64_t drops = 0, tears = 0;
  uint64_t visited = 0;
  int64_t i = 0;
  while (i >= 0) {
    if (i == n) {
      if (!VisitAssignment(cursor, nc, visit, &visited)) return visited;
      --i;
      continue;
    }
    const auto& vars = ops[i];
    const size_t k = vars.size();
    // Choices: 0 whole, 1 dropped, 2.. torn patterns 1 .. 2^k-2.
    const uint64_t end =
        k >= 2 && k < 63 ? (uint64_t{1} << k) : (k >= 63 ? UINT64_MAX : 2);
    uint64_t c = choice[i];
    if (c == 1) --drops;
    if (c != UINT64_MAX && c >= 2) --tears;
    ++c;  // UINT64_MAX + 1 == 0
    if (c == 1 && dmax >= 0 && drops >= dmax) c = 2;
    if (c >= 2 && tmax >= 0 && tears >= tmax) c = end;
    if (c >= end) {
      choice[i] = UINT64_MAX;
      for (uint32_t v : vars) cursor.Set(v, true);
      --i;
      continue;
    }
    choice[i] = c;
    if (c == 0) {
      for (uint32_t v : vars) cursor.Set(v, true);
    } else if (c == 1) {
      for (uint32_t v : vars) cursor.Set(v, false);
      ++drops;
    } else {
      const uint64_t pattern = c - 1;
      for (size_t b = 0; b < k; ++b) cursor.Set(vars[b], b < 64 && ((pattern >> b) & 1));
      ++tears;
    }
    ++i;
  }
  return visited;
}

uint64_t Sampled(const StateSpace& space, const EnumerateOptions& options,
                 absl::FunctionRef<bool(const VisitedState&)> visit) {
  Cursor cursor(space);
  SplitMix64 rng(options.seed ^ (uint64_t{space.event()} * 0xd1b54a32d192ed03ULL));
  const size_t n = space.vars().size();
  std::set<std::pair<std::vector<uint8_t>, std::vector<uint32_t>>> seen;
  uint64_t visited = 0;
  for (uint64_t s = 0; s < options.sample; ++s) {
    uint64_t word = 0;
    for (size_t v = 0; v < n; ++v) {
      if (v % 64 == 0) word = rng.Next();
      cursor.Set(static_cast<uint32_t>(v), (word >> (v % 64)) & 1);
    }
    // Repair broken preflush constraints by persisting what they cover.
    while (!cursor.valid()) {
      for (const VarConstraint& c : space.constraints()) {
        bool active = false;
        for (uint32_t v : c.write_vars) active |= cursor.Get(v);
        if (!active) continue;
        for (uint32_t v : c.covered_vars) cursor.Set(v, true);
      }
    }
    std::vector<uint32_t> order;
    if (space.has_non_chain()) {
      for (uint32_t r : cursor.radices()) {
        order.push_back(static_cast<uint32_t>(rng.Below(r)));
      }
    }
    if (!seen.insert({cursor.values(), order}).second) continue;
    ++visited;
    Hash128 h = space.has_non_chain() ? cursor.HashWithOrder(order) : cursor.hash();
    if (!visit(VisitedState(cursor, order, h))) break;
  }
  return visited;
}

}  // namespace

bool VisitOrders(Cursor& cursor,
                 absl::FunctionRef<bool(const VisitedState&)> visit) {
  uint64_t visited = 0;
  // Without competing writes there is one order (none): the general path.
  return VisitAssignment(cursor, /*non_chain=*/true, visit, &visited);
}

uint64_t EnumerateStates(const StateSpace& space,
                         const EnumerateOptions& options,
                         absl::FunctionRef<bool(const VisitedState&)> visit) {
  if (options.sample > 0) return Sampled(space, options, visit);
  if (options.bounded()) return Bounded(space, options, visit);
  return Exhaustive(space, visit);
}

}  // namespace crashenum
