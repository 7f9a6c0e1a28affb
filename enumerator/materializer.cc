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
  m->current_.resize(trace.devices().size());
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

absl::Status Materializer::Apply(const StateSpace& space, const Resolution& r) {
  const UnitHashes& h = space.hashes();
  auto content = [&](uint32_t op, uint32_t k) -> const char* {
    const char* b = h.bytes(op, k);
    return b == nullptr ? &kZeroTag : b;
  };
  // The units showing something other than the base, per device by unit:
  // the fixed units, then the slots' versions, each sorted and merged. The
  // lists of the last image but one are reused: a long trace's hold millions
  // of units, and allocating them anew for each image scatters the heap.
  std::vector<std::vector<std::pair<uint64_t, const char*>>>& target = spare_;
  target.resize(fds_.size());
  std::vector<size_t> sizes(fds_.size());
  for (const FixedUnit& f : space.fixed()) ++sizes[f.device];
  for (const Slot& slot : space.slots()) ++sizes[slot.device];
  for (size_t d = 0; d < fds_.size(); ++d) {
    target[d].clear();
    target[d].reserve(sizes[d]);
  }
  for (const FixedUnit& f : space.fixed()) {
    if (f.op == UINT32_MAX) continue;
    target[f.device].push_back({f.unit, content(f.op, f.unit_in_op)});
  }
  std::vector<size_t> fixed_end(fds_.size());
  for (size_t d = 0; d < fds_.size(); ++d) fixed_end[d] = target[d].size();
  const auto& slots = space.slots();
  for (size_t s = 0; s < slots.size(); ++s) {
    const int32_t v = r.slot_version[s];
    if (v < 0) continue;
    const Candidate& c = slots[s].candidates[v];
    target[slots[s].device].push_back(
        {slots[s].unit, content(c.op, c.unit_in_op)});
  }
  auto by_unit = [](const auto& a, const auto& b) { return a.first < b.first; };
  last_written_ = 0;
  for (uint32_t d = 0; d < fds_.size(); ++d) {
    auto& t = target[d];
    const auto mid = t.begin() + static_cast<ptrdiff_t>(fixed_end[d]);
    // A space lists both in unit order already.
    if (!std::is_sorted(t.begin(), mid, by_unit))
      std::sort(t.begin(), mid, by_unit);
    if (!std::is_sorted(mid, t.end(), by_unit))
      std::sort(mid, t.end(), by_unit);
    std::inplace_merge(t.begin(), mid, t.end(), by_unit);
    const auto& cur = current_[d];
    size_t i = 0, j = 0;
    while (i < cur.size() || j < t.size()) {
      if (j == t.size() || (i < cur.size() && cur[i].first < t[j].first)) {
        RETURN_IF_ERROR(WriteUnit(d, cur[i++].first, nullptr));  // back to base
      } else if (i == cur.size() || t[j].first < cur[i].first) {
        RETURN_IF_ERROR(WriteUnit(d, t[j].first, t[j].second));
        ++j;
      } else {
        if (cur[i].second != t[j].second) {
          RETURN_IF_ERROR(WriteUnit(d, t[j].first, t[j].second));
        }
        ++i;
        ++j;
      }
    }
    std::swap(current_[d], t);
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
