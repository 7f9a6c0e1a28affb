#include "enumerator/materializer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/sparse_file.h"
#include "core/status_macros.h"

namespace crashenum {
namespace {

// Content tag for units a discard zeroed.
const char kZeroTag = 0;

absl::Status IoError(int err, absl::string_view what, absl::string_view path) {
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    return absl::ResourceExhaustedError(msg);
  }
  return absl::InternalError(msg);
}

absl::Status WriteAll(int fd, const char* p, size_t n, uint64_t off,
                      absl::string_view path) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError(errno, "cannot write", path);
    }
    if (w == 0) return IoError(ENOSPC, "cannot write", path);
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Materializer>> Materializer::Create(
    const UnitHashes& hashes, std::vector<std::string> paths) {
  const Trace& trace = hashes.trace();
  if (paths.size() != trace.devices().size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(paths.size(), " image paths for ",
                     trace.devices().size(), " devices"));
  }
  std::unique_ptr<Materializer> m(new Materializer(hashes, std::move(paths)));
  uint32_t max_unit = 0;
  for (uint32_t d = 0; d < trace.devices().size(); ++d) {
    max_unit = std::max(max_unit, hashes.unit_bytes(d));
  }
  m->zeros_.assign(max_unit, '\0');
  for (uint32_t d = 0; d < trace.devices().size(); ++d) {
    const Device& dev = trace.devices()[d];
    const std::string& path = m->paths_[d];
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return IoError(errno, "cannot create image", path);
    m->fds_.push_back(fd);
    const uint64_t size = dev.num_sectors * dev.sector_size;
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      return IoError(errno, "cannot size image", path);
    }
    // Base content: copy its non-zero blocks so the file stays sparse.
    constexpr size_t kBlock = 64 * 1024;
    for (uint64_t off = 0; off < dev.base.size() && off < size; off += kBlock) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, size - off));
      absl::string_view chunk = dev.base.substr(off, n);
      if (chunk.find_first_not_of('\0') == absl::string_view::npos) continue;
      RETURN_IF_ERROR(WriteAll(fd, chunk.data(), chunk.size(), off, path));
    }
  }
  return m;
}

Materializer::~Materializer() {
  for (int fd : fds_) ::close(fd);
}

absl::Status Materializer::WriteUnit(uint32_t device, uint64_t unit,
                                     const char* content) {
  const uint32_t ub = hashes_.unit_bytes(device);
  const uint64_t off = unit * ub;
  if (content == nullptr) {  // base
    const Device& dev = hashes_.trace().devices()[device];
    content = dev.base.empty() ? zeros_.data() : dev.base.data() + off;
  } else if (content == &kZeroTag) {
    content = zeros_.data();
  }
  ++last_written_;
  released_after_ += ub;
  return WriteAll(fds_[device], content, ub, off, paths_[device]);
}

namespace {

// What op `op` gives its unit `k`, as WriteUnit takes it: the trace's
// bytes, or kZeroTag for the zeroes of a discard. Equal for equal versions.
const char* Content(const UnitHashes& h, uint32_t op, uint32_t k) {
  const char* b = h.bytes(op, k);
  return b == nullptr ? &kZeroTag : b;
}

// The units a state shows other than the base content, in global unit order
// (by device, then unit): the space's fixed units and its slots' persisted
// versions, merged. Empty for a null space (the base image).
class StateUnits {
 public:
  StateUnits(const StateSpace* space, const std::vector<int32_t>* versions)
      : space_(space), versions_(versions) {
    if (space_ != nullptr) Settle();
  }
  bool done() const { return space_ == nullptr || key_ == kEnd; }
  uint64_t key() const { return key_; }  // UnitHashes::GlobalUnit
  const char* content() const { return content_; }
  void Next() {
    if (from_fixed_) {
      ++f_;
    } else {
      ++s_;
    }
    Settle();
  }

 private:
  static constexpr uint64_t kEnd = UINT64_MAX;
  // Skips what shows the base content, then picks the lower of the two
  // lists' next units.
  void Settle() {
    const std::vector<FixedUnit>& fixed = space_->fixed();
    const std::vector<Slot>& slots = space_->slots();
    while (f_ < fixed.size() && fixed[f_].op == UINT32_MAX) ++f_;
    while (s_ < slots.size() && (*versions_)[s_] < 0) ++s_;
    const uint64_t fk =
        f_ < fixed.size()
            ? UnitHashes::GlobalUnit(fixed[f_].device, fixed[f_].unit)
            : kEnd;
    const uint64_t sk =
        s_ < slots.size()
            ? UnitHashes::GlobalUnit(slots[s_].device, slots[s_].unit)
            : kEnd;
    from_fixed_ = fk < sk;
    key_ = std::min(fk, sk);
    if (key_ == kEnd) return;
    if (from_fixed_) {
      content_ = Content(space_->hashes(), fixed[f_].op, fixed[f_].unit_in_op);
    } else {
      const Candidate& c = slots[s_].candidates[(*versions_)[s_]];
      content_ = Content(space_->hashes(), c.op, c.unit_in_op);
    }
  }

  const StateSpace* space_;
  const std::vector<int32_t>* versions_;
  size_t f_ = 0, s_ = 0;
  bool from_fixed_ = false;
  uint64_t key_ = kEnd;
  const char* content_ = nullptr;
};

}  // namespace

absl::Status Materializer::Apply(const StateSpace& space, const Resolution& r) {
  return Apply(std::shared_ptr<const StateSpace>(
                   std::shared_ptr<const StateSpace>(), &space),
               r);
}

absl::Status Materializer::Apply(std::shared_ptr<const StateSpace> space,
                                 const Resolution& r) {
  if (broken_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the images in ", paths_.front(),
                     " are in an unknown state after an earlier write failed"));
  }
  if (r.slot_version.size() != space->slots().size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a resolution of ", r.slot_version.size(),
                     " slots for a space of ", space->slots().size()));
  }
  absl::Status s = Write(*space, r);
  if (!s.ok()) {
    broken_ = true;
    return s;
  }
  space_ = std::move(space);
  versions_ = r.slot_version;
  return absl::OkStatus();
}

absl::Status Materializer::Write(const StateSpace& space, const Resolution& r) {
  const std::vector<Slot>& slots = space.slots();
  const UnitHashes& h = space.hashes();
  last_written_ = 0;
  auto write = [&](uint64_t key, const char* content) {
    return WriteUnit(static_cast<uint32_t>(key >> 44),
                     key & ((uint64_t{1} << 44) - 1), content);
  };
  if (space_.get() == &space) {
    // The same fixed units: only slots whose content changed.
    for (size_t s = 0; s < slots.size(); ++s) {
      const int32_t was = versions_[s], now = r.slot_version[s];
      if (was == now) continue;
      const Slot& slot = slots[s];
      const char* before = was < 0 ? nullptr
                                   : Content(h, slot.candidates[was].op,
                                             slot.candidates[was].unit_in_op);
      const char* after = now < 0 ? nullptr
                                  : Content(h, slot.candidates[now].op,
                                            slot.candidates[now].unit_in_op);
      if (before == after) continue;
      RETURN_IF_ERROR(write(UnitHashes::GlobalUnit(slot.device, slot.unit),
                            after));  // nullptr: back to base
    }
  } else {
    // Both states' units in unit order: write what differs.
    StateUnits old_units(space_.get(), &versions_);
    StateUnits new_units(&space, &r.slot_version);
    // Steps past the new state's unit, which must precede the next one.
    auto next_new = [&]() -> absl::Status {
      const uint64_t was = new_units.key();
      new_units.Next();
      if (!new_units.done() && new_units.key() <= was) {
        return absl::InternalError(
            absl::StrCat("the space of e", space.event(),
                         " does not list its units in order (global unit ",
                         new_units.key(), " after ", was, ")"));
      }
      return absl::OkStatus();
    };
    while (!old_units.done() || !new_units.done()) {
      const uint64_t ok = old_units.done() ? UINT64_MAX : old_units.key();
      const uint64_t nk = new_units.done() ? UINT64_MAX : new_units.key();
      if (ok < nk) {
        RETURN_IF_ERROR(write(ok, nullptr));  // back to base
        old_units.Next();
      } else if (nk < ok) {
        RETURN_IF_ERROR(write(nk, new_units.content()));
        RETURN_IF_ERROR(next_new());
      } else {
        if (old_units.content() != new_units.content()) {
          RETURN_IF_ERROR(write(nk, new_units.content()));
        }
        old_units.Next();
        RETURN_IF_ERROR(next_new());
      }
    }
  }
  // The units were written from the trace's mapped data: let those pages go
  // from time to time, or a long trace's data ends up resident here.
  if (released_after_ >= Trace::kReleaseBytes) {
    h.trace().ReleaseDataPages();
    released_after_ = 0;
  }
  return absl::OkStatus();
}

absl::Status Materializer::CopyTo(const std::vector<std::string>& out) const {
  if (out.size() != fds_.size()) {
    return absl::InvalidArgumentError("CopyTo: wrong number of paths");
  }
  for (size_t d = 0; d < fds_.size(); ++d) {
    RETURN_IF_ERROR(CopySparse(fds_[d], paths_[d], out[d]));
  }
  return absl::OkStatus();
}

absl::Status MaterializeState(const StateSpace& space, const Resolution& r,
                              const std::vector<std::string>& paths) {
  ASSIGN_OR_RETURN(std::unique_ptr<Materializer> m,
                   Materializer::Create(space.hashes(), paths));
  return m->Apply(space, r);
}

}  // namespace crashenum
