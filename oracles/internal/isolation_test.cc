// IsolatedOptions, and the isolation the exec: oracle gets from it, seen
// from inside the command it runs.
#include "oracles/internal/isolation.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/crash_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace internal_oracles {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TempDir() {
  const char* dir = getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// A fresh, empty scratch directory for one test.
std::string Scratch(const std::string& name) {
  std::string dir = absl::StrCat(TempDir(), "/", name);
  EXPECT_EQ(system(absl::StrCat("rm -rf ", dir, " && mkdir ", dir).c_str()), 0);
  return dir;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

// Runs exec:`command` on an empty image with `options`.
Verdict Exec(const std::string& command, const OracleOptions& options) {
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle(absl::StrCat("exec:", command), options);
  EXPECT_TRUE(oracle.ok()) << oracle.status();
  if (!oracle.ok()) return Verdict::Error("no oracle");
  const std::string image = absl::StrCat(TempDir(), "/isolation.img");
  std::ofstream(image).put('\0');
  ImageSet images;
  images.device_names = {"disk"};
  images.paths = {image};
  return (*oracle)->Check(images, StateId());
}

TEST(IsolatedOptionsTest, CarriesTheOracleOptions) {
  OracleOptions options;
  options.timeout = absl::Seconds(7);
  options.scratch_dir = "/scratch";
  options.max_memory_bytes = 1 << 30;
  options.max_file_size_bytes = 1 << 20;
  options.isolate_network = true;
  SubprocessOptions run = IsolatedOptions(options);
  EXPECT_EQ(run.timeout, absl::Seconds(7));
  EXPECT_EQ(run.private_tmp_parent, "/scratch");
  EXPECT_EQ(run.max_address_space, uint64_t{1} << 30);
  EXPECT_EQ(run.max_file_size, uint64_t{1} << 20);
  EXPECT_TRUE(run.new_network_namespace);
  EXPECT_FALSE(run.new_mount_namespace);
  EXPECT_EQ(run.mount_namespace_fd, -1);

  options.max_memory_bytes = 0;
  options.max_file_size_bytes = 0;
  options.isolate_network = false;
  run = IsolatedOptions(options);
  EXPECT_FALSE(run.max_address_space.has_value());
  EXPECT_FALSE(run.max_file_size.has_value());
  EXPECT_FALSE(run.new_network_namespace);
}

TEST(ExecIsolationTest, LimitsAreSet) {
  OracleOptions options;
  options.scratch_dir = Scratch("limits");
  options.max_memory_bytes = uint64_t{3} << 30;
  options.max_file_size_bytes = uint64_t{5} << 20;
  // ulimit counts KiB for -v and 512-byte blocks for -f.
  Verdict v = Exec(
      "test \"$(ulimit -v)\" = 3145728 && "
      "test \"$(ulimit -f)\" = 10240",
      options);
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;

  options.max_memory_bytes = 0;
  options.max_file_size_bytes = 0;
  v = Exec(
      "test \"$(ulimit -v)\" = unlimited && "
      "test \"$(ulimit -f)\" = unlimited",
      options);
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;
}

TEST(ExecIsolationTest, WritingPastTheFileSizeLimitIsError) {
  OracleOptions options;
  options.scratch_dir = Scratch("fsize");
  options.max_file_size_bytes = 4096;
  Verdict v = Exec(
      "echo writing; exec head -c 100000 /dev/zero > \"$TMPDIR/big\"", options);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message,
            absl::StrCat("killed by signal ", SIGXFSZ, " (SIGXFSZ): writing"));
}

TEST(ExecIsolationTest, NetworkHasOnlyLoopback) {
  OracleOptions options;
  options.scratch_dir = Scratch("network");
  // /proc/net/dev: two header lines, then one line per interface.
  const std::string only_lo =
      "test \"$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ')\" = lo";
  Verdict v = Exec(only_lo, options);
  if (v.kind != VerdictKind::kPass && geteuid() != 0) {
    GTEST_SKIP() << "skipped: no network namespace can be made here without "
                    "root";
  }
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;

  // Without isolation the command sees this machine's interfaces.
  std::ifstream own("/proc/net/dev");
  std::string line;
  int interfaces = -2;
  while (std::getline(own, line)) ++interfaces;
  if (interfaces <= 1) GTEST_SKIP() << "skipped: this machine has only lo";
  options.isolate_network = false;
  v = Exec(only_lo, options);
  EXPECT_EQ(v.kind, VerdictKind::kFail) << v.message;
}

TEST(ExecIsolationTest, TmpdirIsPrivateAndRemoved) {
  OracleOptions options;
  options.scratch_dir = Scratch("tmpdir");
  Verdict v = Exec(absl::StrCat("case \"$TMPDIR\" in ", options.scratch_dir,
                                "/crashenum-tmp.*) ;; *) echo \"$TMPDIR\"; "
                                "exit 1;; esac; mkdir \"$TMPDIR/d\" && "
                                "echo x > \"$TMPDIR/d/f\""),
                   options);
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;
  EXPECT_THAT(Entries(options.scratch_dir), ::testing::IsEmpty());

  v = Exec("echo \"$TMPDIR\"; exit 1", options);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_THAT(v.message,
              StartsWith(absl::StrCat("exit 1: ", options.scratch_dir,
                                      "/crashenum-tmp.")));
  EXPECT_THAT(Entries(options.scratch_dir), ::testing::IsEmpty());

  options.scratch_dir = "/nonexistent/scratch";
  v = Exec("true", options);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_THAT(v.message, HasSubstr("cannot make a private TMPDIR below "
                                   "'/nonexistent/scratch'"));
}

}  // namespace
}  // namespace internal_oracles
}  // namespace crashenum
