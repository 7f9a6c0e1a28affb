#include "traces/internal/block_requests.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/trace.h"
#include "traces/block_events.h"

namespace crashenum {
namespace internal_traces {
namespace {

// Sectors past this are no device's (their byte offsets would not fit in 63
// bits).
constexpr uint64_t kMaxSector = uint64_t{1} << 54;
// Remaps remembered per target device, newest last.
constexpr size_t kMaxRemapsPerDevice = 1024;
// Pending ranges a completion examines before its start and from it on; real
// queues are far shallower, the caps only bound hostile input.
constexpr int kLookBehind = 64;
constexpr int kMaxScan = 4096;

}  // namespace

std::string DeviceName(DeviceId d) {
  return absl::StrCat(d.major, ",", d.minor);
}

std::string SectorRange(uint64_t sector, uint64_t count) {
  return absl::StrCat("512-byte sectors [", sector, ", ", sector + count, ")");
}

RequestTracker::Kind RequestTracker::KindOf(const BlockEvent& e) {
  if (e.is_flush_only) return Kind::kFlush;
  if (e.is_discard && e.num_sectors != 0) return Kind::kDiscard;
  if (e.is_write && e.num_sectors != 0) return Kind::kWrite;
  // Write zeroes: the capture below sees a write of zeroes.
  if (e.is_write_zeroes && e.num_sectors != 0) return Kind::kWrite;
  if (e.is_read) return Kind::kRead;
  return Kind::kOther;
}

std::optional<uint64_t> RequestTracker::Attribute(uint64_t sector,
                                                  uint64_t count) const {
  if (!above_.has_value()) return sector;
  DeviceId dev = traced_;
  for (int hop = 0; hop < kMaxRemapHops; ++hop) {
    auto it = remaps_.find(dev);
    if (it == remaps_.end()) return std::nullopt;
    const Remap* found = nullptr;
    for (auto r = it->second.rbegin(); r != it->second.rend(); ++r) {
      if (r->sector <= sector && sector + count <= r->sector + r->count) {
        found = &*r;
        break;
      }
    }
    if (found == nullptr) return std::nullopt;
    sector = found->from_sector + (sector - found->sector);
    dev = found->from;
    if (dev == *above_) return sector;
  }
  return std::nullopt;
}

size_t RequestTracker::NewBio(Kind kind, const BlockEvent& e,
                              std::optional<uint64_t> at, uint64_t count) {
  Bio bio;
  bio.remaining = count;
  if (at.has_value()) {
    BlockOp op;
    op.kind = kind == Kind::kWrite     ? OpKind::kWrite
              : kind == Kind::kDiscard ? OpKind::kDiscard
                                       : OpKind::kFlush;
    op.sector = kind == Kind::kFlush ? 0 : *at;
    op.num_sectors = kind == Kind::kFlush ? 0 : count;
    // A discard carries no flags; a flush's PREFLUSH is what it is.
    op.flags = kind == Kind::kDiscard ? 0
               : kind == Kind::kFlush ? e.flags & ~uint32_t{kPreflush}
                                      : e.flags;
    op.source = &e;
    op.submit_at = walk_.out.size();
    bio.op = static_cast<uint32_t>(walk_.ops.size());
    walk_.out.push_back({true, *bio.op, 0, e.source_entry});
    walk_.ops.push_back(op);
  }
  bios_.push_back(bio);
  return bios_.size() - 1;
}

void RequestTracker::Complete(size_t index, const BlockEvent& e) {
  Bio& bio = bios_[index];
  if (bio.status == 0) bio.status = e.error;
  if (!bio.op.has_value()) return;
  walk_.ops[*bio.op].complete_at = walk_.out.size();
  walk_.ops[*bio.op].completed_by = &e;
  walk_.out.push_back({false, *bio.op, bio.status, e.source_entry});
}

RequestTracker::Ranges RequestTracker::Uncovered(Kind kind, uint64_t start,
                                                 uint64_t end) const {
  // Covered intervals, from the pieces that start before `end`.
  Ranges covered;
  const auto& pending = pending_[kind == Kind::kWrite ? 0 : 1];
  auto it = pending.lower_bound(start);
  auto back = it;
  for (int n = 0; n < kLookBehind && back != pending.begin(); ++n) {
    --back;
    if (back->second.end > start) covered.emplace_back(start, back->second.end);
  }
  for (int n = 0; n < kMaxScan && it != pending.end() && it->first < end;
       ++n, ++it) {
    covered.emplace_back(it->first, it->second.end);
  }
  std::sort(covered.begin(), covered.end());
  Ranges gaps;
  uint64_t at = start;
  for (const auto& [a, b] : covered) {
    if (a > at) gaps.emplace_back(at, std::min(a, end));
    at = std::max(at, b);
    if (at >= end) break;
  }
  if (at < end) gaps.emplace_back(at, end);
  return gaps;
}

RequestTracker::Ranges RequestTracker::Claim(Kind kind, const BlockEvent& e) {
  auto& pending = pending_[kind == Kind::kWrite ? 0 : 1];
  const uint64_t start = e.sector, end = e.sector + e.num_sectors;
  // Candidates: pieces starting a little before `start` (the tail of a split
  // request), then those starting inside, oldest first for equal starts.
  std::vector<std::multimap<uint64_t, Piece>::iterator> candidates;
  auto it = pending.lower_bound(start);
  auto back = it;
  for (int n = 0; n < kLookBehind && back != pending.begin(); ++n) {
    --back;
    if (back->second.end > start) candidates.push_back(back);
  }
  std::reverse(candidates.begin(), candidates.end());
  for (int n = 0; n < kMaxScan && it != pending.end() && it->first < end;
       ++n, ++it) {
    candidates.push_back(it);
  }
  // Sectors of [start, end) claimed so far, sorted and disjoint.
  Ranges claimed;
  uint64_t claimed_total = 0;
  for (auto piece : candidates) {
    if (claimed_total == end - start) break;
    const uint64_t ps = piece->first, pe = piece->second.end;
    const size_t bio = piece->second.bio;
    // The part of the piece inside [start, end) not claimed yet.
    Ranges take;
    uint64_t at = std::max(ps, start);
    const uint64_t stop = std::min(pe, end);
    for (const auto& [a, b] : claimed) {
      if (at >= stop) break;
      if (b <= at) continue;
      if (a > at) take.emplace_back(at, std::min(a, stop));
      at = std::max(at, b);
    }
    if (at < stop) take.emplace_back(at, stop);
    if (take.empty()) continue;
    // The piece minus what it gives up.
    pending.erase(piece);
    uint64_t rest = ps;
    uint64_t taken = 0;
    for (const auto& [a, b] : take) {
      if (a > rest) pending.emplace(rest, Piece{bio, a});
      rest = b;
      taken += b - a;
      claimed.emplace_back(a, b);
    }
    if (rest < pe) pending.emplace(rest, Piece{bio, pe});
    std::sort(claimed.begin(), claimed.end());
    claimed_total += taken;
    bios_[bio].remaining -= std::min(taken, bios_[bio].remaining);
    if (bios_[bio].status == 0) bios_[bio].status = e.error;
    if (bios_[bio].remaining == 0) Complete(bio, e);
  }
  Ranges gaps;
  uint64_t at = start;
  for (const auto& [a, b] : claimed) {
    if (a > at) gaps.emplace_back(at, a);
    at = std::max(at, b);
  }
  if (at < end) gaps.emplace_back(at, end);
  return gaps;
}

void RequestTracker::AddUnqueued(Kind kind, const BlockEvent& e, uint64_t start,
                                 uint64_t end, bool complete) {
  std::optional<uint64_t> at;
  if (above_.has_value()) {
    ++walk_.not_attributed;  // without its queue event, its remaps are unknown
  } else {
    at = start;
    ++(complete ? walk_.completed_without_queue : walk_.issued_without_queue);
  }
  const size_t bio = NewBio(kind, e, at, end - start);
  if (complete) {
    bios_[bio].remaining = 0;
    Complete(bio, e);
  } else {
    pending_[kind == Kind::kWrite ? 0 : 1].emplace(start, Piece{bio, end});
  }
}

absl::Status RequestTracker::Add(const BlockEvent& e) {
  if (e.is_remap) {
    std::deque<Remap>& list = remaps_[DeviceId{e.major, e.minor}];
    list.push_back(
        {e.sector, e.num_sectors, {e.from_major, e.from_minor}, e.from_sector});
    if (list.size() > kMaxRemapsPerDevice) list.pop_front();
    return absl::OkStatus();
  }
  if (!(DeviceId{e.major, e.minor} == traced_) ||
      e.action == BlockAction::kOther) {
    return absl::OkStatus();
  }
  const Kind kind = KindOf(e);
  // A flush has no range (tracefs prints its sector as -1).
  if (kind != Kind::kFlush &&
      (e.sector > kMaxSector || e.num_sectors > kMaxSector - e.sector)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "range ", e.sector, " + ", e.num_sectors, " lies past 2^54 sectors"));
  }
  if (kind == Kind::kRead || kind == Kind::kOther) {
    if (e.action == BlockAction::kQueue) {
      ++(kind == Kind::kRead ? walk_.reads : walk_.others);
    }
    return absl::OkStatus();
  }
  const uint64_t start = e.sector, end = e.sector + e.num_sectors;
  if (kind == Kind::kFlush) {
    AddFlush(e);
    return absl::OkStatus();
  }
  switch (e.action) {
    case BlockAction::kQueue: {
      const std::optional<uint64_t> at = Attribute(start, end - start);
      if (!at.has_value()) ++walk_.not_attributed;
      const size_t bio = NewBio(kind, e, at, end - start);
      pending_[kind == Kind::kWrite ? 0 : 1].emplace(start, Piece{bio, end});
      break;
    }
    case BlockAction::kIssue:
      for (const auto& [a, b] : Uncovered(kind, start, end)) {
        AddUnqueued(kind, e, a, b, /*complete=*/false);
      }
      break;
    default:
      for (const auto& [a, b] : Claim(kind, e)) {
        AddUnqueued(kind, e, a, b, /*complete=*/true);
      }
      break;
  }
  return absl::OkStatus();
}

void RequestTracker::AddFlush(const BlockEvent& e) {
  // A flush of the traced device flushes every device above it.
  const std::optional<uint64_t> at = 0;
  switch (e.action) {
    case BlockAction::kQueue:
      flushes_queued_.push_back(NewBio(Kind::kFlush, e, at, 0));
      break;
    case BlockAction::kIssue:
      if (flushes_queued_.empty()) {
        ++walk_.issued_without_queue;
        flushes_queued_.push_back(NewBio(Kind::kFlush, e, at, 0));
      }
      flushes_issued_.push_back(std::move(flushes_queued_));
      flushes_queued_.clear();
      break;
    default: {
      std::vector<size_t> batch;
      if (!flushes_issued_.empty()) {
        batch = std::move(flushes_issued_.front());
        flushes_issued_.pop_front();
      } else {
        batch = std::move(flushes_queued_);
        flushes_queued_.clear();
      }
      if (batch.empty()) {
        ++walk_.completed_without_queue;
        batch.push_back(NewBio(Kind::kFlush, e, at, 0));
      }
      for (size_t bio : batch) Complete(bio, e);
      break;
    }
  }
}

}  // namespace internal_traces
}  // namespace crashenum
