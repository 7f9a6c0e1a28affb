#include "cli/flags.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crashenum {
namespace internal_cli {

void Flags::Define(const std::string& name, const std::string& help,
                   bool boolean, std::vector<std::string> aliases) {
  for (const std::string& a : aliases) alias_to_name_[a] = name;
  specs_[name] = Spec{help, boolean, std::move(aliases)};
}

absl::Status Flags::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional_.push_back(arg);
      continue;
    }
    std::string name, value;
    bool has_value = false;
    if (arg.rfind("--", 0) == 0) {
      const size_t eq = arg.find('=');
      name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        has_value = true;
      }
    } else {
      auto a = alias_to_name_.find(arg.substr(0, 2));
      if (a == alias_to_name_.end()) {
        return absl::InvalidArgumentError(absl::StrCat("unknown option ", arg));
      }
      name = a->second;
      if (arg.size() > 2) {
        value = arg.substr(2);
        has_value = true;
      }
    }
    auto spec = specs_.find(name);
    if (spec == specs_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown option --", name, " (see --help for the options)"));
    }
    if (spec->second.boolean) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value"));
      }
      values_[name] = has_value ? value : "true";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    values_[name] = value;
  }
  return absl::OkStatus();
}

std::string Flags::Get(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

bool Flags::GetBool(const std::string& name) const {
  return Get(name, "false") == "true";
}

absl::StatusOr<int64_t> Flags::GetInt(const std::string& name, int64_t def,
                                      bool sizes) const {
  if (!Has(name)) return def;
  std::string v = Get(name);
  int64_t mult = 1;
  if (sizes && !v.empty()) {
    const char s = static_cast<char>(toupper(v.back()));
    const int shift = s == 'K' ? 10 : s == 'M' ? 20 : s == 'G' ? 30 : s == 'T' ? 40 : 0;
    if (shift) {
      mult = int64_t{1} << shift;
      v.pop_back();
    }
  }
  int64_t n;
  if (!absl::SimpleAtoi(v, &n) || n < 0 || n > INT64_MAX / mult) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, "=", Get(name), ": expected a non-negative integer",
        sizes ? " (K, M, G suffixes allowed)" : ""));
  }
  return n * mult;
}

absl::StatusOr<absl::Duration> Flags::GetDuration(const std::string& name,
                                                  absl::Duration def) const {
  if (!Has(name)) return def;
  const std::string v = Get(name);
  double secs;
  absl::Duration d;
  if (absl::SimpleAtod(v, &secs) && secs > 0) return absl::Seconds(secs);
  if (absl::ParseDuration(v, &d) && d > absl::ZeroDuration()) return d;
  return absl::InvalidArgumentError(absl::StrCat(
      "--", name, "=", v, ": expected a positive duration such as 60 or 90s"));
}

std::string Flags::Usage() const {
  std::string out;
  for (const auto& [name, spec] : specs_) {
    std::string left = absl::StrCat("--", name, spec.boolean ? "" : "=VALUE");
    for (const std::string& a : spec.aliases) absl::StrAppend(&left, ", ", a);
    absl::StrAppendFormat(&out, "  %-26s %s\n", left, spec.help);
  }
  return out;
}

std::vector<std::string> Flags::Given(
    const std::vector<std::string>& names) const {
  std::vector<std::string> out;
  for (const std::string& n : names) {
    auto it = values_.find(n);
    if (it == values_.end()) continue;
    if (specs_.at(n).boolean) {
      if (it->second == "true") out.push_back("--" + n);
    } else {
      out.push_back(absl::StrCat("--", n, "=", it->second));
    }
  }
  return out;
}

}  // namespace internal_cli
}  // namespace crashenum
