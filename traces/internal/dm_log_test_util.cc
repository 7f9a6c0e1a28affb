#include "traces/internal/dm_log_test_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace crashenum {
namespace internal_traces {

uint64_t RawDmLog::Entry(uint64_t sector, uint64_t nr_sectors, uint64_t flags,
                         uint64_t data_len, absl::string_view header_tail,
                         absl::string_view data) {
  const uint64_t offset = sectorsize_ + body_.size();
  std::string header(sectorsize_, '\0');
  StoreLittleEndian<uint64_t>(sector, kEntrySectorOffset, &header);
  StoreLittleEndian<uint64_t>(nr_sectors, kEntryNrSectorsOffset, &header);
  StoreLittleEndian<uint64_t>(flags, kEntryFlagsOffset, &header);
  StoreLittleEndian<uint64_t>(data_len, kEntryDataLenOffset, &header);
  header_tail = header_tail.substr(
      0, std::min<size_t>(header_tail.size(), sectorsize_ - kEntryTextOffset));
  header.replace(kEntryTextOffset, header_tail.size(), header_tail.data(),
                 header_tail.size());
  body_ += header;
  body_.append(data.data(), data.size());
  ++entries_;
  return offset;
}

std::string PatternData(absl::string_view pattern, uint64_t nr_sectors,
                        uint32_t ss) {
  std::string data;
  const uint64_t size = nr_sectors * ss;
  data.reserve(size);
  while (data.size() < size) {
    data.append(pattern.data(),
                std::min<size_t>(pattern.size(), size - data.size()));
  }
  return data;
}

uint64_t RawDmLog::Write(uint64_t sector, uint64_t nr_sectors, uint64_t flags,
                         absl::string_view pattern) {
  return Entry(sector, nr_sectors, flags, 0, {},
               PatternData(pattern, nr_sectors, sectorsize_));
}

uint64_t RawDmLog::Discard(uint64_t sector, uint64_t nr_sectors) {
  return Entry(sector, nr_sectors, kDmLogDiscard, 0);
}

uint64_t RawDmLog::Flush(uint64_t extra_flags) {
  return Entry(0, 0, kDmLogFlush | extra_flags, 0);
}

uint64_t RawDmLog::Mark(absl::string_view text) {
  return Entry(0, 0, kDmLogMark, text.size(), text);
}

std::string RawDmLog::Bytes() const {
  std::string super(sectorsize_, '\0');
  StoreLittleEndian<uint64_t>(magic_, kSuperMagicOffset, &super);
  StoreLittleEndian<uint64_t>(version_, kSuperVersionOffset, &super);
  StoreLittleEndian<uint64_t>(has_nr_entries_ ? nr_entries_ : entries_,
                              kSuperNrEntriesOffset, &super);
  StoreLittleEndian<uint32_t>(
      has_super_sectorsize_ ? super_sectorsize_ : sectorsize_,
      kSuperSectorsizeOffset, &super);
  StoreLittleEndian<uint32_t>(super_padding_, kSuperFieldsSize, &super);
  return super + body_ + tail_;
}

std::string TempPath(absl::string_view name) {
  static std::atomic<int> counter{0};
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", ::getpid(), "-",
                      counter++, "-", name);
}

void WriteFileOrDie(const std::string& path, absl::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr ||
      std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() ||
      std::fclose(f) != 0) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
}

std::string ReadFileOrDie(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::string bytes;
  char buffer[65536];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) {
    bytes.append(buffer, n);
  }
  std::fclose(f);
  return bytes;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool TempFilesLeft(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string prefix =
      (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(d)) {
    if (absl::StartsWith(entry->d_name, prefix)) found = true;
  }
  ::closedir(d);
  return found;
}

std::string TraceDifference(const Trace& a, const Trace& b,
                            bool source_entries) {
  if (a.devices().size() != b.devices().size()) return "device count";
  for (size_t i = 0; i < a.devices().size(); ++i) {
    const Device& x = a.devices()[i];
    const Device& y = b.devices()[i];
    if (x.name != y.name || x.sector_size != y.sector_size ||
        x.num_sectors != y.num_sectors || x.base != y.base) {
      return absl::StrCat("device ", i);
    }
  }
  if (a.ops().size() != b.ops().size()) {
    return absl::StrCat("op count ", a.ops().size(), " vs ", b.ops().size());
  }
  for (size_t i = 0; i < a.ops().size(); ++i) {
    const Op& x = a.ops()[i];
    const Op& y = b.ops()[i];
    if (x.kind != y.kind || x.device != y.device || x.sector != y.sector ||
        x.num_sectors != y.num_sectors || x.flags != y.flags ||
        x.data != y.data ||
        (source_entries && x.source_entry != y.source_entry)) {
      return absl::StrCat("op ", i);
    }
  }
  if (a.events().size() != b.events().size()) {
    return absl::StrCat("event count ", a.events().size(), " vs ",
                        b.events().size());
  }
  for (size_t i = 0; i < a.events().size(); ++i) {
    const Event& x = a.events()[i];
    const Event& y = b.events()[i];
    if (x.kind != y.kind || x.op != y.op || x.status != y.status ||
        x.mark != y.mark ||
        (source_entries && x.source_entry != y.source_entry)) {
      return absl::StrCat("event ", i);
    }
  }
  if (a.marks().size() != b.marks().size()) return "mark count";
  for (size_t i = 0; i < a.marks().size(); ++i) {
    if (a.marks()[i].label != b.marks()[i].label ||
        a.marks()[i].event != b.marks()[i].event) {
      return absl::StrCat("mark ", i);
    }
  }
  return "";
}

FileSizeLimit::FileSizeLimit(uint64_t bytes) {
  getrlimit(RLIMIT_FSIZE, &saved_);
  old_handler_ = signal(SIGXFSZ, SIG_IGN);
  rlimit limit = saved_;
  limit.rlim_cur = bytes;
  ok_ = setrlimit(RLIMIT_FSIZE, &limit) == 0;
}

FileSizeLimit::~FileSizeLimit() {
  setrlimit(RLIMIT_FSIZE, &saved_);
  signal(SIGXFSZ, old_handler_);
}

}  // namespace internal_traces
}  // namespace crashenum
