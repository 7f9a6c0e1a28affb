// Helpers for the end-to-end tests that run the crashenum binary.
#ifndef CRASHENUM_TESTS_E2E_UTIL_H_
#define CRASHENUM_TESTS_E2E_UTIL_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace crashenum {

// $TEST_TMPDIR, or /tmp outside Bazel.
std::string Tmp();

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` with /bin/sh, capturing stdout and stderr together, with
// XML_OUTPUT_FILE and TEST_UNDECLARED_OUTPUTS_DIR unset.
Result Sh(const std::string& command);

// The whole file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// Each line of a JSON-lines file (a --json report), parsed.
std::vector<nlohmann::json> JsonLines(const std::string& path);

}  // namespace crashenum

#endif  // CRASHENUM_TESTS_E2E_UTIL_H_
