#include "traces/internal/block_events_test_util.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "traces/internal/little_endian.h"

namespace crashenum {
namespace internal_traces {
namespace {

constexpr char kRelative[] = "shared/testdata/blktrace";
// Data files of the test (see the BUILD rule) that live in the repository.
constexpr char kAnchor[] = "tests/testdata/ext4-append-rename.log";

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string RealPath(const std::string& path) {
  char buffer[PATH_MAX];
  return ::realpath(path.c_str(), buffer) != nullptr ? std::string(buffer)
                                                     : std::string();
}

// Walks up from `start` looking for kRelative beside an ancestor.
std::string WalkUp(std::string dir) {
  while (!dir.empty()) {
    const std::string candidate = absl::StrCat(dir, "/", kRelative);
    if (IsDir(candidate)) return candidate;
    const size_t slash = dir.rfind('/');
    if (slash == std::string::npos) break;
    dir = dir.substr(0, slash);
  }
  return "";
}

template <typename T>
void Append(T value, bool big_endian, std::string* out) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    const size_t shift = big_endian ? 8 * (sizeof(T) - 1 - i) : 8 * i;
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void Reverse(std::string* bytes, size_t offset, size_t size) {
  for (size_t i = 0; i < size / 2; ++i) {
    std::swap((*bytes)[offset + i], (*bytes)[offset + size - 1 - i]);
  }
}

}  // namespace

std::string SharedBlktraceDir(std::string* looked_for) {
  std::vector<std::string> looked;
  if (const char* shared = std::getenv("TEST_SHARED_DIR");
      shared != nullptr && *shared != '\0') {
    const std::string dir = absl::StrCat(shared, "/testdata/blktrace");
    if (IsDir(dir)) return dir;
    looked.push_back(dir);
  }
  for (const std::string& start : {RealPath(kAnchor), RealPath(".")}) {
    if (start.empty()) continue;
    const std::string found = WalkUp(start);
    if (!found.empty()) return found;
    looked.push_back(absl::StrCat(kRelative, " beside an ancestor of ", start));
  }
  if (looked_for != nullptr) {
    *looked_for = looked.empty() ? std::string(kRelative) : looked[0];
    for (size_t i = 1; i < looked.size(); ++i) {
      absl::StrAppend(looked_for, "; ", looked[i]);
    }
  }
  return "";
}

std::string EncodeBlkRecord(const RawBlkRecord& r, bool big_endian) {
  std::string out;
  Append<uint32_t>(0x65617400u | r.version, big_endian, &out);
  Append<uint32_t>(r.sequence, big_endian, &out);
  Append<uint64_t>(r.time_ns, big_endian, &out);
  Append<uint64_t>(r.sector, big_endian, &out);
  Append<uint32_t>(r.bytes, big_endian, &out);
  Append<uint32_t>(r.action, big_endian, &out);
  Append<uint32_t>(r.pid, big_endian, &out);
  Append<uint32_t>(r.device, big_endian, &out);
  Append<uint32_t>(r.cpu, big_endian, &out);
  Append<uint16_t>(r.error, big_endian, &out);
  Append<uint16_t>(
      static_cast<uint16_t>(r.pdu_len >= 0 ? r.pdu_len : r.pdu.size()),
      big_endian, &out);
  out += r.pdu;
  return out;
}

std::string RemapPdu(uint32_t from_dev, uint32_t to_dev, uint64_t from_sector) {
  std::string out;
  Append<uint32_t>(from_dev, true, &out);
  Append<uint32_t>(to_dev, true, &out);
  Append<uint64_t>(from_sector, true, &out);
  return out;
}

std::vector<std::string> SplitBlkRecords(absl::string_view file) {
  std::vector<std::string> records;
  size_t offset = 0;
  while (offset + 48 <= file.size()) {
    const size_t size = 48 + LoadLittleEndian<uint16_t>(file, offset + 46);
    records.emplace_back(file.substr(offset, size));
    offset += size;
  }
  return records;
}

std::string ByteSwapBlkFile(absl::string_view file) {
  // Header field sizes in order: magic, sequence, time, sector, bytes,
  // action, pid, device, cpu, error, pdu_len.
  static constexpr size_t kSizes[] = {4, 4, 8, 8, 4, 4, 4, 4, 4, 2, 2};
  std::string out;
  for (std::string record : SplitBlkRecords(file)) {
    size_t at = 0;
    for (size_t size : kSizes) {
      Reverse(&record, at, size);
      at += size;
    }
    out += record;
  }
  return out;
}

uint32_t GetBlkField32(absl::string_view record, size_t offset) {
  return LoadLittleEndian<uint32_t>(record, offset);
}

void SetBlkField32(std::string* record, size_t offset, uint32_t value) {
  StoreLittleEndian<uint32_t>(value, offset, record);
}

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr ? base : "/tmp", "/blkXXXXXX");
  if (::mkdtemp(&pattern[0]) == nullptr) {
    std::fprintf(stderr, "cannot create a directory from %s\n",
                 pattern.c_str());
    std::abort();
  }
  return pattern;
}

}  // namespace internal_traces
}  // namespace crashenum
