// The crashenum verbs. Each takes the arguments after the verb, prints its
// report, and returns the process exit code (DESIGN.md 8).
#ifndef CRASHENUM_CLI_COMMANDS_H_
#define CRASHENUM_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace crashenum {
namespace internal_cli {

int CheckCommand(const std::vector<std::string>& args);
int ConvertCommand(const std::vector<std::string>& args);
int ExplainCommand(const std::vector<std::string>& args);
int GraphCommand(const std::vector<std::string>& args);
int InfoCommand(const std::vector<std::string>& args);
int MaterializeCommand(const std::vector<std::string>& args);
int MinimizeCommand(const std::vector<std::string>& args);
int RecordCommand(const std::vector<std::string>& args);
int MarkCommand(const std::vector<std::string>& args);

}  // namespace internal_cli
}  // namespace crashenum

#endif  // CRASHENUM_CLI_COMMANDS_H_
