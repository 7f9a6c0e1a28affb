#include "oracles/internal/exec_oracle.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/status_macros.h"
#include "oracles/internal/isolation.h"
#include "oracles/internal/oracle_text.h"
#include "oracles/internal/subprocess.h"

namespace crashenum {
namespace internal_oracles {
namespace {

constexpr size_t kTailLines = 10;
constexpr size_t kTailBytes = 2000;

// One piece of the command template: literal text, or an image path.
struct Piece {
  bool is_image = false;
  std::string text;  // literal text, or the device name ("" = device 0)
};

absl::StatusOr<std::vector<Piece>> ParseTemplate(absl::string_view command) {
  std::vector<Piece> pieces;
  std::string literal;
  size_t pos = 0;
  while (pos < command.size()) {
    size_t found = command.find("{image", pos);
    if (found == absl::string_view::npos) break;
    absl::string_view rest = command.substr(found + 6);
    size_t consumed = 0;
    std::string device;
    if (!rest.empty() && rest[0] == '}') {
      consumed = 7;
    } else if (!rest.empty() && rest[0] == ':') {
      size_t close = rest.find('}');
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "unterminated {image: at offset ", found, " of command"));
      }
      device = std::string(rest.substr(1, close - 1));
      if (device.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "empty device name in {image:} at offset ", found, " of command"));
      }
      consumed = 6 + close + 1;
    } else {  // e.g. "{images": not ours
      absl::StrAppend(&literal, command.substr(pos, found + 6 - pos));
      pos = found + 6;
      continue;
    }
    absl::StrAppend(&literal, command.substr(pos, found - pos));
    if (!literal.empty()) pieces.push_back({false, std::move(literal)});
    literal.clear();
    pieces.push_back({true, std::move(device)});
    pos = found + consumed;
  }
  absl::StrAppend(&literal, command.substr(pos));
  if (!literal.empty()) pieces.push_back({false, std::move(literal)});
  return pieces;
}

class ExecOracle : public Oracle {
 public:
  ExecOracle(std::string name, std::vector<Piece> pieces,
             const OracleOptions& options)
      : name_(std::move(name)), pieces_(std::move(pieces)), options_(options) {
    traits_.metadata_only = false;
    traits_.mutates_image = true;
    traits_.needs_root = false;
    traits_.deterministic = true;  // assumed of the user's command
    traits_.reads_through_files = true;
  }

  const std::string& name() const override { return name_; }
  const OracleTraits& traits() const override { return traits_; }

  Verdict Check(const ImageSet& images, const StateId& state) override {
    if (images.paths.empty()) {
      return Verdict::Error("exec oracle: the crash state has no images");
    }
    std::string command;
    for (const Piece& piece : pieces_) {
      if (!piece.is_image) {
        command += piece.text;
        continue;
      }
      const std::string* path = FindImage(images, piece.text);
      if (path == nullptr) {
        return Verdict::Error(absl::StrCat(
            "unknown device '", piece.text, "' in {image:", piece.text,
            "}; devices: ", absl::StrJoin(images.device_names, ", ")));
      }
      command += ShellQuote(*path);
    }

    SubprocessOptions run = IsolatedOptions(options_);
    run.set_env = {{"CRASHENUM_STATE", state.ToString()},
                   {"CRASHENUM_IMAGE", images.paths[0]}};
    run.set_env.insert(run.set_env.end(), images.env.begin(), images.env.end());
    absl::StatusOr<SubprocessResult> result = RunShellCommand(command, run);
    if (!result.ok()) {
      return Verdict::Error(std::string(result.status().message()));
    }

    std::string tail =
        LastLines(Scrub(result->output, images), kTailLines, kTailBytes);
    if (result->timed_out) {
      return Verdict::Error(
          WithDetail(absl::StrCat("timed out after ",
                                  absl::FormatDuration(options_.timeout)),
                     tail));
    }
    if (result->term_signal != 0) {
      return Verdict::Error(
          WithDetail(absl::StrCat("killed by signal ", result->term_signal,
                                  " (", SignalName(result->term_signal), ")"),
                     tail));
    }
    if (result->exit_code != 0) {
      return Verdict::Fail(
          WithDetail(absl::StrCat("exit ", result->exit_code), tail));
    }
    return Verdict::Pass();
  }

 private:
  // Device 0 for "", else the device named `device`; null if none.
  static const std::string* FindImage(const ImageSet& images,
                                      const std::string& device) {
    if (device.empty()) return &images.paths[0];
    for (size_t i = 0;
         i < images.device_names.size() && i < images.paths.size(); ++i) {
      if (images.device_names[i] == device) return &images.paths[i];
    }
    return nullptr;
  }

  static std::string Scrub(absl::string_view output, const ImageSet& images) {
    std::vector<std::pair<std::string, std::string>> replacements;
    for (size_t i = images.paths.size(); i-- > 0;) {
      std::string placeholder =
          i == 0 || i >= images.device_names.size()
              ? "{image}"
              : absl::StrCat("{image:", images.device_names[i], "}");
      replacements.emplace_back(images.paths[i], std::move(placeholder));
    }
    return ScrubPaths(output, std::move(replacements));
  }

  const std::string name_;
  const std::vector<Piece> pieces_;
  const OracleOptions options_;
  OracleTraits traits_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Oracle>> MakeExecOracle(
    absl::string_view spec, absl::string_view command,
    const OracleOptions& options) {
  if (command.find_first_not_of(" \t\n") == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("oracle '", spec, "': empty command after 'exec:'"));
  }
  ASSIGN_OR_RETURN(std::vector<Piece> pieces, ParseTemplate(command),
                   "oracle '", spec, "'");
  return std::make_unique<ExecOracle>(std::string(spec), std::move(pieces),
                                      options);
}

}  // namespace internal_oracles
}  // namespace crashenum
