#include "enumerator/materializer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  return WriteAll(fds_[device], content, ub, off, paths_[device]);
}

absl::Status Materializer::Apply(const StateSpace& space, const Resolution& r) {
  const UnitHashes& h = space.hashes();
  std::vector<absl::flat_hash_map<uint64_t, const char*>> target(fds_.size());
  auto content = [&](uint32_t op, uint32_t k) -> const char* {
    const char* b = h.bytes(op, k);
    return b == nullptr ? &kZeroTag : b;
  };
  for (const FixedUnit& f : space.fixed()) {
    if (f.op == UINT32_MAX) continue;
    target[f.device][f.unit] = content(f.op, f.unit_in_op);
  }
  const auto& slots = space.slots();
  for (size_t s = 0; s < slots.size(); ++s) {
    const int32_t v = r.slot_version[s];
    if (v < 0) continue;
    const Candidate& c = slots[s].candidates[v];
    target[slots[s].device][slots[s].unit] = content(c.op, c.unit_in_op);
  }
  last_written_ = 0;
  for (uint32_t d = 0; d < fds_.size(); ++d) {
    for (const auto& [unit, cur] : current_[d]) {
      if (!target[d].contains(unit)) {
        RETURN_IF_ERROR(WriteUnit(d, unit, nullptr));
      }
    }
    for (const auto& [unit, want] : target[d]) {
      auto it = current_[d].find(unit);
      if (it != current_[d].end() && it->second == want) continue;
      RETURN_IF_ERROR(WriteUnit(d, unit, want));
    }
    current_[d] = std::move(target[d]);
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
