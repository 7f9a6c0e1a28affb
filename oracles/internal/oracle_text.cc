#include "oracles/internal/oracle_text.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace crashenum {
namespace internal_oracles {

std::string ShellQuote(absl::string_view text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

std::string ScrubPaths(
    absl::string_view text,
    std::vector<std::pair<std::string, std::string>> replacements) {
  replacements.erase(
      std::remove_if(replacements.begin(), replacements.end(),
                     [](const auto& r) { return r.first.empty(); }),
      replacements.end());
  std::stable_sort(replacements.begin(), replacements.end(),
                   [](const auto& a, const auto& b) {
                     return a.first.size() > b.first.size();
                   });
  return absl::StrReplaceAll(text, replacements);
}

std::string LastLines(absl::string_view text, size_t max_lines,
                      size_t max_bytes) {
  std::vector<absl::string_view> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (!line.empty()) lines.push_back(line);
  }
  size_t first = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string joined = absl::StrJoin(lines.begin() + first, lines.end(), "\n");
  if (joined.size() <= max_bytes) return joined;
  return absl::StrCat("...", joined.substr(joined.size() - max_bytes));
}

std::string CapLine(absl::string_view line, size_t max_bytes) {
  if (line.size() <= max_bytes) return std::string(line);
  return absl::StrCat(line.substr(0, max_bytes), "...");
}

std::string WithDetail(absl::string_view what, absl::string_view detail) {
  if (detail.empty()) return std::string(what);
  return absl::StrCat(what, ": ", detail);
}

}  // namespace internal_oracles
}  // namespace crashenum
