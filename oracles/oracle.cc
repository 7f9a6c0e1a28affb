#include "oracles/oracle.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "oracles/internal/durability_oracle.h"
#include "oracles/internal/exec_oracle.h"
#include "oracles/internal/ext4_fsck_oracle.h"
#include "oracles/internal/fs_oracles.h"
#include "oracles/internal/plugin_oracle.h"

namespace crashenum {

absl::string_view VerdictKindName(VerdictKind kind) {
  switch (kind) {
    case VerdictKind::kPass:
      return "PASS";
    case VerdictKind::kFail:
      return "FAIL";
    case VerdictKind::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<Oracle>> MakeOracle(
    absl::string_view spec, const OracleOptions& options) {
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("oracle '", spec, "': the timeout must be positive, not ",
                     absl::FormatDuration(options.timeout)));
  }
  if (spec == "ext4-fsck") {
    return internal_oracles::MakeExt4FsckOracle(options);
  }
  constexpr absl::string_view kExec = "exec:";
  if (absl::StartsWith(spec, kExec)) {
    return internal_oracles::MakeExecOracle(spec, spec.substr(kExec.size()),
                                            options);
  }
  if (spec == "xfs") return internal_oracles::MakeXfsOracle(options);
  if (spec == "btrfs") return internal_oracles::MakeBtrfsOracle(options);
  constexpr absl::string_view kMount = "mount:";
  if (absl::StartsWith(spec, kMount)) {
    return internal_oracles::MakeMountScriptOracle(
        spec, spec.substr(kMount.size()), options);
  }
  if (spec == "durability") {
    return internal_oracles::MakeDurabilityOracle(options);
  }
  constexpr absl::string_view kPlugin = "plugin:";
  if (absl::StartsWith(spec, kPlugin)) {
    return internal_oracles::MakePluginOracle(
        spec, spec.substr(kPlugin.size()), options);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown oracle '", spec,
      "'; known oracles: ext4-fsck, exec:CMD, xfs, btrfs, mount:SCRIPT, "
      "durability, plugin:PATH[:ARGS]"));
}

}  // namespace crashenum
