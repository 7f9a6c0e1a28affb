#include "check/prune_index.h"

#include <algorithm>
#include <string>

namespace crashenum {

PruneIndex::PruneIndex(const StateSpace& space) : space_(space) {
  const std::vector<Slot>& slots = space.slots();
  for (uint32_t s = 0; s < slots.size(); ++s) {
    slot_of_[{slots[s].device, slots[s].unit}] = s;
  }
}

std::vector<uint32_t> PruneIndex::SlotsOf(
    const std::vector<std::pair<uint32_t, uint64_t>>& units) const {
  std::vector<uint32_t> out;
  for (const auto& u : units) {
    auto it = slot_of_.find(u);
    if (it != slot_of_.end()) out.push_back(it->second);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Hash128 PruneIndex::Signature(
    const std::vector<uint32_t>& slots,
    absl::FunctionRef<int32_t(uint32_t)> version) const {
  // The key of a version is its content key relative to the base (zero for
  // the base content itself), which already depends on the unit: XOR them.
  Hash128 h;
  for (uint32_t s : slots) {
    const int32_t v = version(s);
    if (v >= 0) h ^= space_.slots()[s].candidates[v].rel;
  }
  return h;
}

void PruneIndex::Add(const std::vector<uint32_t>& read_slots,
                     const Resolution& checked, const Verdict& verdict) {
  if (verdict.kind == VerdictKind::kError) return;
  std::string key(reinterpret_cast<const char*>(read_slots.data()),
                  read_slots.size() * sizeof(uint32_t));
  const Hash128 list = HashBytes(key);
  auto [it, fresh] = group_of_.try_emplace(list, groups_.size());
  if (fresh) groups_.push_back(Group{read_slots, {}});
  Group& g = groups_[it->second];
  auto [jt, added] = g.by_signature.try_emplace(
      Signature(g.slots, [&](uint32_t s) { return checked.slot_version[s]; }),
      verdicts_.size());
  if (added) verdicts_.push_back(verdict);
}

const Verdict* PruneIndex::Find(const Resolution& r) const {
  return Find([&](uint32_t s) { return r.slot_version[s]; });
}

const Verdict* PruneIndex::Find(
    absl::FunctionRef<int32_t(uint32_t)> version) const {
  for (const Group& g : groups_) {
    auto it = g.by_signature.find(Signature(g.slots, version));
    if (it != g.by_signature.end()) return &verdicts_[it->second];
  }
  return nullptr;
}

}  // namespace crashenum
