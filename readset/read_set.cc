#include "readset/read_set.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace crashenum {
namespace {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

// The union of two sets of sorted, disjoint, non-adjacent ranges.
Ranges Union(const Ranges& a, const Ranges& b) {
  Ranges all;
  all.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(all));
  Ranges out;
  for (const auto& r : all) {
    if (!out.empty() && r.first <= out.back().second) {
      out.back().second = std::max(out.back().second, r.second);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

// The parts of `a` that `b` does not hold.
Ranges Minus(const Ranges& a, const Ranges& b) {
  Ranges out;
  size_t k = 0;
  for (auto [begin, end] : a) {
    while (k < b.size() && b[k].second <= begin) k++;
    uint64_t cur = begin;
    for (size_t j = k; j < b.size() && b[j].first < end; j++) {
      if (b[j].first > cur) out.push_back({cur, b[j].first});
      cur = std::max(cur, b[j].second);
      if (cur >= end) break;
    }
    if (cur < end) out.push_back({cur, end});
  }
  return out;
}

// One process's record (docs/READSET.md).
struct Record {
  std::string name;
  uint64_t pid = 0;
  uint64_t start = 0;
  std::optional<uint64_t> end;  // absent: the process did not finish
  bool unknown = false;
  std::vector<Ranges> reads, writes;
};

absl::Status LineError(const std::string& path, int line,
                       absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("read-set record ", path, ":", line, ": ", what));
}

absl::StatusOr<Record> ParseRecord(const std::string& path, size_t num_files) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read read-set record ",
                                            path, ": ", std::strerror(errno)));
  }
  const std::string text = buf.str();
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  // The shim writes "end <time>" last: a record without it, as its last
  // line, was cut short (its process did not finish) and only its header
  // is read.
  lines.pop_back();  // what follows the last '\n'
  const bool complete = !text.empty() && text.back() == '\n' &&
                        absl::StartsWith(lines.back(), "end ");
  if (!complete && lines.size() > 4) lines.resize(4);

  Record rec;
  rec.name = path;
  rec.reads.resize(num_files);
  rec.writes.resize(num_files);
  const char* const kHeader[] = {"crashenum-readset", "files", "pid", "start"};
  int line = 0;
  for (absl::string_view text_line : lines) {
    line++;
    std::vector<absl::string_view> f = absl::StrSplit(text_line, ' ');
    std::vector<uint64_t> n(f.size(), 0);
    for (size_t i = 1; i < f.size(); i++) {
      if (f[i].empty() || !absl::ascii_isdigit(f[i][0]) ||
          !absl::SimpleAtoi(f[i], &n[i])) {
        return LineError(path, line,
                         absl::StrCat("not a number: '", f[i], "'"));
      }
    }
    if (line <= 4) {
      if (f.size() != 2 || f[0] != kHeader[line - 1]) {
        return LineError(path, line,
                         absl::StrCat("expected '", kHeader[line - 1],
                                      " <number>', got '", text_line, "'"));
      }
      if (line == 1 && n[1] != 1) {
        return LineError(path, line,
                         absl::StrCat("unsupported version ", n[1]));
      }
      if (line == 2 && n[1] != num_files) {
        return LineError(path, line,
                         absl::StrCat("the record watched ", n[1],
                                      " files, expected ", num_files));
      }
      if (line == 3) rec.pid = n[1];
      if (line == 4) rec.start = n[1];
      continue;
    }
    if (f[0] == "end" && f.size() == 2 &&
        line == static_cast<int>(lines.size())) {
      if (n[1] < rec.start) return LineError(path, line, "end before start");
      rec.end = n[1];
    } else if (f[0] == "u" && f.size() == 2) {
      if (n[1] >= num_files) {
        return LineError(path, line, absl::StrCat("no file ", n[1]));
      }
      rec.unknown = true;
    } else if ((f[0] == "r" || f[0] == "w") && f.size() == 4) {
      if (n[1] >= num_files) {
        return LineError(path, line, absl::StrCat("no file ", n[1]));
      }
      if (n[2] >= n[3]) return LineError(path, line, "empty range");
      Ranges& ranges = (f[0] == "r" ? rec.reads : rec.writes)[n[1]];
      if (!ranges.empty() && n[2] <= ranges.back().second) {
        return LineError(path, line,
                         "range not after the previous one of its file");
      }
      ranges.push_back({n[2], n[3]});
    } else {
      return LineError(path, line,
                       absl::StrCat("unknown line '", text_line, "'"));
    }
  }
  if (line < 4) return LineError(path, line + 1, "record ends in its header");
  return rec;
}

// The paths of the records in `dir`.
absl::StatusOr<std::vector<std::string>> ListRecords(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot read directory ", dir, ": ",
                                            std::strerror(errno)));
  }
  std::vector<std::string> paths;
  while (const dirent* e = readdir(d.get())) {
    absl::string_view name = e->d_name;
    if (absl::StartsWith(name, ".") || !absl::EndsWith(name, ".rs")) continue;
    paths.push_back(absl::StrCat(dir, "/", name));
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string Absolute(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

}  // namespace

absl::StatusOr<ReadSet> LoadReadSet(const std::string& out_dir,
                                    size_t num_files) {
  absl::StatusOr<std::vector<std::string>> paths = ListRecords(out_dir);
  if (!paths.ok()) return paths.status();
  std::vector<Record> records;
  for (const std::string& name : *paths) {
    absl::StatusOr<Record> rec = ParseRecord(name, num_files);
    if (!rec.ok()) return rec.status();
    records.push_back(*std::move(rec));
  }
  auto by_start = [](const Record& a, const Record& b) {
    return std::tie(a.start, a.pid, a.name) < std::tie(b.start, b.pid, b.name);
  };
  std::sort(records.begin(), records.end(), by_start);
  // Finished records by the time they ended.
  std::vector<const Record*> by_end;
  for (const Record& r : records) {
    if (r.end.has_value()) by_end.push_back(&r);
  }
  std::sort(by_end.begin(), by_end.end(),
            [](const Record* a, const Record* b) { return *a->end < *b->end; });

  ReadSet rs;
  rs.read.resize(num_files);
  std::vector<Ranges> written_before(num_files);
  size_t ended = 0;
  for (const Record& r : records) {
    // Writes of processes that ended before this one started.
    while (ended < by_end.size() && *by_end[ended]->end < r.start) {
      for (size_t f = 0; f < num_files; f++) {
        written_before[f] = Union(written_before[f], by_end[ended]->writes[f]);
      }
      ended++;
    }
    if (r.unknown || !r.end.has_value()) rs.whole = true;
    for (size_t f = 0; f < num_files; f++) {
      rs.read[f] = Union(rs.read[f], Minus(r.reads[f], written_before[f]));
    }
  }
  return rs;
}

std::vector<uint64_t> UnitsOf(const ReadSet& rs, size_t file,
                              uint32_t unit_bytes) {
  std::vector<uint64_t> units;
  for (auto [begin, end] : rs.read[file]) {
    uint64_t first = begin / unit_bytes, last = (end - 1) / unit_bytes;
    if (!units.empty() && units.back() >= first) first = units.back() + 1;
    for (uint64_t u = first; u <= last; u++) units.push_back(u);
  }
  return units;
}

std::vector<std::pair<std::string, std::string>> ShimEnvironment(
    const std::string& shim_path, const std::vector<std::string>& image_paths,
    const std::string& out_dir) {
  std::string preload = Absolute(shim_path);
  const char* existing = std::getenv("LD_PRELOAD");
  if (existing != nullptr && existing[0] != '\0') {
    absl::StrAppend(&preload, ":", existing);
  }
  std::vector<std::string> paths;
  for (const std::string& p : image_paths) paths.push_back(Absolute(p));
  return {{"LD_PRELOAD", preload},
          {"CRASHENUM_READSET_FILES", absl::StrJoin(paths, ":")},
          {"CRASHENUM_READSET_OUT", Absolute(out_dir)}};
}

}  // namespace crashenum
