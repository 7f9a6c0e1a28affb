#include "tests/reference_model.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

namespace crashenum {
namespace reference {
namespace {

// One crash point of a trace under one set of options, straight from
// DESIGN.md 2.2-2.5.
class Model {
 public:
  Model(const Trace& trace, uint32_t point, const ReferenceOptions& options)
      : t_(trace), p_(point), o_(options) {
    const std::vector<Op>& ops = t_.ops();
    // 2.2 and 2.5: which ops are possible, and which of those durable.
    for (uint32_t i = 0; i < ops.size(); ++i) {
      if (t_.submit_event(i) >= p_ || ops[i].kind == OpKind::kFlush) continue;
      if (ops[i].kind == OpKind::kDiscard) {
        if (o_.discard == Discard::kZero) durable_.push_back(i);
        if (o_.discard == Discard::kEither) optional_.push_back(i);
      } else if (IsDurable(i)) {
        durable_.push_back(i);
      } else {
        optional_.push_back(i);
      }
    }
    // 2.3: the variables: one per unit of an optional op with tearing, one
    // per optional op without.
    for (int j = 0; j < static_cast<int>(optional_.size()); ++j) {
      if (!o_.torn) vars_.push_back({j, -1});
      for (int k = 0; o_.torn && k < NumUnits(optional_[j]); ++k) {
        vars_.push_back({j, k});
      }
    }
    // 2.2 PREFLUSH: a PREFLUSH write in flight at the point, with the
    // optional writes on its device that completed successfully before it
    // was submitted.
    for (int w = 0; w < static_cast<int>(optional_.size()); ++w) {
      const uint32_t wi = optional_[w];
      if (ops[wi].kind != OpKind::kWrite || !(ops[wi].flags & kPreflush) ||
          t_.complete_event(wi) < p_) {
        continue;
      }
      std::vector<int> covered;
      for (int c = 0; c < static_cast<int>(optional_.size()); ++c) {
        const uint32_t ci = optional_[c];
        if (ops[ci].kind == OpKind::kWrite &&
            ops[ci].device == ops[wi].device &&
            t_.complete_event(ci) < t_.submit_event(wi) &&
            t_.complete_status(ci) == 0) {
          covered.push_back(c);
        }
      }
      preflush_.push_back({w, covered});
    }
    // Unit layout and contents.
    for (uint32_t d = 0; d < t_.devices().size(); ++d) {
      const Device& dev = t_.devices()[d];
      const uint64_t ub = UnitBytes(d);
      unit_offset_.push_back(base_.size());
      for (uint64_t u = 0; u < dev.num_sectors * dev.sector_size / ub; ++u) {
        base_.push_back(Intern(dev.base.empty()
                                   ? std::string(ub, '\0')
                                   : std::string(dev.base.substr(u * ub, ub))));
      }
    }
    content_.resize(ops.size());
    for (uint32_t i : durable_) InternOp(i);
    for (uint32_t i : optional_) InternOp(i);
  }

  size_t num_vars() const { return vars_.size(); }

  std::set<std::string> Images() {
    std::set<std::vector<int>> keys;
    for (uint64_t mask = 0; mask < (uint64_t{1} << vars_.size()); ++mask) {
      std::vector<std::vector<bool>> persisted;
      for (uint32_t i : optional_) persisted.emplace_back(NumUnits(i), false);
      for (size_t v = 0; v < vars_.size(); ++v) {
        if (!((mask >> v) & 1)) continue;
        auto [j, k] = vars_[v];
        if (k >= 0) {
          persisted[j][k] = true;
        } else {
          persisted[j].assign(persisted[j].size(), true);
        }
      }
      if (!Allowed(persisted)) continue;
      AddImages(persisted, &keys);
    }
    std::set<std::string> images;
    for (const std::vector<int>& key : keys) {
      std::string image;
      for (int id : key) image += strings_[id];
      images.insert(std::move(image));
    }
    return images;
  }

 private:
  static bool Any(const std::vector<bool>& v) {
    return std::find(v.begin(), v.end(), true) != v.end();
  }
  static bool All(const std::vector<bool>& v) {
    return std::find(v.begin(), v.end(), false) == v.end();
  }

  bool CompletedOk(uint32_t i) const {
    return t_.complete_event(i) < p_ && t_.complete_status(i) == 0;
  }
  // 2.4: W1 happens before W2 when complete(W1) <= submit(W2). An op that
  // never completed has complete_event == events().size(): before nothing.
  bool HappensBefore(uint32_t a, uint32_t b) const {
    return t_.complete_event(a) < t_.submit_event(b);
  }
  // 2.2: completed successfully by the point, and FUA or a later successful
  // flush (an empty flush or a PREFLUSH write) on its device.
  bool IsDurable(uint32_t w) const {
    const std::vector<Op>& ops = t_.ops();
    if (!CompletedOk(w)) return false;
    if (ops[w].flags & kFua) return true;
    for (uint32_t f = 0; f < ops.size(); ++f) {
      const bool flush =
          ops[f].kind == OpKind::kFlush ||
          (ops[f].kind == OpKind::kWrite && (ops[f].flags & kPreflush));
      if (flush && ops[f].device == ops[w].device &&
          t_.submit_event(f) > t_.complete_event(w) && CompletedOk(f)) {
        return true;
      }
    }
    return false;
  }

  uint64_t UnitBytes(uint32_t device) const {
    return o_.atomic_unit ? o_.atomic_unit : t_.devices()[device].sector_size;
  }
  int NumUnits(uint32_t op) const {
    const Op& o = t_.ops()[op];
    return static_cast<int>(o.num_sectors * t_.devices()[o.device].sector_size /
                            UnitBytes(o.device));
  }
  // Index of unit k of op in the concatenated image.
  size_t Position(uint32_t op, int k) const {
    const Op& o = t_.ops()[op];
    return unit_offset_[o.device] +
           o.sector * t_.devices()[o.device].sector_size / UnitBytes(o.device) +
           k;
  }

  int Intern(std::string s) {
    auto it = ids_.emplace(std::move(s), static_cast<int>(strings_.size()));
    if (it.second) strings_.push_back(it.first->first);
    return it.first->second;
  }
  void InternOp(uint32_t i) {
    const Op& op = t_.ops()[i];
    const uint64_t ub = UnitBytes(op.device);
    for (int k = 0; k < NumUnits(i); ++k) {
      content_[i].push_back(
          Intern(op.kind == OpKind::kDiscard
                     ? std::string(ub, '\0')
                     : std::string(op.data.substr(k * ub, ub))));
    }
  }

  // The PREFLUSH rule, --oracle-reads=metadata and the --drop-at-most
  // filter.
  bool Allowed(const std::vector<std::vector<bool>>& persisted) const {
    // DESIGN 3: writes without META count as persisted, whole.
    for (size_t j = 0; o_.metadata_only && j < optional_.size(); ++j) {
      const Op& op = t_.ops()[optional_[j]];
      if (op.kind == OpKind::kWrite && !(op.flags & kMeta) &&
          !All(persisted[j])) {
        return false;
      }
    }
    for (const auto& [w, covered] : preflush_) {
      if (!Any(persisted[w])) continue;
      for (int c : covered) {
        if (!All(persisted[c])) return false;
      }
    }
    if (o_.drop_at_most >= 0) {
      int missing = 0;
      for (const std::vector<bool>& p : persisted) missing += !Any(p);
      if (missing > o_.drop_at_most) return false;
    }
    return true;
  }

  // 2.4: every unit shows one of its maximal persisted versions; each
  // combination of choices is an image.
  void AddImages(const std::vector<std::vector<bool>>& persisted,
                 std::set<std::vector<int>>* keys) const {
    std::vector<std::vector<std::pair<uint32_t, int>>> cover(base_.size());
    for (uint32_t i : durable_) {
      for (int k = 0; k < NumUnits(i); ++k) {
        cover[Position(i, k)].push_back({i, k});
      }
    }
    for (size_t j = 0; j < optional_.size(); ++j) {
      for (int k = 0; k < NumUnits(optional_[j]); ++k) {
        if (persisted[j][k]) {
          cover[Position(optional_[j], k)].push_back({optional_[j], k});
        }
      }
    }
    std::vector<std::vector<int>> partial = {base_};
    for (size_t u = 0; u < cover.size(); ++u) {
      if (cover[u].empty()) continue;
      std::set<int> choices;
      for (const auto& [a, ka] : cover[u]) {
        bool maximal = true;
        for (const auto& [b, kb] : cover[u]) maximal &= !HappensBefore(a, b);
        if (maximal) choices.insert(content_[a][ka]);
      }
      std::vector<std::vector<int>> next;
      for (const std::vector<int>& key : partial) {
        for (int c : choices) {
          next.push_back(key);
          next.back()[u] = c;
        }
      }
      partial = std::move(next);
    }
    keys->insert(partial.begin(), partial.end());
  }

  const Trace& t_;
  const uint32_t p_;
  const ReferenceOptions o_;
  std::vector<uint32_t> durable_, optional_;  // op indices, in trace order
  std::vector<std::pair<int, int>> vars_;     // (optional index, unit or -1)
  std::vector<std::pair<int, std::vector<int>>> preflush_;  // optional indices
  std::vector<size_t> unit_offset_;        // per device: its first image unit
  std::vector<int> base_;                  // per image unit: base content id
  std::vector<std::vector<int>> content_;  // per op and unit: content id
  std::map<std::string, int> ids_;
  std::vector<std::string> strings_;
};

}  // namespace

std::set<std::string> ReferenceImages(const Trace& trace, uint32_t point,
                                      const ReferenceOptions& options) {
  return Model(trace, point, options).Images();
}

int ReferenceVariables(const Trace& trace, uint32_t point,
                       const ReferenceOptions& options) {
  return static_cast<int>(Model(trace, point, options).num_vars());
}

}  // namespace reference
}  // namespace crashenum
