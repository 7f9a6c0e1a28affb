// Text helpers shared by the built-in oracles: quoting commands and turning a
// tool's output into a short, stable verdict message.
#ifndef CRASHENUM_ORACLES_INTERNAL_ORACLE_TEXT_H_
#define CRASHENUM_ORACLES_INTERNAL_ORACLE_TEXT_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace crashenum {
namespace internal_oracles {

// `text` as one /bin/sh word: single-quoted, with each ' written as '\''.
std::string ShellQuote(absl::string_view text);

// `text` with every occurrence of each `replacements[i].first` (non-empty)
// replaced by `.second`; longer strings take precedence over their prefixes.
// Oracles use it to show "{image}" instead of a per-run scratch path, so that
// a message depends only on the image.
std::string ScrubPaths(
    absl::string_view text,
    std::vector<std::pair<std::string, std::string>> replacements);

// The last `max_lines` non-blank lines of `text`, joined by '\n', trimmed of
// trailing whitespace and cut to at most about `max_bytes` (from the end).
std::string LastLines(absl::string_view text, size_t max_lines,
                      size_t max_bytes);

// `line` cut to `max_bytes`, with "..." appended when cut.
std::string CapLine(absl::string_view line, size_t max_bytes);

// "what" when `detail` is empty, else "what: detail".
std::string WithDetail(absl::string_view what, absl::string_view detail);

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_ORACLE_TEXT_H_
