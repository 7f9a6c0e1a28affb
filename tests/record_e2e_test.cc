// crashenum record against the real kernel: ext4 (default options and
// barrier=0), xfs and btrfs, each running tests/workloads/fsync-rename.sh.
// Needs root, /dev/fuse, loop devices and the mkfs tools; each test says it
// was skipped, and why, without them.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"
#include "traces/block_events.h"
#include "traces/trace_reader.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

std::string Bin() {
  char cwd[4096];
  return std::string(::getcwd(cwd, sizeof cwd)) + "/cli/crashenum";
}

Result Crashenum(const std::string& args) { return Sh(Bin() + " " + args); }

std::string SkipReason(const std::string& fs) {
  if (::geteuid() != 0) return "needs root (loop devices, mounts)";
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "needs /dev/fuse";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) {
    return "needs loop devices";
  }
  if (Sh("PATH=$PATH:/sbin:/usr/sbin command -v mkfs." + fs).exit_code != 0) {
    return "mkfs." + fs + " is not installed";
  }
  return "";
}

#define SKIP_WITHOUT(fs)                                           \
  do {                                                             \
    const std::string why = SkipReason(fs);                        \
    if (!why.empty()) GTEST_SKIP() << "skipped: " << why;          \
  } while (0)

// Records the workload; returns the trace path. `events` receives the
// tracefs text.
std::string RecordWorkload(const std::string& fs, const std::string& size,
                           const std::string& mount_opts,
                           const std::string& name) {
  const std::string out = Tmp() + "/" + name + ".trace";
  const std::string events = Tmp() + "/" + name + ".events";
  Result r = Crashenum(absl::StrCat(
      "record --fs=", fs, " --size=", size,
      mount_opts.empty() ? "" : " --mount-opts=" + mount_opts, " -o ", out,
      " --events=", events, " -- sh tests/workloads/fsync-rename.sh"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrote " + out));
  return out;
}

// The last line of a --json report (its summary line).
nlohmann::json Summary(const std::string& json) {
  const std::vector<nlohmann::json> lines = JsonLines(json);
  return lines.empty() ? nlohmann::json() : lines.back();
}

std::vector<std::string> Labels(const Trace& t) {
  std::vector<std::string> out;
  for (const Mark& m : t.marks()) out.push_back(m.label);
  return out;
}

TEST(RecordE2eTest, Ext4DefaultOptionsHasNoFailures) {
  SKIP_WITHOUT("ext4");
  const std::string trace = RecordWorkload("ext4", "64M", "", "ext4");
  auto t = ReadTrace(trace, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->format(), "crashenum");
  EXPECT_THAT(Labels(*t), ::testing::ElementsAre("mkfs", "fsync-file",
                                                 "rename", "umount"));
  const std::string json = Tmp() + "/ext4.json";
  Result r = Crashenum("check " + trace +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none --prune=none -q"
                       " --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json s = Summary(json)["summary"];
  EXPECT_GT(s["distinct_images"].get<int>(), 10) << s;
  EXPECT_EQ(s["failures"], 0) << s;
  EXPECT_EQ(s["errors"], 0) << s;
}

// ext4's journal commit, as the file system asked for it, is a PREFLUSH|FUA
// write (tracefs: "FWFS..."); the loop device turns it into flush, write,
// flush. The recorded trace keeps both: the three requests, with the
// write's flags those of the bio.
TEST(RecordE2eTest, Ext4FlagsMatchTheKernelsBlockEvents) {
  SKIP_WITHOUT("ext4");
  const std::string trace = RecordWorkload("ext4", "64M", "", "ext4-flags");
  auto t = ReadTrace(trace, {});
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string text = ReadFile(Tmp() + "/ext4-flags.events");
  if (text.empty()) GTEST_SKIP() << "skipped: no tracefs block events";
  std::vector<BlockEvent> commits;
  uint64_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    auto e = ParseTracefsLine(line, ++line_number);
    ASSERT_TRUE(e.ok()) << e.status();
    if (e->has_value() && (*e)->action == BlockAction::kQueue &&
        (*e)->is_write && (*e)->num_sectors > 0 &&
        ((*e)->flags & (kPreflush | kFua)) == (kPreflush | kFua)) {
      commits.push_back(**e);
    }
  }
  ASSERT_GE(commits.size(), 2u) << "expected journal commits (FWFS bios)";
  const std::vector<Op>& ops = t->ops();
  for (const BlockEvent& c : commits) {
    SCOPED_TRACE(absl::StrCat("bio ", c.rwbs, " ", c.sector, " + ",
                              c.num_sectors));
    // The write of that bio, with its flags, between two flushes.
    size_t found = ops.size();
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind == OpKind::kWrite && ops[i].sector == c.sector &&
          (ops[i].flags & (kPreflush | kFua)) == (kPreflush | kFua)) {
        found = i;
      }
    }
    ASSERT_LT(found, ops.size());
    EXPECT_EQ(ops[found].flags & (kMeta | kSync), c.flags & (kMeta | kSync));
    ASSERT_GT(found, 0u);
    EXPECT_EQ(ops[found - 1].kind, OpKind::kFlush);
    ASSERT_LT(found + 1, ops.size());
    EXPECT_EQ(ops[found + 1].kind, OpKind::kFlush);
    // It completes (for the file system) with the flush after it.
    EXPECT_EQ(t->complete_event(found) + 1, t->complete_event(found + 1));
  }
}

// --oracle-reads=metadata on a trace with the kernel's flags: ext4's file
// data goes out without META, its journal and metadata with it, so taking
// the data writes as persisted leaves fewer states and images to judge,
// with the same (clean) verdict; read-set pruning keeps the counts.
TEST(RecordE2eTest, Ext4MetadataOnlyOnARecordedTrace) {
  SKIP_WITHOUT("ext4");
  const std::string trace = RecordWorkload("ext4", "64M", "", "ext4-meta");
  auto t = ReadTrace(trace, {});
  ASSERT_TRUE(t.ok()) << t.status();
  size_t meta = 0, plain = 0;
  for (const Op& op : t->ops()) {
    if (op.kind != OpKind::kWrite) continue;
    ((op.flags & kMeta) != 0 ? meta : plain) += 1;
  }
  if (meta == 0) {
    GTEST_SKIP() << "skipped: no tracefs block events, so no write carries "
                    "the kernel's META flag";
  }
  ASSERT_GT(plain, 0u) << "expected file data written without META";
  auto run = [&](const std::string& name, const std::string& extra) {
    const std::string json = Tmp() + "/" + name + ".json";
    Result r = Crashenum("check " + trace +
                         " --oracle=ext4-fsck --from-mark=mkfs --torn=none -q"
                         " --json=" +
                         json + " " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return Summary(json)["summary"];
  };
  const nlohmann::json all = run("meta-all", "--prune=none");
  const nlohmann::json only =
      run("meta-only", "--prune=none --oracle-reads=metadata");
  const nlohmann::json pruned = run("meta-z3", "--oracle-reads=metadata");
  EXPECT_LT(only["states"].get<uint64_t>(), all["states"].get<uint64_t>())
      << only << "\n"
      << all;
  EXPECT_LT(only["distinct_images"].get<uint64_t>(),
            all["distinct_images"].get<uint64_t>());
  EXPECT_GT(only["distinct_images"].get<uint64_t>(), 0u);
  for (const nlohmann::json* s : {&all, &only, &pruned}) {
    EXPECT_EQ((*s)["failures"], 0) << *s;
    EXPECT_EQ((*s)["errors"], 0) << *s;
  }
  EXPECT_EQ(pruned["states"], only["states"]);
  EXPECT_LE(pruned["oracle_runs"].get<uint64_t>(),
            only["oracle_runs"].get<uint64_t>());
}

TEST(RecordE2eTest, Ext4WithoutBarriersFailsAndEachFailureReproduces) {
  SKIP_WITHOUT("ext4");
  const std::string trace =
      RecordWorkload("ext4", "64M", "barrier=0", "ext4-nobarrier");
  auto t = ReadTrace(trace, {});
  ASSERT_TRUE(t.ok()) << t.status();
  for (const Op& op : t->ops()) {
    // No flush requests at all after mkfs's: barrier=0 asks for none.
    EXPECT_EQ(op.flags & (kPreflush | kFua), 0u);
  }
  const std::string json = Tmp() + "/ext4-nobarrier.json";
  Result r = Crashenum("check " + trace +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none --prune=none"
                       " --drop-at-most=1 -q --json=" + json);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  int failures = 0;
  for (const nlohmann::json& f : JsonLines(json)) {
    if (!f.contains("repro")) continue;
    ++failures;
    const std::string image = Tmp() + "/nobarrier-" +
                              std::to_string(failures) + ".img";
    std::string repro = f["repro"];
    ASSERT_EQ(repro.rfind("crashenum materialize ", 0), 0u) << repro;
    ASSERT_NE(repro.find("-o crash.img"), std::string::npos) << repro;
    repro.replace(0, 9, Bin());
    repro.replace(repro.find("-o crash.img"), 12, "-o " + image);
    Result m = Sh(repro);
    ASSERT_EQ(m.exit_code, 0) << repro << "\n" << m.output;
    // The oracle's own two steps, run by hand as it runs them (its clock
    // and config: no time checks): replay the journal (e2fsck asks whether
    // to run a journal that holds data under a clear needs_recovery flag,
    // and -n would answer no), then check. The state fails when either
    // exits non-zero: a replay that had to correct something (exit 1)
    // leaves an image the check then passes.
    const std::string e2fsck =
        "printf '[options]\\n\\tbroken_system_clock = 1\\n' >" + image +
        ".conf && PATH=$PATH:/sbin E2FSCK_CONFIG=" + image +
        ".conf E2FSCK_TIME=2000000000 e2fsck ";
    Result replay = Sh(e2fsck + "-E journal_only -y " + image);
    Result fsck = Sh(e2fsck + "-fn " + image);
    EXPECT_TRUE(replay.exit_code != 0 || fsck.exit_code != 0)
        << "state " << f["state"] << " failed the check ("
        << f["message"].get<std::string>()
        << ") but passes the journal replay and e2fsck -fn by hand:\n"
        << replay.output << fsck.output;
    ::unlink((image + ".conf").c_str());
    ::unlink(image.c_str());
  }
  EXPECT_GT(failures, 0);
}

// Writes submitted between the last two marks of `t`.
int WritesBeforeLastMark(const Trace& t) {
  if (t.marks().size() < 2) return 0;
  int writes = 0;
  const uint32_t from = t.marks()[t.marks().size() - 2].event;
  for (uint32_t e = from; e < t.marks().back().event; ++e) {
    const Event& ev = t.events()[e];
    writes +=
        ev.kind == EventKind::kSubmit && t.ops()[ev.op].kind == OpKind::kWrite;
  }
  return writes;
}

// Processes that copy the mount table while the recording's file system is
// mounted (unshare -m, as sandboxes and service managers do) would keep it
// alive after its unmount, and its unmount's writes out of the trace: the
// recorder's mounts are private to it, so they copy none of them. Here the
// workload's second append to data/log reaches the disk only at the
// unmount.
TEST(RecordE2eTest, MountNamespacesCopiedMeanwhileDoNotHoldTheFileSystem) {
  SKIP_WITHOUT("ext4");
  if (Sh("command -v unshare").exit_code != 0) {
    GTEST_SKIP() << "skipped: needs unshare(1)";
  }
  const std::string trace = Tmp() + "/copied-namespaces.trace";
  Result r =
      Sh("(for i in $(seq 40); do unshare -m sleep 2 & sleep 0.1; "
         "done; wait) & " +
         Bin() + " record --fs=ext4 --size=16M -o " + trace +
         " -- sh tests/workloads/durable-steps.sh no-dirty; rc=$?; "
         "wait; exit $rc");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto t = ReadTrace(trace, {});
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_FALSE(t->marks().empty());
  EXPECT_EQ(t->marks().back().label, "umount");
  EXPECT_GT(WritesBeforeLastMark(*t), 0)
      << "the unmount wrote nothing to the trace";
}

// A file system kept alive after its unmount (here by the workload, which
// copies the mount table into a namespace of its own that outlives it) is
// a failed recording, exit 3, with a valid trace that ends before the
// unmount: never a trace that silently lacks the unmount's writes.
TEST(RecordE2eTest, AFileSystemHeldAfterItsUnmountFailsTheRecording) {
  SKIP_WITHOUT("ext4");
  if (Sh("command -v unshare && command -v setsid").exit_code != 0) {
    GTEST_SKIP() << "skipped: needs unshare(1) and setsid(1)";
  }
  const std::string trace = Tmp() + "/held.trace";
  const std::string holder = Tmp() + "/holder.pid";
  // The holder outlives the recording by far: the recorder must not wait
  // for it (`timeout` turns a hang into exit 124).
  Result r =
      Sh("timeout 120 " + Bin() + " record --fs=ext4 --size=16M -o " + trace +
         " -- 'echo x > $CRASHENUM_MNT/f; setsid unshare -m sleep 600 "
         "</dev/null >/dev/null 2>&1 & echo $! > " +
         holder + "; sleep 0.5'");
  Sh("kill $(cat " + holder + ")");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("still in use after its unmount"));
  auto t = ReadTrace(trace, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Labels(*t), ::testing::ElementsAre("mkfs"));
}

// `limit` narrows the states checked (each costs a loop mount).
void RecordAndCheckWithMount(const std::string& fs, const std::string& size,
                             const std::string& limit) {
  const std::string trace = RecordWorkload(fs, size, "", fs);
  auto t = ReadTrace(trace, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Labels(*t), ::testing::ElementsAre("mkfs", "fsync-file",
                                                 "rename", "umount"));
  const std::string json = Tmp() + "/" + fs + ".json";
  Result r = Crashenum("check " + trace + " --oracle='exec:sh " +
                       "tests/oracles/mount-check.sh " + fs +
                       " {image}' --from-mark=mkfs --torn=none " + limit +
                       " -q --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json s = Summary(json)["summary"];
  EXPECT_GT(s["distinct_images"].get<int>(), 1) << s;
  EXPECT_EQ(s["failures"], 0) << s;
  EXPECT_EQ(s["errors"], 0) << s;
}

TEST(RecordE2eTest, XfsHasNoFailures) {
  SKIP_WITHOUT("xfs");
  // Every crash point after mkfs, every subset of its writes (whole).
  RecordAndCheckWithMount("xfs", "320M", "");
}

TEST(RecordE2eTest, BtrfsHasNoFailures) {
  SKIP_WITHOUT("btrfs");
  // Every crash point after mkfs, at most one write left out (exhaustively,
  // the trace has some 16,000 states).
  RecordAndCheckWithMount("btrfs", "128M", "--drop-at-most=1");
}

// The block events `record` captured, read as tracefs text with the recorded
// trace as their data capture: the file system's own bios, each with its
// bytes. With barriers nothing fails; without, something does.
TEST(RecordE2eTest, RecordedEventsWithTheTraceAsDataCapture) {
  SKIP_WITHOUT("ext4");
  for (const std::string& opts : {std::string(""), std::string("barrier=0")}) {
    SCOPED_TRACE(opts);
    const std::string name = opts.empty() ? "bio" : "bio-nobarrier";
    const std::string trace = RecordWorkload("ext4", "16M", opts, name);
    const std::string events = Tmp() + "/" + name + ".events";
    Result r = Crashenum("info " + events + " --data=" + trace);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    if (r.output.find("(blktrace+data)") == std::string::npos) {
      GTEST_SKIP() << "skipped: no tracefs block events were captured";
    }
    const std::string json = Tmp() + "/" + name + ".json";
    r = Crashenum("check " + events + " --data=" + trace +
                  " --oracle=ext4-fsck --from-mark=mkfs --torn=none --prune=none"
                  " --drop-at-most=1 -q --json=" + json);
    const nlohmann::json s = Summary(json)["summary"];
    if (opts.empty()) {
      EXPECT_EQ(r.exit_code, 0) << r.output;
      EXPECT_EQ(s["failures"], 0) << s;
    } else {
      EXPECT_EQ(r.exit_code, 1) << r.output;
      EXPECT_GT(s["failures"].get<int>(), 0) << s;
    }
    EXPECT_GT(s["distinct_images"].get<int>(), 10) << s;
  }
}

// tests/testdata/make-fixtures.sh records the fixtures afresh; the fresh
// pair gives the answers tests/testdata/README.md gives for the committed one.
TEST(RecordE2eTest, FreshFixturesGiveTheReferenceAnswers) {
  SKIP_WITHOUT("ext4");
  const std::string dir = Tmp() + "/fixtures";
  ASSERT_EQ(Sh("mkdir -p " + dir).exit_code, 0);
  Result r = Sh("CRASHENUM=" + Bin() + " sh tests/testdata/make-fixtures.sh " +
                dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  struct Case {
    std::string log, limit;
    int images, failing;
  };
  for (const Case& c : std::vector<Case>{
           {"ext4-append-rename.log", "--drop-at-most=1", 33, 0},
           {"ext4-append-rename.log", "", 92, 0},
           {"ext4-append-rename-nobarrier.log", "--drop-at-most=1", 21, 6}}) {
    SCOPED_TRACE(c.log + " " + c.limit);
    const std::string json = Tmp() + "/fixture.json";
    r = Crashenum("check " + dir + "/" + c.log +
                  " --oracle=ext4-fsck --from-mark=mkfs --torn=none --prune=none " +
                  c.limit + " -q --json=" + json);
    EXPECT_EQ(r.exit_code, c.failing > 0 ? 1 : 0) << r.output;
    const nlohmann::json s = Summary(json)["summary"];
    EXPECT_EQ(s["distinct_images"], c.images) << s;
    EXPECT_EQ(s["failing_images"], c.failing) << s;
  }
}

TEST(RecordE2eTest, MissingPiecesAreNamedWithExitCode2) {
  Result r = Crashenum("record --fs=zfs -o " + Tmp() + "/x -- true");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ext4, xfs or btrfs"));
  r = Crashenum("record --fs=ext4 -o " + Tmp() + "/x");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no workload"));
  r = Crashenum("mark x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("CRASHENUM_MARK is not set"));
  if (::geteuid() != 0) {
    r = Crashenum("record --fs=ext4 -o " + Tmp() + "/x -- true");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr("needs root"));
  }
}

TEST(RecordE2eTest, FailingWorkloadStillLeavesAValidTraceAndCleansUp) {
  SKIP_WITHOUT("ext4");
  const std::string out = Tmp() + "/failing.trace";
  Result r = Crashenum(
      "record --fs=ext4 -o " + out +
      " -- sh -c 'echo partial > $CRASHENUM_MNT/f && echo half-way >> "
      "$CRASHENUM_MARK && exit 7'");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("exited with status 7"));
  EXPECT_THAT(r.output, HasSubstr("is valid"));
  auto t = ReadTrace(out, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Labels(*t),
              ::testing::ElementsAre("mkfs", "half-way", "umount"));
  // Nothing is left mounted or attached.
  EXPECT_THAT(Sh("grep crashenum-record /proc/mounts").output, "");
  EXPECT_THAT(Sh("losetup -a").output,
              ::testing::Not(HasSubstr("crashenum-record")));
}

TEST(RecordE2eTest, SigtermCleansUpAndKeepsTheTrace) {
  SKIP_WITHOUT("ext4");
  const std::string out = Tmp() + "/interrupted.trace";
  // The workload signals its recorder's process once it is running.
  Result r = Crashenum(
      "record --fs=ext4 -o " + out +
      " -- sh -c 'echo started >> $CRASHENUM_MARK; kill -TERM $PPID; "
      "sleep 30'");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("interrupted by SIGTERM"));
  auto t = ReadTrace(out, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(Labels(*t), ::testing::ElementsAre("mkfs", "started", "umount"));
  EXPECT_THAT(Sh("grep crashenum-record /proc/mounts").output, "");
}

}  // namespace
}  // namespace crashenum
