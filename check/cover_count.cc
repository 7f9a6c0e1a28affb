#include "check/cover_count.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace crashenum {
namespace {

using u128 = unsigned __int128;
constexpr u128 kSaturated = ~u128{0};

u128 SatMul(u128 a, u128 b) {
  if (a == 0 || b == 0) return 0;
  if (a > kSaturated / b) return kSaturated;
  return a * b;
}
u128 SatAdd(u128 a, u128 b) { return a > kSaturated - b ? kSaturated : a + b; }

StateCount ToCount(u128 n) {
  StateCount c;
  c.fits = n <= UINT64_MAX;
  c.exact = c.fits ? static_cast<uint64_t>(n) : UINT64_MAX;
  c.log2 = n == 0 ? 0.0
                  : static_cast<double>(std::log2(static_cast<long double>(n)));
  return c;
}

constexpr uint32_t kMaxComponentVars = 22;
constexpr size_t kMaxCases = 1000000;

struct UnionFind {
  std::vector<uint32_t> parent;
  explicit UnionFind(size_t n) : parent(n) {
    std::iota(parent.begin(), parent.end(), 0);
  }
  uint32_t Find(uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void Join(uint32_t a, uint32_t b) { parent[Find(a)] = Find(b); }
};

// One independent component: its variables, slots and constraints, and the
// number of its local states per distinct content of its observed slots.
struct Component {
  std::vector<uint32_t> vars;
  std::vector<uint32_t> slots;
  std::vector<uint32_t> constraints;
  std::vector<uint32_t> observed;  // slots some cover names
  std::vector<std::pair<std::vector<Hash128>, u128>> table;
  u128 total = 0;
};

// Enumerates the local states of `comp` and fills its table.
absl::Status Tabulate(const StateSpace& space, Component& comp) {
  const size_t k = comp.vars.size();
  if (k > kMaxComponentVars) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "counting covered states at e", space.event(), ": ", k,
        " variables are linked by shared units or preflush constraints (at "
        "most ",
        kMaxComponentVars, " can be counted)"));
  }
  absl::flat_hash_map<uint32_t, uint32_t> local;  // space var -> bit
  for (uint32_t i = 0; i < k; ++i) local[comp.vars[i]] = i;
  absl::flat_hash_map<uint32_t, size_t> observed_at;
  for (size_t i = 0; i < comp.observed.size(); ++i) {
    observed_at[comp.observed[i]] = i;
  }
  // Per slot, per candidate: its local bit, or -1 when durable.
  std::vector<std::vector<int32_t>> bit(comp.slots.size());
  for (size_t i = 0; i < comp.slots.size(); ++i) {
    bit[i].assign(space.slots()[comp.slots[i]].candidates.size(), -1);
  }
  absl::flat_hash_map<uint32_t, size_t> slot_index;
  for (size_t i = 0; i < comp.slots.size(); ++i) slot_index[comp.slots[i]] = i;
  for (uint32_t v : comp.vars) {
    for (const auto& [s, c] : space.vars()[v].units) {
      bit[slot_index.at(s)][c] = static_cast<int32_t>(local.at(v));
    }
  }
  absl::flat_hash_map<std::vector<Hash128>, u128> table;
  std::vector<uint8_t> persisted;
  std::vector<Hash128> tuple(comp.observed.size());
  // Per slot: the versions that may show (several only where concurrent
  // writes compete: each is an order choice).
  std::vector<std::vector<int32_t>> shown(comp.slots.size());
  for (uint64_t m = 0; m < (uint64_t{1} << k); ++m) {
    bool valid = true;
    for (uint32_t c : comp.constraints) {
      const VarConstraint& vc = space.constraints()[c];
      bool active = false, full = true;
      for (uint32_t v : vc.write_vars) active |= (m >> local.at(v)) & 1;
      for (uint32_t v : vc.covered_vars) full &= (m >> local.at(v)) & 1;
      if (active && !full) valid = false;
    }
    if (!valid) continue;
    for (size_t i = 0; i < comp.slots.size(); ++i) {
      const Slot& slot = space.slots()[comp.slots[i]];
      persisted.assign(slot.candidates.size(), 0);
      for (size_t c = 0; c < slot.candidates.size(); ++c) {
        persisted[c] = bit[i][c] < 0 || ((m >> bit[i][c]) & 1);
      }
      shown[i].clear();
      if (slot.chain) {
        int32_t top = -1;
        for (size_t c = 0; c < persisted.size(); ++c) {
          if (persisted[c]) top = static_cast<int32_t>(c);
        }
        shown[i].push_back(top);
      } else {
        for (uint32_t c : space.MaximalPersisted(comp.slots[i], persisted)) {
          shown[i].push_back(static_cast<int32_t>(c));
        }
        if (shown[i].empty()) shown[i].push_back(-1);
      }
    }
    // Every combination of order choices is a state.
    std::vector<size_t> pick(comp.slots.size(), 0);
    while (true) {
      for (size_t i = 0; i < comp.slots.size(); ++i) {
        auto it = observed_at.find(comp.slots[i]);
        if (it == observed_at.end()) continue;
        const int32_t v = shown[i][pick[i]];
        tuple[it->second] =
            v >= 0 ? space.slots()[comp.slots[i]].candidates[v].rel : Hash128();
      }
      u128& w = table[tuple];
      w = SatAdd(w, 1);
      comp.total = SatAdd(comp.total, 1);
      size_t i = 0;
      while (i < pick.size() && ++pick[i] == shown[i].size()) pick[i++] = 0;
      if (i == pick.size()) break;
    }
  }
  comp.table.assign(table.begin(), table.end());
  return absl::OkStatus();
}

using Alive = std::vector<uint64_t>;  // bitset over a group's covers

}  // namespace

Cover CoverOf(const StateSpace& space, const std::vector<uint32_t>& slots,
              const Resolution& r) {
  Cover c;
  c.slots = slots;
  for (uint32_t s : slots) {
    const int32_t v = r.slot_version[s];
    c.contents.push_back(v >= 0 ? space.slots()[s].candidates[v].rel
                                : Hash128());
  }
  return c;
}

absl::StatusOr<CoverCounts> CountCovered(
    const StateSpace& space, const std::vector<Cover>& covers,
    const std::vector<std::vector<size_t>>& groups, uint64_t max_work) {
  const auto& slots = space.slots();
  const size_t nv = space.vars().size();
  // Components: variables joined by a slot or a constraint; a slot without
  // variables (only durable writes competing) is a component of its own.
  UnionFind uf(nv + slots.size());
  for (uint32_t s = 0; s < slots.size(); ++s) uf.Join(nv + s, nv + s);
  for (uint32_t v = 0; v < nv; ++v) {
    for (const auto& [s, c] : space.vars()[v].units) uf.Join(v, nv + s);
  }
  for (const VarConstraint& vc : space.constraints()) {
    const uint32_t a = vc.write_vars.front();
    for (uint32_t v : vc.write_vars) uf.Join(a, v);
    for (uint32_t v : vc.covered_vars) uf.Join(a, v);
  }
  absl::flat_hash_map<uint32_t, size_t> comp_of_root;
  std::vector<Component> comps;
  auto comp_of = [&](uint32_t node) -> Component& {
    auto [it, fresh] = comp_of_root.try_emplace(uf.Find(node), comps.size());
    if (fresh) comps.emplace_back();
    return comps[it->second];
  };
  for (uint32_t v = 0; v < nv; ++v) comp_of(v).vars.push_back(v);
  for (uint32_t s = 0; s < slots.size(); ++s)
    comp_of(nv + s).slots.push_back(s);
  for (uint32_t c = 0; c < space.constraints().size(); ++c) {
    comp_of(space.constraints()[c].write_vars.front()).constraints.push_back(c);
  }
  std::vector<size_t> comp_of_slot(slots.size());
  for (size_t i = 0; i < comps.size(); ++i) {
    for (uint32_t s : comps[i].slots) comp_of_slot[s] = i;
  }
  std::vector<uint8_t> observed(slots.size(), 0);
  for (const Cover& c : covers) {
    for (uint32_t s : c.slots) observed[s] = 1;
  }
  for (Component& comp : comps) {
    for (uint32_t s : comp.slots) {
      if (observed[s]) comp.observed.push_back(s);
    }
  }
  CoverCounts out;
  u128 total = 1;
  for (Component& comp : comps) {
    if (comp.observed.empty() && comp.constraints.empty() &&
        comp.slots.size() == 1 && space.slots()[comp.slots[0]].chain) {
      // The common case: a chain slot's independent variables.
      comp.total = u128{1} << std::min<size_t>(comp.vars.size(), 127);
    } else {
      absl::Status s = Tabulate(space, comp);
      if (!s.ok()) return s;
    }
    total = SatMul(total, comp.total);
  }
  out.total = ToCount(total);

  uint64_t work = 0;
  auto too_much = [&] {
    return absl::ResourceExhaustedError(absl::StrCat(
        "counting covered states at e", space.event(), ": the ", covers.size(),
        " covers take more than ", max_work, " steps to count"));
  };
  for (const std::vector<size_t>& group : groups) {
    const size_t n = group.size();
    const size_t words = (n + 63) / 64;
    uint64_t group_slots = 0;  // a table row's cost to match
    for (size_t g : group) group_slots += covers[g].slots.size() + 1;
    // Components some cover of the group constrains, in order; the last
    // one each cover constrains.
    std::vector<size_t> touched;
    std::vector<size_t> last(n, 0);
    {
      std::vector<uint8_t> is_touched(comps.size(), 0);
      for (size_t g = 0; g < n; ++g) {
        for (uint32_t s : covers[group[g]].slots)
          is_touched[comp_of_slot[s]] = 1;
      }
      for (size_t i = 0; i < comps.size(); ++i) {
        if (is_touched[i]) touched.push_back(i);
      }
      for (size_t g = 0; g < n; ++g) {
        for (size_t t = 0; t < touched.size(); ++t) {
          for (uint32_t s : covers[group[g]].slots) {
            if (comp_of_slot[s] == touched[t]) last[g] = t + 1;
          }
        }
      }
    }
    // rest[t]: the states of the touched components from t on.
    std::vector<u128> rest(touched.size() + 1, 1);
    for (size_t t = touched.size(); t-- > 0;) {
      rest[t] = SatMul(rest[t + 1], comps[touched[t]].total);
    }
    u128 untouched = 1;
    {
      std::vector<uint8_t> is_touched(comps.size(), 0);
      for (size_t t : touched) is_touched[t] = 1;
      for (size_t i = 0; i < comps.size(); ++i) {
        if (!is_touched[i]) untouched = SatMul(untouched, comps[i].total);
      }
    }
    u128 in_union = 0;
    absl::flat_hash_map<Alive, u128> cases;
    if (n > 0) {
      Alive all(words, 0);
      for (size_t g = 0; g < n; ++g) all[g / 64] |= uint64_t{1} << (g % 64);
      // A cover that constrains no slot holds every state.
      bool everything = false;
      for (size_t g = 0; g < n; ++g) everything |= last[g] == 0;
      if (everything) {
        in_union = rest[0];
      } else {
        cases[all] = 1;
      }
    }
    for (size_t t = 0; t < touched.size() && !cases.empty(); ++t) {
      const Component& comp = comps[touched[t]];
      absl::flat_hash_map<uint32_t, size_t> pos;
      for (size_t i = 0; i < comp.observed.size(); ++i)
        pos[comp.observed[i]] = i;
      // The covers each table row agrees with, summed by that set.
      absl::flat_hash_map<Alive, u128> rows;
      for (const auto& [tuple, weight] : comp.table) {
        work += group_slots;
        if (work > max_work) return too_much();
        Alive agree(words, 0);
        for (size_t g = 0; g < n; ++g) {
          const Cover& c = covers[group[g]];
          bool ok = true;
          for (size_t j = 0; j < c.slots.size() && ok; ++j) {
            auto it = pos.find(c.slots[j]);
            if (it != pos.end()) ok = tuple[it->second] == c.contents[j];
          }
          if (ok) agree[g / 64] |= uint64_t{1} << (g % 64);
        }
        u128& w = rows[agree];
        w = SatAdd(w, weight);
      }
      absl::flat_hash_map<Alive, u128> next;
      for (const auto& [alive, count] : cases) {
        work += rows.size() * (words + n);
        if (work > max_work) return too_much();
        for (const auto& [agree, weight] : rows) {
          Alive a(words);
          bool any = false, done = false;
          for (size_t w = 0; w < words; ++w) {
            a[w] = alive[w] & agree[w];
            any |= a[w] != 0;
          }
          if (!any) continue;
          for (size_t g = 0; g < n && !done; ++g) {
            done = ((a[g / 64] >> (g % 64)) & 1) && last[g] <= t + 1;
          }
          const u128 c = SatMul(count, weight);
          if (done) {
            in_union = SatAdd(in_union, SatMul(c, rest[t + 1]));
          } else {
            u128& slot = next[a];
            slot = SatAdd(slot, c);
          }
        }
        if (next.size() > kMaxCases) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "counting covered states at e", space.event(), ": the ", n,
              " covers intersect in more than ", kMaxCases, " distinct ways"));
        }
      }
      cases = std::move(next);
    }
    out.unions.push_back(ToCount(SatMul(in_union, untouched)));
  }
  return out;
}

}  // namespace crashenum
