// The durability marks grammar: what a workload states it has made durable,
// and the state a crash image must show because of it.
//
// A workload recorded by `crashenum record` adds marks (one line each). A
// mark whose first word is one of the keywords below is a durability mark:
//
//   fsync PATH SHA256   PATH is a regular file with exactly this content
//                       (SHA256: 64 lowercase hex digits)
//   rename OLD NEW      NEW exists and holds what OLD was expected to hold,
//                       OLD does not exist
//   unlink PATH         PATH does not exist
//   mkdir PATH          PATH is a directory
//   dirty PATH          PATH (and everything below it) is about to change
//                       without a new durability point: nothing is expected
//                       of it until a later mark
//
// Words are separated by spaces or tabs. A PATH is relative to the root of
// the file system: no leading '/', no empty, "." or ".." components, no NUL.
// A path with a space, tab, '"' or '\' is written in double quotes, with \"
// and \\ for '"' and '\' ("my file.txt", "a\"b"); any other path may be
// written bare. Every other mark (e.g. "mkfs", "umount") is ignored.
//
// The state expected at a crash point is the fold, in trace order, of the
// durability marks before it (mark.event < crash event) into a map from path
// to expectation (see ApplyDurabilityMark), less what is pending there. A
// mark states the durability of what the workload did since the previous
// mark, so at a crash before a mark the paths it names may show the old or
// the new outcome: the crash checks nothing about them. The pending marks of
// a crash point are the first durability mark after it and those following
// that one with no other event in between (marks written together, after
// one fsync); their paths (and everything below them, and the ancestors
// that were expected absent or to be files) carry no expectation.
#ifndef CRASHENUM_ORACLES_INTERNAL_DURABILITY_MARKS_H_
#define CRASHENUM_ORACLES_INTERNAL_DURABILITY_MARKS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/trace.h"

namespace crashenum {
namespace internal_oracles {

enum class DurabilityVerb { kFsync, kRename, kUnlink, kMkdir, kDirty };

// One parsed durability mark.
struct DurabilityMark {
  DurabilityVerb verb = DurabilityVerb::kFsync;
  std::string path;      // PATH, or OLD for rename
  std::string new_path;  // NEW for rename, else empty
  std::string sha256;    // for fsync, else empty

  bool operator==(const DurabilityMark& o) const {
    return verb == o.verb && path == o.path && new_path == o.new_path &&
           sha256 == o.sha256;
  }
};

// True for "fsync", "rename", "unlink", "mkdir" and "dirty".
bool IsDurabilityKeyword(absl::string_view word);

// Parses a mark label. Returns nullopt when its first word is not a keyword
// (the mark is not a durability mark). Errors: InvalidArgument saying what is
// malformed (wrong number of words, a bad path or SHA-256, bad quoting, a
// rename of a path onto itself, into itself or onto one of its ancestors).
absl::StatusOr<std::optional<DurabilityMark>> ParseDurabilityMark(
    absl::string_view label);

// Errors: InvalidArgument when `path` is not a valid mark path (see above),
// saying why.
absl::Status ValidateMarkPath(absl::string_view path);

// `path` as one word of a mark: bare when it holds no space, tab, '"' or
// '\', else double-quoted with \" and \\ escapes.
std::string QuoteMarkPath(absl::string_view path);

// The label of `mark`, which ParseDurabilityMark parses back to `mark`.
// Precondition: `mark` is valid (as ParseDurabilityMark would accept it).
std::string FormatDurabilityMark(const DurabilityMark& mark);

enum class ExpectedKind {
  kFile,       // a regular file with content `sha256`
  kDirectory,  // a directory
  kPresent,    // exists, of any type (a rename target with no expectation)
  kAbsent,     // does not exist
};

// What a crash image must show at one path, and which mark says so.
struct Expectation {
  ExpectedKind kind = ExpectedKind::kPresent;
  std::string sha256;  // for kFile
  // The mark it comes from, as a verdict message starts: "fsync'd a.txt",
  // "renamed a.tmp -> a", "unlinked b", "mkdir d".
  std::string because;
  // `because` names exactly this path, so messages need not repeat it.
  bool because_names_path = false;

  bool operator==(const Expectation& o) const {
    return kind == o.kind && sha256 == o.sha256 && because == o.because &&
           because_names_path == o.because_names_path;
  }
};

// Path -> expectation, in path order. Parent directories of a path expected
// to exist are implied to exist and are not listed.
using ExpectedState = std::map<std::string, Expectation>;

// One fold step:
// - fsync P H: P is a file with content H; expectations below P are dropped.
// - mkdir P: P is a directory (expectations below P stay).
// - unlink P: P is absent; expectations below P are dropped.
// - dirty P: expectations of P and below P are dropped.
// - rename O N: the expectations of O and below O move to N and below N
//   (replacing those of N and below N); N is expected to exist even when
//   nothing was expected of O; O is absent.
// A mark that makes P exist drops the "absent" and "file" expectations of
// P's ancestors (they are directories now).
void ApplyDurabilityMark(const DurabilityMark& mark, ExpectedState& state);

// A durability mark and where it is in its trace.
struct TracedDurabilityMark {
  DurabilityMark mark;
  size_t mark_index = 0;  // index in Trace::marks()
  uint32_t event = 0;     // its mark event
  // Marks with no other event between them share a batch number; batches
  // are numbered from 0 in trace order.
  uint32_t batch = 0;
};

// The durability marks of one trace. Immutable; thread-safe.
class DurabilityMarks {
 public:
  // Parses every mark of `marks` (in trace order). Errors: InvalidArgument for the
  // first malformed durability mark, as "mark 3 (event 120) 'fsync a': ...".
  static absl::StatusOr<DurabilityMarks> FromMarks(
      const std::vector<Mark>& marks);

  const std::vector<TracedDurabilityMark>& marks() const { return marks_; }
  bool empty() const { return marks_.empty(); }

  // The state a crash just before event `crash_event` must show: the fold
  // of the marks with event < `crash_event`, less the paths of the pending
  // marks (see the top of this file).
  ExpectedState ExpectedAt(uint32_t crash_event) const;

 private:
  std::vector<TracedDurabilityMark> marks_;
};

}  // namespace internal_oracles
}  // namespace crashenum

#endif  // CRASHENUM_ORACLES_INTERNAL_DURABILITY_MARKS_H_
