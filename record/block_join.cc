#include "record/block_join.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace crashenum {
namespace internal_record {

namespace {

struct Bio {
  uint64_t time_ns = 0;
  uint64_t begin = 0, end = 0;  // 512-byte sectors
  uint32_t flags = 0;
  uint64_t unused = 0;  // sectors not yet matched to a write
  bool zeroes = false;  // a write-zeroes request
};


// Sectors [begin, end) of one write, as a set of covered intervals.
class Cover {
 public:
  Cover(uint64_t begin, uint64_t end) : begin_(begin), end_(end) {}
  bool full() const { return covered_ == end_ - begin_; }
  // Adds the part of [b, e) not yet covered; returns how many sectors that
  // was (0 when all of it was covered already).
  uint64_t Add(uint64_t b, uint64_t e) {
    b = std::max(b, begin_);
    e = std::min(e, end_);
    uint64_t added = 0;
    uint64_t pos = b;
    while (pos < e) {
      auto it = runs_.upper_bound(pos);
      if (it != runs_.begin() && std::prev(it)->second > pos) {
        pos = std::prev(it)->second;  // inside a covered run
        continue;
      }
      const uint64_t stop = it == runs_.end() ? e : std::min(e, it->first);
      runs_[pos] = stop;
      added += stop - pos;
      pos = stop;
    }
    covered_ += added;
    return added;
  }

 private:
  uint64_t begin_, end_, covered_ = 0;
  std::map<uint64_t, uint64_t> runs_;  // begin -> end, disjoint
};

}  // namespace

absl::StatusOr<Trace> JoinBlockFlags(const Trace& raw,
                                     const std::vector<BlockEvent>& events,
                                     uint32_t major, uint32_t minor,
                                     const std::vector<uint64_t>* arrival_ns,
                                     JoinReport* report) {
  if (arrival_ns != nullptr && arrival_ns->size() != raw.ops().size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "arrival times for ", arrival_ns->size(), " ops, the trace has ",
        raw.ops().size()));
  }
  JoinReport r;
  std::vector<Bio> bios;
  for (const BlockEvent& e : events) {
    // Writes, and requests that write without data of their own (write
    // zeroes: "NS" or "WZS"), which reach the disk as writes of zeroes.
    if (e.action != BlockAction::kQueue || e.major != major ||
        e.minor != minor || e.is_read || e.is_discard || e.is_flush_only ||
        e.num_sectors == 0) {
      continue;
    }
    bios.push_back({e.time_ns, e.sector, e.sector + e.num_sectors, e.flags,
                    e.num_sectors, e.is_write_zeroes});
  }
  r.bios = bios.size();
  // trace_pipe merges the CPUs' buffers by time; make sure of it.
  std::stable_sort(bios.begin(), bios.end(), [](const Bio& a, const Bio& b) {
    return a.time_ns < b.time_ns;
  });

  // Flags of each op; sector units are 512 bytes in the events.
  const std::vector<Op>& ops = raw.ops();
  std::vector<uint32_t> flags(ops.size(), 0);
  std::vector<bool> zero_write(ops.size(), false);  // a hole punch of zeroes
  uint64_t max_zero_bytes = 0;
  size_t first_live = 0;  // bios before it are used up
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    if (op.kind == OpKind::kFlush) continue;
    // The loop device sends a write-zeroes request that may unmap as a hole
    // punch, and a punched hole reads as zeroes: when write-zeroes bios
    // cover a punch, it is a write of zeroes, not a discard.
    const bool punch = op.kind == OpKind::kDiscard;
    if (!punch) ++r.writes;
    const uint64_t scale = raw.devices()[op.device].sector_size / 512;
    const uint64_t begin = op.sector * scale;
    const uint64_t end = (op.sector + op.num_sectors) * scale;
    Cover cover(begin, end);
    bool joined = false;
    uint32_t found = 0;
    std::vector<std::pair<size_t, uint64_t>> taken;  // bio, sectors
    for (size_t b = first_live; b < bios.size() && !cover.full(); ++b) {
      Bio& bio = bios[b];
      // A bio queued after the write arrived cannot be its source.
      if (arrival_ns != nullptr && bio.time_ns > (*arrival_ns)[i]) break;
      if (bio.unused == 0 || bio.end <= begin || bio.begin >= end) continue;
      if (punch && !bio.zeroes) continue;
      const uint64_t added = cover.Add(bio.begin, bio.end);
      if (added == 0) continue;  // a later rewrite of sectors matched already
      taken.emplace_back(b, added);
      found |= bio.flags;
      joined = true;
    }
    if (punch && !cover.full()) continue;  // a discard: its bios are not here
    for (const auto& [b, added] : taken) {
      bios[b].unused -= std::min(bios[b].unused, added);
    }
    flags[i] = found;
    while (first_live < bios.size() && bios[first_live].unused == 0) {
      ++first_live;
    }
    if (punch) {
      zero_write[i] = true;
      ++r.punches_as_zeroes;
      max_zero_bytes = std::max(
          max_zero_bytes,
          op.num_sectors * raw.devices()[op.device].sector_size);
      continue;
    }
    if (joined) {
      ++r.writes_joined;
    } else {
      ++r.writes_unjoined;
    }
    if (flags[i] & kPreflush) ++r.preflush;
    if (flags[i] & kFua) ++r.fua;
    if (flags[i] & kMeta) ++r.meta;
    if (flags[i] & kSync) ++r.sync;
  }
  for (const Bio& bio : bios) {
    if (bio.unused == bio.end - bio.begin) ++r.bios_unused;
  }

  // Where each FUA write completes: before the completion event of the
  // first flush submitted after the write's own completion.
  const std::vector<Event>& ev = raw.events();
  std::vector<std::vector<uint32_t>> moved_before(ev.size() + 1);
  std::vector<bool> drop_complete(ops.size(), false);
  {
    std::vector<uint32_t> flush_after(ev.size() + 1, UINT32_MAX);
    uint32_t next = UINT32_MAX;  // first flush submitted at or after event k
    for (size_t k = ev.size(); k-- > 0;) {
      if (ev[k].kind == EventKind::kSubmit &&
          ops[ev[k].op].kind == OpKind::kFlush) {
        next = ev[k].op;
      }
      flush_after[k] = next;
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      if ((flags[i] & kFua) == 0) continue;
      const uint32_t done = raw.complete_event(i);
      if (done >= ev.size()) continue;  // never completed anyway
      drop_complete[i] = true;
      const uint32_t flush = flush_after[done];
      if (flush == UINT32_MAX || raw.complete_event(flush) >= ev.size()) {
        ++r.fua_in_flight;
        continue;
      }
      moved_before[raw.complete_event(flush)].push_back(i);
    }
  }

  TraceBuilder builder(raw.format(), raw.path());
  // One buffer of zeroes serves every punch turned into a write.
  const absl::string_view zeroes =
      max_zero_bytes > 0 ? builder.Own(std::string(max_zero_bytes, '\0'))
                         : absl::string_view();
  for (const Device& d : raw.devices()) {
    ASSIGN_OR_RETURN(uint32_t unused, builder.AddDevice(d));
    (void)unused;
  }
  std::vector<uint32_t> new_index(ops.size(), UINT32_MAX);
  for (size_t k = 0; k < ev.size(); ++k) {
    for (uint32_t i : moved_before[k]) {
      RETURN_IF_ERROR(builder.Complete(new_index[i], raw.complete_status(i),
                                       ev[raw.complete_event(i)].source_entry));
    }
    const Event& e = ev[k];
    switch (e.kind) {
      case EventKind::kSubmit: {
        Op op = ops[e.op];
        op.flags |= flags[e.op];
        if (zero_write[e.op]) {
          op.kind = OpKind::kWrite;
          op.data = zeroes.substr(
              0, op.num_sectors * raw.devices()[op.device].sector_size);
        }
        ASSIGN_OR_RETURN(new_index[e.op], builder.Submit(op, e.source_entry));
        break;
      }
      case EventKind::kComplete:
        if (drop_complete[e.op]) break;
        RETURN_IF_ERROR(
            builder.Complete(new_index[e.op], e.status, e.source_entry));
        break;
      case EventKind::kMark:
        builder.AddMark(raw.marks()[e.mark].label, e.source_entry);
        break;
    }
  }
  if (report != nullptr) *report = r;
  return std::move(builder).Build();
}

}  // namespace internal_record
}  // namespace crashenum
