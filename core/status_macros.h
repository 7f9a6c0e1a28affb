// Status propagation helpers. The system Abseil predates its own macros.
//
//   RETURN_IF_ERROR(expr);                       // returns a non-OK status
//   RETURN_IF_ERROR(expr, "reading ", path);     // ... with context prepended
//   ASSIGN_OR_RETURN(auto x, MakeX());           // unwraps a StatusOr
//   ASSIGN_OR_RETURN(auto x, MakeX(), "in ", f); // ... with context prepended
//
// Context is prepended as "context: original message" and keeps the code.
#ifndef CRASHENUM_CORE_STATUS_MACROS_H_
#define CRASHENUM_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace crashenum {

// Returns `status` with `context` prepended to its message; OK stays OK.
inline absl::Status AddContext(const absl::Status& status,
                               absl::string_view context) {
  if (status.ok() || context.empty()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(context, ": ", status.message()));
}

}  // namespace crashenum

#define CRASHENUM_STATUS_CONCAT_INNER_(a, b) a##b
#define CRASHENUM_STATUS_CONCAT_(a, b) CRASHENUM_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr, ...)                                     \
  do {                                                                 \
    ::absl::Status crashenum_status_ = (expr);                         \
    if (!crashenum_status_.ok()) {                                     \
      return ::crashenum::AddContext(crashenum_status_,                \
                                     ::absl::StrCat(__VA_ARGS__));     \
    }                                                                  \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr, ...)                                 \
  CRASHENUM_ASSIGN_OR_RETURN_IMPL_(                                      \
      CRASHENUM_STATUS_CONCAT_(crashenum_statusor_, __LINE__), lhs, expr, \
      __VA_ARGS__)

#define CRASHENUM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr, ...)          \
  auto tmp = (expr);                                                   \
  if (!tmp.ok()) {                                                     \
    return ::crashenum::AddContext(tmp.status(),                       \
                                   ::absl::StrCat(__VA_ARGS__));       \
  }                                                                    \
  lhs = std::move(tmp).value()

#endif  // CRASHENUM_CORE_STATUS_MACROS_H_
