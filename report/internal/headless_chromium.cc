#include "report/internal/headless_chromium.h"

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace crashenum {
namespace internal_report {
namespace {

// Runs `command` with /bin/sh; returns its stdout and sets *status.
std::string Run(const std::string& command, int* status) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return out;
  }
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = ::pclose(p);
  return out;
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::string FindChromium() {
  int status = 0;
  std::string path = Run(
      "command -v chromium 2>/dev/null || command -v chromium-browser "
      "2>/dev/null",
      &status);
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) {
    path.pop_back();
  }
  return status == 0 ? path : "";
}

absl::StatusOr<std::string> DumpDom(const std::string& html_path,
                                    const std::string& scratch_dir) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    return absl::UnavailableError(
        "headless Chromium is not installed (Debian package chromium)");
  }
  const std::string log = scratch_dir + "/chromium.log";
  const std::string command = absl::StrCat(
      "HOME=", Quote(scratch_dir), " timeout 120 ", Quote(chromium),
      " --headless --no-sandbox --disable-gpu --no-first-run",
      " --user-data-dir=", Quote(scratch_dir + "/chromium-profile"),
      " --dump-dom ", Quote("file://" + html_path), " 2>", Quote(log));
  int status = 0;
  std::string dom = Run(command, &status);
  if (status != 0 || dom.empty()) {
    std::ifstream in(log);
    std::stringstream messages;
    messages << in.rdbuf();
    return absl::InternalError(absl::StrCat(
        "chromium --dump-dom ", html_path, " failed (wait status ", status,
        "): ", messages.str()));
  }
  return dom;
}

}  // namespace internal_report
}  // namespace crashenum
