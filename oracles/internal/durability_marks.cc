#include "oracles/internal/durability_marks.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"

namespace crashenum {
namespace internal_oracles {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Splits a label into words; quoted words are unquoted.
absl::StatusOr<std::vector<std::string>> SplitWords(absl::string_view label) {
  std::vector<std::string> words;
  size_t pos = 0;
  while (true) {
    while (pos < label.size() && IsBlank(label[pos])) ++pos;
    if (pos == label.size()) return words;
    std::string word;
    if (label[pos] == '"') {
      const size_t open = pos++;
      bool closed = false;
      while (pos < label.size() && !closed) {
        const char c = label[pos++];
        if (c == '"') {
          closed = true;
        } else if (c == '\\') {
          if (pos == label.size() || (label[pos] != '"' && label[pos] != '\\')) {
            return absl::InvalidArgumentError(absl::StrCat(
                "bad escape at offset ", pos - 1,
                " (only \\\" and \\\\ are escapes in a quoted path)"));
          }
          word += label[pos++];
        } else {
          word += c;
        }
      }
      if (!closed) {
        return absl::InvalidArgumentError(
            absl::StrCat("unterminated quote at offset ", open));
      }
      if (pos < label.size() && !IsBlank(label[pos])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a closing quote must end its word (offset ", pos - 1, ")"));
      }
    } else {
      const size_t start = pos;
      while (pos < label.size() && !IsBlank(label[pos])) {
        if (label[pos] == '"' || label[pos] == '\\') {
          return absl::InvalidArgumentError(absl::StrCat(
              "'", std::string(1, label[pos]), "' at offset ", pos,
              " in an unquoted word (quote the path: \"a\\\"b\")"));
        }
        ++pos;
      }
      word = std::string(label.substr(start, pos - start));
    }
    words.push_back(std::move(word));
  }
}

bool IsSha256(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

// `path` is `ancestor` or below it.
bool AtOrBelow(absl::string_view path, absl::string_view ancestor) {
  return path == ancestor ||
         (path.size() > ancestor.size() && absl::StartsWith(path, ancestor) &&
          path[ancestor.size()] == '/');
}

// The range of entries strictly below `path`.
std::pair<ExpectedState::iterator, ExpectedState::iterator> Below(
    ExpectedState& state, const std::string& path) {
  const std::string prefix = path + "/";
  auto first = state.lower_bound(prefix);
  auto last = first;
  while (last != state.end() && absl::StartsWith(last->first, prefix)) ++last;
  return {first, last};
}

void EraseBelow(ExpectedState& state, const std::string& path) {
  auto [first, last] = Below(state, path);
  state.erase(first, last);
}

void EraseAtAndBelow(ExpectedState& state, const std::string& path) {
  EraseBelow(state, path);
  state.erase(path);
}

// `path` exists: its ancestors are directories, whatever was said before.
void ClearAncestors(ExpectedState& state, const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    auto it = state.find(path.substr(0, slash));
    if (it != state.end() && (it->second.kind == ExpectedKind::kAbsent ||
                              it->second.kind == ExpectedKind::kFile)) {
      state.erase(it);
    }
  }
}

const char* VerbName(DurabilityVerb verb) {
  switch (verb) {
    case DurabilityVerb::kFsync:
      return "fsync";
    case DurabilityVerb::kRename:
      return "rename";
    case DurabilityVerb::kUnlink:
      return "unlink";
    case DurabilityVerb::kMkdir:
      return "mkdir";
    case DurabilityVerb::kDirty:
      return "dirty";
  }
  return "?";
}

}  // namespace

bool IsDurabilityKeyword(absl::string_view word) {
  return word == "fsync" || word == "rename" || word == "unlink" ||
         word == "mkdir" || word == "dirty";
}

absl::Status ValidateMarkPath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  if (path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("NUL byte in path");
  }
  if (path[0] == '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "path '", path,
        "' starts with '/': paths are relative to the file system root"));
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("path '", path, "' has ",
                       part.empty() ? "an empty" : absl::StrCat("a '", part, "'"),
                       " component"));
    }
  }
  return absl::OkStatus();
}

std::string QuoteMarkPath(absl::string_view path) {
  if (!path.empty() && path.find_first_of(" \t\"\\") == absl::string_view::npos) {
    return std::string(path);
  }
  std::string out = "\"";
  for (char c : path) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string FormatDurabilityMark(const DurabilityMark& mark) {
  std::string label =
      absl::StrCat(VerbName(mark.verb), " ", QuoteMarkPath(mark.path));
  if (mark.verb == DurabilityVerb::kFsync) {
    absl::StrAppend(&label, " ", mark.sha256);
  } else if (mark.verb == DurabilityVerb::kRename) {
    absl::StrAppend(&label, " ", QuoteMarkPath(mark.new_path));
  }
  return label;
}

absl::StatusOr<std::optional<DurabilityMark>> ParseDurabilityMark(
    absl::string_view label) {
  const size_t start = label.find_first_not_of(" \t");
  if (start == absl::string_view::npos) return std::nullopt;
  const size_t end = label.find_first_of(" \t", start);
  const absl::string_view keyword =
      label.substr(start, end == absl::string_view::npos ? end : end - start);
  if (!IsDurabilityKeyword(keyword)) return std::nullopt;

  ASSIGN_OR_RETURN(std::vector<std::string> words, SplitWords(label));
  DurabilityMark mark;
  size_t arity = 1;
  const char* usage = "";
  if (keyword == "fsync") {
    mark.verb = DurabilityVerb::kFsync;
    arity = 2;
    usage = "fsync PATH SHA256";
  } else if (keyword == "rename") {
    mark.verb = DurabilityVerb::kRename;
    arity = 2;
    usage = "rename OLD NEW";
  } else if (keyword == "unlink") {
    mark.verb = DurabilityVerb::kUnlink;
    usage = "unlink PATH";
  } else if (keyword == "mkdir") {
    mark.verb = DurabilityVerb::kMkdir;
    usage = "mkdir PATH";
  } else {
    mark.verb = DurabilityVerb::kDirty;
    usage = "dirty PATH";
  }
  if (words.size() != arity + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected '", usage, "', got ", words.size() - 1,
                     words.size() == 2 ? " argument" : " arguments"));
  }
  mark.path = std::move(words[1]);
  RETURN_IF_ERROR(ValidateMarkPath(mark.path));
  if (mark.verb == DurabilityVerb::kFsync) {
    if (!IsSha256(words[2])) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", words[2],
                       "' is not a SHA-256 (64 lowercase hex digits)"));
    }
    mark.sha256 = std::move(words[2]);
  } else if (mark.verb == DurabilityVerb::kRename) {
    mark.new_path = std::move(words[2]);
    RETURN_IF_ERROR(ValidateMarkPath(mark.new_path));
    if (mark.path == mark.new_path) {
      return absl::InvalidArgumentError(
          absl::StrCat("rename of '", mark.path, "' onto itself"));
    }
    if (AtOrBelow(mark.new_path, mark.path)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rename of '", mark.path, "' into itself ('", mark.new_path, "')"));
    }
    if (AtOrBelow(mark.path, mark.new_path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("rename of '", mark.path, "' onto its ancestor '",
                       mark.new_path, "'"));
    }
  }
  return mark;
}

void ApplyDurabilityMark(const DurabilityMark& mark, ExpectedState& state) {
  const std::string& path = mark.path;
  switch (mark.verb) {
    case DurabilityVerb::kFsync:
      EraseBelow(state, path);
      state[path] = {ExpectedKind::kFile, mark.sha256,
                     absl::StrCat("fsync'd ", path), true};
      ClearAncestors(state, path);
      return;
    case DurabilityVerb::kMkdir:
      state[path] = {ExpectedKind::kDirectory, "", absl::StrCat("mkdir ", path),
                     true};
      ClearAncestors(state, path);
      return;
    case DurabilityVerb::kUnlink:
      EraseAtAndBelow(state, path);
      state[path] = {ExpectedKind::kAbsent, "", absl::StrCat("unlinked ", path),
                     true};
      return;
    case DurabilityVerb::kDirty:
      EraseAtAndBelow(state, path);
      return;
    case DurabilityVerb::kRename: {
      const std::string& to = mark.new_path;
      const std::string because = absl::StrCat("renamed ", path, " -> ", to);
      auto [first, last] = Below(state, path);
      std::vector<std::pair<std::string, Expectation>> moved;
      for (auto it = first; it != last; ++it) {
        Expectation e = it->second;
        e.because_names_path = false;
        moved.emplace_back(to + it->first.substr(path.size()), std::move(e));
      }
      Expectation target{ExpectedKind::kPresent, "", because, false};
      auto self = state.find(path);
      if (self != state.end() && self->second.kind != ExpectedKind::kAbsent) {
        target.kind = self->second.kind;
        target.sha256 = self->second.sha256;
      }
      EraseAtAndBelow(state, path);
      EraseAtAndBelow(state, to);
      for (auto& [p, e] : moved) state[p] = std::move(e);
      state[to] = std::move(target);
      state[path] = {ExpectedKind::kAbsent, "", because, false};
      ClearAncestors(state, to);
      return;
    }
  }
}

absl::StatusOr<DurabilityMarks> DurabilityMarks::FromMarks(
    const std::vector<Mark>& marks) {
  DurabilityMarks out;
  uint32_t batch = 0;
  for (size_t i = 0; i < marks.size(); ++i) {
    if (i > 0 && marks[i].event != marks[i - 1].event + 1) ++batch;
    absl::StatusOr<std::optional<DurabilityMark>> parsed =
        ParseDurabilityMark(marks[i].label);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mark ", i, " (event ", marks[i].event, ") '",
                       marks[i].label, "': ", parsed.status().message()));
    }
    if (parsed->has_value()) {
      out.marks_.push_back({std::move(**parsed), i, marks[i].event, batch});
    }
  }
  return out;
}

ExpectedState DurabilityMarks::ExpectedAt(uint32_t crash_event) const {
  ExpectedState state;
  size_t i = 0;
  for (; i < marks_.size() && marks_[i].event < crash_event; ++i) {
    ApplyDurabilityMark(marks_[i].mark, state);
  }
  // What the pending marks name may be in transition.
  for (size_t j = i; j < marks_.size() && marks_[j].batch == marks_[i].batch;
       ++j) {
    const DurabilityMark& m = marks_[j].mark;
    for (const std::string* path : {&m.path, &m.new_path}) {
      if (path->empty()) continue;
      EraseAtAndBelow(state, *path);
      ClearAncestors(state, *path);
    }
  }
  return state;
}

}  // namespace internal_oracles
}  // namespace crashenum
