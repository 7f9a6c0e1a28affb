// The plugin oracle with real shared libraries: the example plugin
// (examples/plugin/magic_oracle.c) and plugin_oracle_test_plugin.c built
// several ways.
#include "oracles/internal/plugin_oracle.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/crash_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "oracles/oracle.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Runfile(const std::string& path) {
  char cwd[4096];
  return std::string(getcwd(cwd, sizeof(cwd))) + "/" + path;
}

const std::string kMagic = "examples/plugin/magic_oracle.so";
const std::string kTest = "oracles/plugin_oracle_test_plugin.so";

std::string Tmp() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

std::string WriteImage(const std::string& name, const std::string& bytes) {
  const std::string path = Tmp() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

StateId State(const std::string& text = "e7-u512-n3-5") {
  absl::StatusOr<StateId> id = StateId::Parse(text);
  EXPECT_TRUE(id.ok()) << id.status();
  return *id;
}

ImageSet Images(const std::string& path) { return {{"dev0"}, {path}}; }

std::unique_ptr<Oracle> Make(const std::string& spec,
                             OracleOptions options = OracleOptions()) {
  absl::StatusOr<std::unique_ptr<Oracle>> oracle = MakeOracle(spec, options);
  EXPECT_TRUE(oracle.ok()) << oracle.status();
  return oracle.ok() ? std::move(*oracle) : nullptr;
}

std::unique_ptr<Oracle> TestPlugin(const std::string& args,
                                   OracleOptions options = OracleOptions()) {
  return Make(absl::StrCat("plugin:", Runfile(kTest), ":", args), options);
}

Verdict CheckZeros(Oracle& oracle, const StateId& state = State()) {
  return oracle.Check(Images(WriteImage("zeros.img", std::string(4096, '\0'))),
                      state);
}

TEST(MagicPluginTest, PassesOnARealExt4Image) {
  const std::string image = Tmp() + "/ext4.img";
  ASSERT_EQ(std::system(("truncate -s 1M " + image +
                         " && PATH=$PATH:/sbin:/usr/sbin mkfs.ext4 -q -F " +
                         image + " >/dev/null 2>&1")
                            .c_str()),
            0);
  std::unique_ptr<Oracle> oracle =
      Make("plugin:" + Runfile(kMagic) + ":1080=53ef");
  ASSERT_NE(oracle, nullptr);
  EXPECT_EQ(oracle->name(), "plugin:" + Runfile(kMagic) + ":1080=53ef");
  Verdict v = oracle->Check(Images(image), State());
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;

  // The same image with its super block magic gone.
  ASSERT_EQ(std::system(("printf '\\000\\000' | dd of=" + image +
                         " bs=1 seek=1080 conv=notrunc status=none")
                            .c_str()),
            0);
  v = oracle->Check(Images(image), State());
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "device dev0: bytes at offset 1080 are 0000, expected 53ef");
}

TEST(MagicPluginTest, FailsOnAZeroedOrShortImage) {
  std::unique_ptr<Oracle> oracle =
      Make("plugin:" + Runfile(kMagic) + ":0x438=53EF");
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckZeros(*oracle);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "device dev0: bytes at offset 1080 are 0000, expected 53ef");

  v = oracle->Check(Images(WriteImage("short.img", std::string(1081, 'S'))),
                    State());
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message,
            "device dev0: the image ends before offset 1080 + 2 (expected "
            "53ef there)");

  v = oracle->Check(Images(Tmp() + "/no-such-image"), State());
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message, "cannot open the image: No such file or directory");
}

TEST(MagicPluginTest, TraitsAreThoseOfThePlugin) {
  std::unique_ptr<Oracle> oracle = Make("plugin:" + Runfile(kMagic) + ":0=00");
  ASSERT_NE(oracle, nullptr);
  EXPECT_FALSE(oracle->traits().metadata_only);
  EXPECT_FALSE(oracle->traits().mutates_image);
  EXPECT_FALSE(oracle->traits().needs_root);
  EXPECT_TRUE(oracle->traits().deterministic);

  oracle = Make("plugin:" + Runfile("oracles/plugin_oracle_test_plugin_traits.so"));
  ASSERT_NE(oracle, nullptr);
  EXPECT_TRUE(oracle->traits().metadata_only);
  EXPECT_TRUE(oracle->traits().mutates_image);
  EXPECT_TRUE(oracle->traits().needs_root);
  EXPECT_FALSE(oracle->traits().deterministic);
}

TEST(MagicPluginTest, CreateErrorsAreInvalidArgument) {
  for (const auto& [args, why] : std::vector<std::pair<std::string, std::string>>{
           {"", "expected OFFSET=HEX (e.g. 1080=53ef), got ''"},
           {":1080", "expected OFFSET=HEX (e.g. 1080=53ef), got '1080'"},
           {":x=53ef", "expected OFFSET=HEX (e.g. 1080=53ef), got 'x=53ef'"},
           {":1080=5", "expected an even number of hex digits"},
           {":1080=zz", "'zz' is not hex"}}) {
    const std::string spec = "plugin:" + Runfile(kMagic) + args;
    absl::StatusOr<std::unique_ptr<Oracle>> oracle =
        MakeOracle(spec, OracleOptions());
    EXPECT_EQ(oracle.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(oracle.status().message(),
                HasSubstr("oracle '" + spec + "': create() failed: " + why));
  }
}

TEST(PluginOracleTest, VerdictsAndMessages) {
  std::unique_ptr<Oracle> pass = TestPlugin("pass");
  ASSERT_NE(pass, nullptr);
  Verdict v = CheckZeros(*pass);
  EXPECT_EQ(v.kind, VerdictKind::kPass);
  EXPECT_EQ(v.message, "");

  std::unique_ptr<Oracle> fail = TestPlugin("fail");
  ASSERT_NE(fail, nullptr);
  v = CheckZeros(*fail);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "failing as asked");

  std::unique_ptr<Oracle> error = TestPlugin("error");
  ASSERT_NE(error, nullptr);
  v = CheckZeros(*error);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message, "erroring as asked");

  std::unique_ptr<Oracle> bad = TestPlugin("bad-verdict");
  ASSERT_NE(bad, nullptr);
  v = CheckZeros(*bad);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message,
            "check() returned 7, not CRASHENUM_PASS, CRASHENUM_FAIL or "
            "CRASHENUM_ERROR: seven");

  std::unique_ptr<Oracle> exits = TestPlugin("exit");
  ASSERT_NE(exits, nullptr);
  v = CheckZeros(*exits);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message, "check() ended without a verdict (exit 3)");

  std::unique_ptr<Oracle> long_message = TestPlugin("long-message");
  ASSERT_NE(long_message, nullptr);
  v = CheckZeros(*long_message);
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, std::string(4095, 'x'));
}

TEST(PluginOracleTest, RequestCarriesTheStateAndEveryDevice) {
  std::unique_ptr<Oracle> oracle = TestPlugin("request");
  ASSERT_NE(oracle, nullptr);
  const std::string a = WriteImage("a.img", "a"), b = WriteImage("b.img", "b");
  Verdict v = oracle->Check({{"data", "log"}, {a, b}}, State("e42-u512-n3-5"));
  EXPECT_EQ(v.kind, VerdictKind::kFail);
  EXPECT_EQ(v.message, "state=e42-u512-n3-5 event=42 devices=2 data=" + a +
                           " log=" + b + " private_dir=1");
}

TEST(PluginOracleTest, ChecksRunConcurrently) {
  std::unique_ptr<Oracle> oracle = TestPlugin("request");
  ASSERT_NE(oracle, nullptr);
  const std::string a = WriteImage("a.img", "a"), b = WriteImage("b.img", "b");
  std::vector<std::string> messages(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        Verdict v = oracle->Check({{"data", "log"}, {a, b}},
                                  State(absl::StrCat("e", t, "-u512-n3-5")));
        if (v.message != absl::StrCat("state=e", t, "-u512-n3-5 event=", t,
                                      " devices=2 data=", a, " log=", b,
                                      " private_dir=1")) {
          messages[t] = v.message;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& m : messages) EXPECT_EQ(m, "");
}

TEST(PluginOracleTest, EachCheckStartsFromTheStateCreateLeft) {
  std::unique_ptr<Oracle> oracle = TestPlugin("count");
  ASSERT_NE(oracle, nullptr);
  EXPECT_EQ(CheckZeros(*oracle).message, "check number 1");
  EXPECT_EQ(CheckZeros(*oracle).message, "check number 1");
}

TEST(PluginOracleTest, ResourceLimitsOfTheOptions) {
  OracleOptions options;
  options.max_memory_bytes = uint64_t{3} << 30;
  options.max_file_size_bytes = uint64_t{5} << 20;
  std::unique_ptr<Oracle> oracle = TestPlugin("limits", options);
  ASSERT_NE(oracle, nullptr);
  struct rlimit as, fsize;
  getrlimit(RLIMIT_AS, &as);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // No address-space limit under a sanitizer (see plugin_oracle.h).
  const uint64_t expected_as = as.rlim_cur;
#else
  const uint64_t expected_as = uint64_t{3} << 30;
#endif
  EXPECT_EQ(CheckZeros(*oracle).message,
            absl::StrCat("as=", expected_as, " fsize=", 5 << 20));

  options.max_memory_bytes = 0;
  options.max_file_size_bytes = 0;
  oracle = TestPlugin("limits", options);
  ASSERT_NE(oracle, nullptr);
  getrlimit(RLIMIT_FSIZE, &fsize);
  EXPECT_EQ(CheckZeros(*oracle).message,
            absl::StrCat("as=", as.rlim_cur, " fsize=", fsize.rlim_cur));
}

TEST(PluginOracleTest, ACrashIsAnErrorNamingTheSignal) {
  std::unique_ptr<Oracle> oracle = TestPlugin("crash");
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckZeros(*oracle);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message, "killed by signal 11 (SIGSEGV): about to crash");

  oracle = TestPlugin("noisy");
  ASSERT_NE(oracle, nullptr);
  v = CheckZeros(*oracle);
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_THAT(v.message, StartsWith("killed by signal 6 (SIGABRT): line "));
  EXPECT_THAT(v.message, HasSubstr("line 99999\nlast words"));
}

TEST(PluginOracleTest, AHangTimesOut) {
  OracleOptions options;
  options.timeout = absl::Seconds(1);
  std::unique_ptr<Oracle> oracle = TestPlugin("hang", options);
  ASSERT_NE(oracle, nullptr);
  const auto start = std::chrono::steady_clock::now();
  Verdict v = CheckZeros(*oracle);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(v.kind, VerdictKind::kError);
  EXPECT_EQ(v.message, "timed out after 1s");
  EXPECT_GE(elapsed, std::chrono::seconds(1));
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

// /proc/PID's state letter, or 0 when the process is gone.
char ProcessState(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  size_t paren = line.rfind(')');
  return paren + 2 < line.size() ? line[paren + 2] : 0;
}

TEST(PluginOracleTest, NothingTheCheckStartsOutlivesIt) {
  const std::string pid_file = Tmp() + "/orphan.pid";
  std::remove(pid_file.c_str());
  std::unique_ptr<Oracle> oracle = TestPlugin("orphan:" + pid_file);
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckZeros(*oracle);
  EXPECT_EQ(v.kind, VerdictKind::kPass) << v.message;
  std::string pid;
  std::ifstream(pid_file) >> pid;
  ASSERT_FALSE(pid.empty());
  char state = ProcessState(pid);
  for (int i = 0; i < 200 && state != 0 && state != 'Z'; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    state = ProcessState(pid);
  }
  EXPECT_TRUE(state == 0 || state == 'Z') << "process " << pid << " state "
                                          << state;
}

TEST(PluginOracleTest, ScratchDirectoryIsRemoved) {
  OracleOptions options;
  options.scratch_dir = Tmp() + "/plugin-scratch";
  ASSERT_EQ(std::system(("rm -rf " + options.scratch_dir + " && mkdir " +
                         options.scratch_dir)
                            .c_str()),
            0);
  std::unique_ptr<Oracle> oracle = TestPlugin("request", options);
  ASSERT_NE(oracle, nullptr);
  Verdict v = CheckZeros(*oracle);
  EXPECT_THAT(v.message, HasSubstr("private_dir=1"));
  EXPECT_EQ(std::system(("test -z \"$(ls -A " + options.scratch_dir + ")\"")
                            .c_str()),
            0);
}

absl::Status MakeError(const std::string& spec) {
  absl::StatusOr<std::unique_ptr<Oracle>> oracle =
      MakeOracle(spec, OracleOptions());
  return oracle.status();
}

TEST(PluginOracleTest, LoadErrors) {
  absl::Status s = MakeError("plugin:");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "oracle 'plugin:': empty library path after 'plugin:'");

  const std::string missing = Tmp() + "/no-such-plugin.so";
  s = MakeError("plugin:" + missing + ":args");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cannot load " + missing + ": "));
  EXPECT_THAT(s.message(), HasSubstr("No such file or directory"));

  const std::string text = WriteImage("not-a-library.so", "hello");
  s = MakeError("plugin:" + text);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("cannot load " + text + ": "));

  const std::string no_entry =
      Runfile("oracles/plugin_oracle_test_plugin_no_entry.so");
  s = MakeError("plugin:" + no_entry);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr(no_entry +
                        " does not export crashenum_oracle_plugin_v1: "));
  EXPECT_THAT(s.message(), HasSubstr("undefined symbol"));

  const std::string abi2 = Runfile("oracles/plugin_oracle_test_plugin_abi2.so");
  s = MakeError("plugin:" + abi2);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "oracle 'plugin:" + abi2 + "': " + abi2 +
                             ": plugin ABI version 2, but crashenum supports 1");

  s = MakeError("plugin:" + Runfile(kTest) + ":fail-create");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("create() failed: create failed as asked"));
}

// A plugin that needs root cannot be loaded by another user.
TEST(PluginOracleTest, NeedsRootWithoutRoot) {
  if (geteuid() != 0) {
    absl::Status s = MakeError(
        "plugin:" + Runfile("oracles/plugin_oracle_test_plugin_traits.so"));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), HasSubstr("the plugin needs root"));
    return;
  }
  // As root: try it in a child that drops to "nobody", with a copy of the
  // plugin that user can read.
  char dir[] = "/tmp/crashenum-plugin-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string copy = std::string(dir) + "/traits.so";
  ASSERT_EQ(std::system(("chmod 755 " + std::string(dir) + " && cp " +
                         Runfile("oracles/plugin_oracle_test_plugin_traits.so") +
                         " " + copy + " && chmod 755 " + copy)
                            .c_str()),
            0);
  const std::string spec = "plugin:" + copy;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setresuid(65534, 65534, 65534) != 0) _exit(10);
    absl::Status s = MakeError(spec);
    _exit(s.code() == absl::StatusCode::kFailedPrecondition &&
                  s.message() == "oracle '" + spec + "': the plugin needs root"
              ? 0
              : 11);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(std::system(("rm -rf " + std::string(dir)).c_str()), 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 10) {
    GTEST_SKIP() << "skipped: cannot switch to another user here (a user "
                    "namespace that maps root only, e.g. Bazel's sandbox)";
  }
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace crashenum
