#include "enumerator/durability.h"

#include <algorithm>

namespace crashenum {
namespace {

bool CarriesFlush(const Op& op) {
  return op.kind == OpKind::kFlush ||
         (op.kind == OpKind::kWrite && (op.flags & kPreflush));
}

}  // namespace

DurabilityTracker::DurabilityTracker(const Trace& trace, DiscardMode discard)
    : trace_(trace),
      discard_(discard),
      state_(trace.ops().size(), OpState::kAbsent),
      pending_(trace.devices().size()) {}

bool DurabilityTracker::Apply(uint32_t e) {
  const Event& ev = trace_.events()[e];
  ++next_;
  if (ev.kind == EventKind::kMark) return false;
  const uint32_t i = ev.op;
  const Op& op = trace_.ops()[i];
  if (ev.kind == EventKind::kSubmit) {
    if (op.kind == OpKind::kWrite) {
      state_[i] = OpState::kOptional;
    } else if (op.kind == OpKind::kDiscard) {
      if (discard_ == DiscardMode::kEither) state_[i] = OpState::kOptional;
      if (discard_ == DiscardMode::kZero) state_[i] = OpState::kDurable;
    }
    if (CarriesFlush(op)) in_flight_.push_back({i, pending_[op.device]});
    return false;
  }
  // Completion.
  bool grew = false;
  const bool ok = ev.status == 0;
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                         [&](const auto& f) { return f.first == i; });
  if (it != in_flight_.end()) {
    if (ok) {
      for (uint32_t w : it->second) {
        if (state_[w] == OpState::kOptional) {
          state_[w] = OpState::kDurable;
          grew = true;
        }
      }
      auto& pend = pending_[op.device];
      pend.erase(std::remove_if(pend.begin(), pend.end(),
                                [&](uint32_t w) {
                                  return state_[w] == OpState::kDurable;
                                }),
                 pend.end());
    }
    in_flight_.erase(it);
  }
  if (op.kind == OpKind::kWrite && ok) {
    if (op.flags & kFua) {
      if (state_[i] != OpState::kDurable) grew = true;
      state_[i] = OpState::kDurable;
    } else {
      pending_[op.device].push_back(i);
    }
  }
  return grew;
}

bool DurabilityTracker::WouldGrow(uint32_t e) const {
  const Event& ev = trace_.events()[e];
  if (ev.kind == EventKind::kSubmit && discard_ == DiscardMode::kZero &&
      trace_.ops()[ev.op].kind == OpKind::kDiscard) {
    return true;  // applied from its submission on
  }
  if (ev.kind != EventKind::kComplete || ev.status != 0) return false;
  const Op& op = trace_.ops()[ev.op];
  if (op.kind == OpKind::kWrite && (op.flags & kFua) &&
      state_[ev.op] != OpState::kDurable) {
    return true;
  }
  for (const auto& [f, covered] : in_flight_) {
    if (f != ev.op) continue;
    for (uint32_t w : covered) {
      if (state_[w] == OpState::kOptional) return true;
    }
  }
  return false;
}

std::vector<PreflushConstraint> DurabilityTracker::Constraints() const {
  std::vector<PreflushConstraint> out;
  for (const auto& [op, covered] : in_flight_) {
    if (trace_.ops()[op].kind != OpKind::kWrite) continue;
    PreflushConstraint c;
    c.write = op;
    for (uint32_t w : covered) {
      if (state_[w] == OpState::kOptional) c.covered.push_back(w);
    }
    std::sort(c.covered.begin(), c.covered.end());
    if (!c.covered.empty()) out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.write < b.write; });
  return out;
}

Durability DurabilityAt(const Trace& trace, uint32_t point,
                        DiscardMode discard) {
  DurabilityTracker t(trace, discard);
  for (uint32_t e = 0; e < point; ++e) t.Apply(e);
  return Durability{t.state(), t.Constraints()};
}

}  // namespace crashenum
