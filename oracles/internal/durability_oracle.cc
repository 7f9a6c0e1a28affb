#include "oracles/internal/durability_oracle.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "oracles/internal/mount_runner.h"
#include "oracles/internal/oracle_text.h"
#include "oracles/internal/subprocess.h"

namespace crashenum {
namespace internal_oracles {
namespace {

constexpr size_t kMaxViolations = 20;
constexpr size_t kTailLines = 10;
constexpr size_t kTailBytes = 2000;

constexpr char kScriptHead[] = R"(cd "$1" || exit 2
failed=0
v() { printf '%s\n' "$1"; failed=1; }
exists() { [ -e "$1" ] || [ -L "$1" ]; }
file() {
  if ! exists "$1"; then v "$3missing"
  elif [ ! -f "$1" ]; then v "$3not a regular file"
  elif ! h=$( { sha256sum < "$1"; } 2>&1 ); then v "$3unreadable: $h"
  elif [ "${h%% *}" != "$2" ]; then v "$3content ${h%% *} expected $2"
  fi
}
dir() {
  if ! exists "$1"; then v "$2missing"
  elif [ ! -d "$1" ]; then v "$2not a directory"
  fi
}
present() { exists "$1" || v "$2missing"; }
absent() { ! exists "$1" || v "$2still present"; }
)";

// "fsync'd a.txt: " or "renamed a.tmp -> a: a ".
std::string MessagePrefix(const std::string& path, const Expectation& e) {
  return e.because_names_path ? absl::StrCat(e.because, ": ")
                              : absl::StrCat(e.because, ": ", path, " ");
}

// The violation lines of the script's output, at most kMaxViolations.
std::string Violations(absl::string_view output) {
  std::vector<absl::string_view> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.size() <= kMaxViolations) return absl::StrJoin(lines, "\n");
  return absl::StrCat(
      absl::StrJoin(lines.begin(), lines.begin() + kMaxViolations, "\n"),
      "\n(", lines.size() - kMaxViolations, " more)");
}

class DurabilityOracle : public Oracle {
 public:
  DurabilityOracle(DurabilityMarks marks, const OracleOptions& options)
      : marks_(std::move(marks)), options_(options) {
    traits_.metadata_only = false;
    traits_.mutates_image = true;
    traits_.needs_root = true;
    traits_.deterministic = true;
  }

  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }

  // The verdict depends on what was acknowledged by the crash point: the
  // check script says exactly that.
  std::string VerdictContext(uint32_t crash_event) const override {
    const ExpectedState expected = marks_.ExpectedAt(crash_event);
    return expected.empty() ? "nothing acknowledged"
                            : DurabilityCheckScript(expected);
  }

  Verdict Check(const ImageSet& images, const StateId& state) override {
    const ExpectedState expected = marks_.ExpectedAt(state.event);
    if (expected.empty()) return Verdict::Pass();
    if (images.paths.empty()) {
      return Verdict::Error("durability: the crash state has no images");
    }
    const std::string& image = images.paths[0];
    absl::StatusOr<MountRunResult> run = RunInMountedImage(
        image, MountRunOptions(),
        {"/bin/sh", "-c", DurabilityCheckScript(expected),
         "crashenum-durability"},
        options_);
    if (!run.ok()) {
      return Verdict::Error(absl::StrCat("durability: ", run.status().message()));
    }
    auto scrub = [&](absl::string_view text) {
      return LastLines(ScrubPaths(text, {{image, "{image}"}}), kTailLines,
                       kTailBytes);
    };
    if (!run->mounted) {
      return Verdict::Fail(WithDetail("mount failed (recovery failed)",
                                      scrub(run->mount_output)));
    }
    if (!run->command.has_value()) {
      return Verdict::Error("durability: the check did not run");
    }
    const SubprocessResult& c = *run->command;
    if (c.timed_out) {
      return Verdict::Error(WithDetail(
          absl::StrCat("timed out after ",
                       absl::FormatDuration(options_.timeout)),
          scrub(c.output)));
    }
    if (c.term_signal != 0) {
      return Verdict::Error(WithDetail(
          absl::StrCat("killed by signal ", c.term_signal, " (",
                       SignalName(c.term_signal), ")"),
          scrub(c.output)));
    }
    if (c.exit_code == 0) return Verdict::Pass();
    if (c.exit_code == 1) return Verdict::Fail(Violations(c.output));
    return Verdict::Error(WithDetail(
        absl::StrCat("durability check script: exit ", c.exit_code),
        scrub(c.output)));
  }

 private:
  const std::string name_ = "durability";
  const DurabilityMarks marks_;
  const OracleOptions options_;
  OracleTraits traits_;
};

}  // namespace

std::string DurabilityCheckScript(const ExpectedState& expected) {
  std::string script = kScriptHead;
  for (const auto& [path, e] : expected) {
    const std::string quoted = ShellQuote("./" + path);
    const std::string prefix = ShellQuote(MessagePrefix(path, e));
    switch (e.kind) {
      case ExpectedKind::kFile:
        absl::StrAppend(&script, "file ", quoted, " ", e.sha256, " ", prefix,
                        "\n");
        break;
      case ExpectedKind::kDirectory:
        absl::StrAppend(&script, "dir ", quoted, " ", prefix, "\n");
        break;
      case ExpectedKind::kPresent:
        absl::StrAppend(&script, "present ", quoted, " ", prefix, "\n");
        break;
      case ExpectedKind::kAbsent:
        absl::StrAppend(&script, "absent ", quoted, " ", prefix, "\n");
        break;
    }
  }
  absl::StrAppend(&script, "exit $failed\n");
  return script;
}

absl::StatusOr<std::unique_ptr<Oracle>> MakeDurabilityOracle(
    const OracleOptions& options) {
  if (options.trace == nullptr) {
    return absl::InvalidArgumentError("the durability oracle needs the trace");
  }
  ASSIGN_OR_RETURN(DurabilityMarks marks,
                   DurabilityMarks::FromMarks(options.trace->marks()),
                   "oracle 'durability'");
  if (marks.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "oracle 'durability': the trace ",
        options.trace->path().empty() ? "" : options.trace->path() + " ",
        "has no durability marks, so there is nothing to check. The workload "
        "states what it made durable with marks such as 'fsync PATH SHA256', "
        "'rename OLD NEW', 'unlink PATH', 'mkdir PATH' (PATH relative to the "
        "file system root): run `crashenum mark --durable fsync FILE` (or "
        "rename, unlink, mkdir, dirty) after each durable step "
        "(docs/ORACLES.md)"));
  }
  if (!HasMountPrivilege()) {
    return absl::FailedPreconditionError(
        "oracle 'durability' needs root: it mounts each crash image");
  }
  return std::make_unique<DurabilityOracle>(std::move(marks), options);
}

}  // namespace internal_oracles
}  // namespace crashenum
