// A small command-line parser for the crashenum verbs: `--name=value`,
// `--name value`, boolean `--name`, `-j N`, `-o PATH`, and positionals.
// Errors are Statuses (exit code 2), never exit() calls.
#ifndef CRASHENUM_CLI_FLAGS_H_
#define CRASHENUM_CLI_FLAGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crashenum {
namespace internal_cli {

class Flags {
 public:
  // Declares a flag taking a value (`boolean` false) or not. `aliases` are
  // short forms such as "-j".
  void Define(const std::string& name, const std::string& help,
              bool boolean = false, std::vector<std::string> aliases = {});

  // Parses `args` (without the program and verb). Errors: InvalidArgument for
  // an unknown flag, a missing value, or a value given to a boolean flag.
  absl::Status Parse(const std::vector<std::string>& args);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& def = "") const;
  bool GetBool(const std::string& name) const;
  // Integer value with an optional K/M/G/T suffix (powers of 1024) when
  // `sizes`. Errors: InvalidArgument naming the flag.
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t def,
                                 bool sizes = false) const;
  // "30", "30s", "500ms", "2m". Errors: InvalidArgument naming the flag.
  absl::StatusOr<absl::Duration> GetDuration(const std::string& name,
                                             absl::Duration def) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // The flags and their help, one per line.
  std::string Usage() const;
  // Every flag given, as it would be written back ("--name=value").
  std::vector<std::string> Given(const std::vector<std::string>& names) const;

 private:
  struct Spec {
    std::string help;
    bool boolean;
    std::vector<std::string> aliases;
  };
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> alias_to_name_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace internal_cli
}  // namespace crashenum

#endif  // CRASHENUM_CLI_FLAGS_H_
