#include "oracles/internal/ext4_fsck_oracle.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "oracles/internal/isolation.h"
#include "oracles/internal/oracle_text.h"
#include "oracles/internal/subprocess.h"

namespace crashenum {
namespace internal_oracles {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kConfig[] = "[options]\n\tbroken_system_clock = 1\n";
// The "current time" e2fsck sees (2033-05-18 UTC); any fixed value will do.
constexpr char kFixedTime[] = "2000000000";
constexpr size_t kMaxLines = 10;
constexpr size_t kMaxLineBytes = 240;
constexpr size_t kTailLines = 5;
constexpr size_t kTailBytes = 1000;

// Now + `timeout`, saturating at "never".
Clock::time_point Deadline(absl::Duration timeout) {
  if (timeout >= absl::Hours(24 * 365 * 100)) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            absl::ToChronoNanoseconds(timeout));
}

// "/usr/sbin" for "/usr/sbin/e2fsck".
std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// "4 (errors left uncorrected)" from e2fsck's exit status bits.
std::string DescribeExit(int code) {
  static constexpr std::pair<int, const char*> kBits[] = {
      {1, "errors corrected"},        {2, "reboot needed"},
      {4, "errors left uncorrected"}, {8, "operational error"},
      {16, "usage or syntax error"},  {32, "canceled"},
      {128, "shared library error"}};
  std::vector<std::string> meanings;
  for (const auto& [bit, meaning] : kBits) {
    if (code & bit) meanings.push_back(meaning);
  }
  if (meanings.empty()) return absl::StrCat(code);
  return absl::StrCat(code, " (", absl::StrJoin(meanings, ", "), ")");
}

bool IsNoise(absl::string_view line) {
  // "e2fsck 1.47.0 (5-Feb-2023)"
  if (absl::StartsWith(line, "e2fsck ") && line.size() > 7 &&
      absl::ascii_isdigit(line[7])) {
    return true;
  }
  // "Pass 1: Checking inodes, blocks, and sizes"
  if (absl::StartsWith(line, "Pass ") && absl::StrContains(line, ": ")) {
    return true;
  }
  // "{image}: 11/1024 files (9.1% non-contiguous), 1330/4096 blocks"
  if (absl::StrContains(line, " files (") && absl::EndsWith(line, " blocks")) {
    return true;
  }
  // A bare answer to the question on the line before, e.g. "Fix? no".
  if (absl::EndsWith(line, "? no") && line.find(' ') == line.size() - 3) {
    return true;
  }
  return absl::StrContains(line, "WARNING: Filesystem still has errors") ||
         absl::StrContains(line, "***** FILE SYSTEM WAS MODIFIED *****");
}

// The first meaningful lines of e2fsck's output, without banner, pass names
// and summary; "(N more lines)" when cut.
std::string Findings(absl::string_view output) {
  std::vector<std::string> kept;
  size_t more = 0;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || IsNoise(line)) continue;
    if (kept.size() < kMaxLines) {
      kept.push_back(CapLine(line, kMaxLineBytes));
    } else {
      ++more;
    }
  }
  if (more > 0) kept.push_back(absl::StrCat("(", more, " more lines)"));
  return absl::StrJoin(kept, "\n");
}

class Ext4FsckOracle : public Oracle {
 public:
  Ext4FsckOracle(std::string e2fsck, std::string config_path,
                 const OracleOptions& options)
      : path_(absl::StrCat(Dirname(e2fsck), ":/usr/sbin:/usr/bin:/sbin:/bin")),
        config_path_(std::move(config_path)),
        options_(options) {
    traits_.metadata_only = true;
    traits_.mutates_image = true;
    traits_.needs_root = false;
    traits_.deterministic = true;
    traits_.reads_through_files = true;
  }
  ~Ext4FsckOracle() override { unlink(config_path_.c_str()); }

  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }

  Verdict Check(const ImageSet& images, const StateId& state) override {
    if (images.paths.empty()) {
      return Verdict::Error("ext4-fsck: the crash state has no images");
    }
    const std::string& image = images.paths[0];
    struct stat st;
    if (stat(image.c_str(), &st) != 0) {
      return Verdict::Error(absl::StrCat("ext4-fsck: cannot access the image: ",
                                         std::strerror(errno)));
    }
    const Clock::time_point deadline = Deadline(options_.timeout);

    SubprocessResult replay;
    if (std::optional<Verdict> v =
            Run("e2fsck journal replay", {"-E", "journal_only", "-y"}, images,
                deadline, replay)) {
      return *v;
    }
    if (replay.exit_code != 0) {
      return Verdict::Fail(
          WithDetail(absl::StrCat("journal replay failed (exit ",
                                  DescribeExit(replay.exit_code), ")"),
                     Findings(Scrub(replay.output, image))));
    }

    SubprocessResult check;
    if (std::optional<Verdict> v =
            Run("e2fsck -fn", {"-f", "-n"}, images, deadline, check)) {
      return *v;
    }
    if (check.exit_code != 0) {
      return Verdict::Fail(WithDetail(
          absl::StrCat("e2fsck -fn: exit ", DescribeExit(check.exit_code)),
          Findings(Scrub(check.output, image))));
    }
    return Verdict::Pass();
  }

 private:
  static std::string Scrub(absl::string_view output, const std::string& path) {
    return ScrubPaths(output, {{path, "{image}"}});
  }

  // Runs e2fsck with `flags` on device 0 of `images` within `deadline`. Returns the ERROR
  // verdict when it could not judge (not started, timed out, killed), else
  // nullopt with `result` filled in.
  std::optional<Verdict> Run(absl::string_view what,
                             std::vector<std::string> flags,
                             const ImageSet& images,
                             Clock::time_point deadline,
                             SubprocessResult& result) const {
    absl::Duration budget = deadline == Clock::time_point::max()
                                ? absl::InfiniteDuration()
                                : absl::FromChrono(deadline - Clock::now());
    std::string timed_out = absl::StrCat(
        what, " timed out after ", absl::FormatDuration(options_.timeout));
    if (budget <= absl::ZeroDuration()) return Verdict::Error(timed_out);

    // argv[0] "e2fsck", found first in PATH: messages name no install path.
    std::vector<std::string> argv = {"e2fsck"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back("--");  // an image path may start with '-'
    argv.push_back(images.paths[0]);
    SubprocessOptions run = IsolatedOptions(options_);
    run.timeout = budget;
    run.inherit_environment = false;
    run.set_env = {{"PATH", path_},
                   {"LANG", "C"},
                   {"LC_ALL", "C"},
                   {"TZ", "UTC"},
                   {"E2FSCK_CONFIG", config_path_},
                   {"E2FSCK_TIME", kFixedTime}};
    run.set_env.insert(run.set_env.end(), images.env.begin(), images.env.end());
    absl::StatusOr<SubprocessResult> ran = RunSubprocess(argv, run);
    if (!ran.ok()) {
      return Verdict::Error(
          absl::StrCat("ext4-fsck: ", what, ": ", ran.status().message()));
    }
    result = *std::move(ran);
    std::string tail =
        LastLines(Scrub(result.output, images.paths[0]), kTailLines, kTailBytes);
    if (result.timed_out) return Verdict::Error(WithDetail(timed_out, tail));
    if (result.term_signal != 0) {
      return Verdict::Error(WithDetail(
          absl::StrCat(what, " killed by signal ", result.term_signal, " (",
                       SignalName(result.term_signal), ")"),
          tail));
    }
    return std::nullopt;
  }

  const std::string name_ = "ext4-fsck";
  const std::string path_;  // e2fsck's directory first
  const std::string config_path_;
  const OracleOptions options_;
  OracleTraits traits_;
};

// Writes kConfig to a new file in `dir` and returns its path.
absl::StatusOr<std::string> WriteConfig(const std::string& dir) {
  std::string path = absl::StrCat(dir, "/crashenum-e2fsck-XXXXXX.conf");
  int fd = mkstemps(path.data(), 5);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ext4-fsck: cannot create its e2fsck config in '", dir,
                     "': ", std::strerror(errno)));
  }
  size_t size = sizeof(kConfig) - 1;
  bool ok = write(fd, kConfig, size) == static_cast<ssize_t>(size);
  int err = errno;
  ok = (close(fd) == 0) && ok;
  if (!ok) {
    unlink(path.c_str());
    return absl::InvalidArgumentError(absl::StrCat(
        "ext4-fsck: cannot write '", path, "': ", std::strerror(err)));
  }
  return path;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Oracle>> MakeExt4FsckOracle(
    const OracleOptions& options) {
  absl::StatusOr<std::string> e2fsck =
      FindProgram("e2fsck", {"/sbin", "/usr/sbin"});
  if (!e2fsck.ok()) {
    return absl::UnavailableError(
        "ext4-fsck needs e2fsck (Debian package e2fsprogs), not found in "
        "PATH, /sbin or /usr/sbin");
  }
  ASSIGN_OR_RETURN(std::string config, WriteConfig(options.scratch_dir));
  return std::make_unique<Ext4FsckOracle>(*std::move(e2fsck), std::move(config),
                                          options);
}

}  // namespace internal_oracles
}  // namespace crashenum
