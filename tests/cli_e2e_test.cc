// End-to-end tests of the crashenum binary on the real ext4 traces in
// tests/testdata (see their README): exact image and failure counts, exit
// codes, JSON reports, repro commands, worker-count independence, and bad
// input.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/trace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e_util.h"
#include "traces/crashenum_format.h"

namespace crashenum {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

const char kBarrier[] = "tests/testdata/ext4-append-rename.log";
const char kNoBarrier[] = "tests/testdata/ext4-append-rename-nobarrier.log";

Result Crashenum(const std::string& args) {
  return Sh("cli/crashenum " + args);
}

bool HaveE2fsck() {
  return Sh("command -v e2fsck || test -x /sbin/e2fsck").exit_code == 0;
}

TEST(CheckE2eTest, BarrierTraceOneDropHas33ImagesNoneFailing) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/barrier.json";
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none --prune=none"
                       " --drop-at-most=1 -q --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> lines = JsonLines(json);
  ASSERT_EQ(lines.size(), 1u) << r.output;
  const nlohmann::json& s = lines[0]["summary"];
  EXPECT_EQ(s["distinct_images"], 33);
  EXPECT_EQ(s["oracle_runs"], 33);
  EXPECT_EQ(s["failures"], 0);
  EXPECT_EQ(s["errors"], 0);
  EXPECT_EQ(s["crash_points"], 18);
}

TEST(CheckE2eTest, BarrierTraceExhaustiveHas92ImagesNoneFailing) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/exhaustive.json";
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none --prune=none -q"
                       " --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json s = JsonLines(json).back()["summary"];
  EXPECT_EQ(s["distinct_images"], 92);
  EXPECT_EQ(s["failures"], 0);
}

TEST(CheckE2eTest, NoBarrierTraceHasSixFailingImagesThatReproduce) {
  if (!HaveE2fsck()) GTEST_SKIP() << "e2fsck (e2fsprogs) is not installed";
  const std::string json = Tmp() + "/nobarrier.json";
  Result r = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=ext4-fsck --from-mark=mkfs --torn=none --prune=none"
                       " --drop-at-most=1 -j 2 --json=" + json);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("reproduce: crashenum materialize"));
  std::vector<nlohmann::json> lines = JsonLines(json);
  ASSERT_FALSE(lines.empty());
  const nlohmann::json s = lines.back()["summary"];
  EXPECT_EQ(s["distinct_images"], 21);
  EXPECT_EQ(s["failing_images"], 6);
  EXPECT_EQ(s["failures"], 6);
  ASSERT_EQ(lines.size(), 7u);
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    const nlohmann::json& f = lines[i];
    EXPECT_EQ(f["verdict"], "FAIL");
    EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("e2fsck"));
    // The repro command rebuilds an image that e2fsck itself rejects.
    std::string repro = f["repro"];
    ASSERT_EQ(repro.rfind("crashenum materialize ", 0), 0u) << repro;
    const std::string img = Tmp() + "/repro" + std::to_string(i) + ".img";
    repro.replace(0, 9, "cli/crashenum");
    repro.replace(repro.find("-o crash.img"), 12, "-o " + img);
    Result m = Sh(repro);
    ASSERT_EQ(m.exit_code, 0) << m.output;
    Sh("e2fsck -E journal_only -y " + img);  // replay the journal, as mount
    Result fsck = Sh("e2fsck -fn " + img);
    EXPECT_NE(fsck.exit_code, 0) << f["state"] << "\n" << fsck.output;
    // check --state judges exactly that state the same way.
    Result one = Crashenum(std::string("check ") + kNoBarrier +
                           " --oracle=ext4-fsck --state=" +
                           f["state"].get<std::string>());
    EXPECT_EQ(one.exit_code, 1) << one.output;
  }
}

TEST(CheckE2eTest, ResultsDoNotDependOnWorkerCount) {
  const std::string a = Tmp() + "/j1.json", b = Tmp() + "/j2.json";
  // A deterministic oracle of our own: fails when byte 4096.. of the image
  // hashes to an odd value, so some states fail and some pass.
  const std::string oracle =
      "'--oracle=exec:test $(( $(od -An -tu1 -j 1024 -N 64 {image} | "
      "tr -s \" \" \"\\n\" | awk \"{s+=\\$1} END {print s}\") % 2 )) -eq 0'";
  for (const auto& [jobs, json] : {std::pair{"1", a}, std::pair{"2", b}}) {
    Result r = Crashenum(std::string("check ") + kNoBarrier + " " + oracle +
                         " --from-mark=mkfs --torn=none --drop-at-most=2 -q -j " +
                         jobs + " --prune=none --json=" + json);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.output;
  }
  EXPECT_FALSE(ReadFile(a).empty());
  EXPECT_EQ(ReadFile(a), ReadFile(b));
  // Searched (the default), which runs are saved depends on timing; the
  // states, failures and failing states do not.
  for (const auto& [jobs, json] : {std::pair{"1", a}, std::pair{"2", b}}) {
    Result r = Crashenum(std::string("check ") + kBarrier + " " + oracle +
                         " --from-mark=mkfs --torn=none -q -j " + jobs +
                         " --json=" + json);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.output;
  }
  std::vector<nlohmann::json> la = JsonLines(a), lb = JsonLines(b);
  ASSERT_EQ(la.size(), lb.size());
  ASSERT_FALSE(la.empty());
  for (size_t i = 0; i + 1 < la.size(); ++i) EXPECT_EQ(la[i], lb[i]);
  EXPECT_EQ(la.back()["summary"]["states"], lb.back()["summary"]["states"]);
  EXPECT_EQ(la.back()["summary"]["failures"], lb.back()["summary"]["failures"]);
}

TEST(CheckE2eTest, ExecOracleVerdictsAndExitCodes) {
  Result pass = Crashenum(std::string("check ") + kBarrier +
                          " --oracle=exec:true --from-mark=fsync\\ logs/journal.txt\\ 3"
                          " --torn=none -q");
  EXPECT_EQ(pass.exit_code, 0) << pass.output;
  Result fail = Crashenum(std::string("check ") + kBarrier +
                          " --oracle=exec:false --from-mark=umount -q");
  EXPECT_EQ(fail.exit_code, 1) << fail.output;
  EXPECT_THAT(fail.output, HasSubstr("1 failing images (1 failing states)"));
  Result error = Crashenum(std::string("check ") + kBarrier +
                           " '--oracle=exec:kill -9 $$' --from-mark=umount -q");
  EXPECT_EQ(error.exit_code, 3) << error.output;
}

// The example plugin on a real trace: the ext4 super block magic is in
// every state after mkfs; a magic no image holds fails every state.
TEST(CheckE2eTest, ExamplePluginOracleOnTheRecordedTrace) {
  const std::string plugin = "examples/plugin/magic_oracle.so";
  const std::string json = Tmp() + "/plugin.json";
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=plugin:" + plugin +
                       ":1080=53ef --from-mark=mkfs --torn=none"
                       " --drop-at-most=1 -q --json=" + json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("oracle plugin:"));
  nlohmann::json s = JsonLines(json).back()["summary"];
  EXPECT_EQ(s["distinct_images"], 33);
  EXPECT_EQ(s["failures"], 0);
  r = Crashenum(std::string("check ") + kBarrier + " --oracle=plugin:" +
                plugin +
                ":1080=0000 --from-mark=mkfs --torn=none --drop-at-most=1 -q"
                " --json=" + json);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  s = JsonLines(json).back()["summary"];
  EXPECT_EQ(s["failures"], s["states"]);
  EXPECT_EQ(s["failing_images"], 33);
}

TEST(CheckE2eTest, RefusesHugeSpacesWithTheCount) {
  Result r = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=exec:true --from-mark=mkfs --prune=none");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("more than --max-states=1000000"));
  EXPECT_THAT(r.output, HasSubstr("2^"));
  EXPECT_THAT(r.output, HasSubstr("or prune with --prune=z3"));
}

// The same 2^99 states with the search (the default): `true` reads
// nothing, so its first run covers them all. (A second state the search
// queued while that run was pending takes its verdict without a run.)
TEST(CheckE2eTest, SearchCoversHugeSpacesAnOracleDoesNotRead) {
  const std::string json = Tmp() + "/huge.json";
  Result r = Crashenum(std::string("check ") + kNoBarrier +
                       " --oracle=exec:true --from-mark=mkfs -j 1 --json=" +
                       json);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              ContainsRegex("e392    2\\^99\\.0 covered \\(0 "
                            "failing\\), [12] visited, 1 oracle runs"));
  const nlohmann::json s = JsonLines(json).back()["summary"];
  EXPECT_EQ(s["states"], "2^99.0");
  EXPECT_EQ(s["failures"], 0);
  EXPECT_EQ(s["oracle_runs"], 1);
  ASSERT_EQ(s["searched_points"].size(), 1u);
  EXPECT_EQ(s["searched_points"][0]["states_log2"], 99.0);
}

TEST(CheckE2eTest, BadUsageAndInputExitTwo) {
  EXPECT_EQ(Crashenum("check").exit_code, 2);
  EXPECT_EQ(Crashenum("frobnicate").exit_code, 2);
  Result no_oracle = Crashenum(std::string("check ") + kBarrier);
  EXPECT_EQ(no_oracle.exit_code, 2);
  EXPECT_THAT(no_oracle.output, HasSubstr("--oracle"));
  Result bad_oracle = Crashenum(std::string("check ") + kBarrier + " --oracle=zfs");
  EXPECT_EQ(bad_oracle.exit_code, 2);
  EXPECT_THAT(bad_oracle.output, HasSubstr("unknown oracle 'zfs'"));
  Result bad_mark = Crashenum(std::string("check ") + kBarrier +
                              " --oracle=exec:true --from-mark=nope");
  EXPECT_EQ(bad_mark.exit_code, 2);
  EXPECT_THAT(bad_mark.output, HasSubstr("'mkfs'"));
  Result missing = Crashenum("check /nonexistent.log --oracle=exec:true");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.output, HasSubstr("/nonexistent.log"));

  // A log cut in the middle of entry 5's data.
  const std::string cut = Tmp() + "/cut.log";
  Sh(std::string("head -c 4000 ") + kBarrier + " > " + cut);
  Result truncated = Crashenum("check " + cut + " --oracle=exec:true");
  EXPECT_EQ(truncated.exit_code, 2) << truncated.output;
  EXPECT_THAT(truncated.output, HasSubstr("entry"));
  EXPECT_THAT(truncated.output, HasSubstr("byte"));
  // Wrong magic.
  const std::string junk = Tmp() + "/junk.log";
  Sh("head -c 8192 /dev/zero | tr '\\0' x > " + junk);
  Result magic = Crashenum("info " + junk);
  EXPECT_EQ(magic.exit_code, 2);
  EXPECT_THAT(magic.output, HasSubstr("unknown trace format"));
  // A state ID from elsewhere.
  Result bad_state = Crashenum(std::string("materialize ") + kBarrier +
                               " --state=e1-u512-n9-000 -o " + Tmp() + "/x.img");
  EXPECT_EQ(bad_state.exit_code, 2);
  EXPECT_THAT(bad_state.output, HasSubstr("has 9 bits"));
}

TEST(InfoE2eTest, ListsMarksAndCrashPoints) {
  Result r = Crashenum(std::string("info ") + kBarrier + " --from-mark=mkfs");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("32768 sectors (16 MiB)"));
  EXPECT_THAT(r.output, HasSubstr("entry 166 (event 332): mkfs"));
  EXPECT_THAT(r.output, HasSubstr("crash points: 18"));
  EXPECT_THAT(r.output, HasSubstr("flushes 29"));
}

TEST(MaterializeE2eTest, WritesTheFinalImage) {
  // After umount every write is durable: the only state is the clean
  // filesystem. exec:false makes it a finding, so the JSON names its ID.
  const std::string json = Tmp() + "/final.json";
  Result r = Crashenum(std::string("check ") + kBarrier +
                       " --oracle=exec:false --from-mark=umount -q --json=" +
                       json);
  ASSERT_EQ(r.exit_code, 1) << r.output;
  const std::string state = JsonLines(json)[0]["state"];
  EXPECT_EQ(state.rfind("e440-u512-", 0), 0u) << state;
  const std::string img = Tmp() + "/final.img";
  r = Crashenum(std::string("materialize ") + kBarrier + " --state=" + state +
                " -o " + img);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadFile(img).size(), 16u << 20);
  if (HaveE2fsck()) {
    Result fsck = Sh("e2fsck -fn " + img);
    EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
  }
}

// A two-device crashenum trace with what dm-log-writes cannot hold: an op in
// flight across others, a failed write, a SYNC write, a never-completed op
// and a base image.
std::string WriteTwoDeviceTrace() {
  static const std::string* base = new std::string(8 * 512, 'b');
  static const std::string* data = new std::string(512, 'd');
  const std::string path = Tmp() + "/two.cet";
  auto writer = CrashenumTraceWriter::Create(path);
  EXPECT_TRUE(writer.ok()) << writer.status();
  CrashenumTraceWriter& w = **writer;
  EXPECT_TRUE(w.AddInfo("tool", "cli_e2e_test").ok());
  Device disk;
  disk.name = "disk";
  disk.num_sectors = 16;
  Device aux;
  aux.name = "aux";
  aux.num_sectors = 8;
  aux.base = *base;
  EXPECT_TRUE(w.AddDevice(disk).ok());
  EXPECT_TRUE(w.AddDevice(aux).ok());
  Op write;
  write.kind = OpKind::kWrite;
  write.num_sectors = 1;
  write.data = *data;
  const uint32_t a = *w.Submit(write);
  write.sector = 1;
  write.flags = kSync;
  const uint32_t b = *w.Submit(write);
  EXPECT_TRUE(w.Complete(b, -5).ok());
  EXPECT_TRUE(w.AddMark("between").ok());
  EXPECT_TRUE(w.Complete(a, 0).ok());
  write.device = 1;
  write.flags = 0;
  EXPECT_TRUE(w.Submit(write).ok());  // on aux, never completes
  write.device = 0;
  EXPECT_TRUE(w.Submit(write).ok());  // on disk, never completes
  EXPECT_TRUE(w.Finish().ok());
  return path;
}

TEST(ConvertE2eTest, LogToCrashenumAndBackIsByteIdentical) {
  for (const char* log : {kBarrier, kNoBarrier}) {
    SCOPED_TRACE(log);
    const std::string cet = Tmp() + "/converted.cet";
    const std::string back = Tmp() + "/back.log";
    Result r = Crashenum(std::string("convert ") + log + " -o " + cet +
                         " --format=crashenum");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_THAT(r.output, HasSubstr("nothing was dropped or changed"));
    r = Crashenum("convert " + cet + " -o " + back + " --format=dm-log-writes");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // Only the info record the first conversion added is lost.
    EXPECT_THAT(r.output, HasSubstr("\ndm-log-writes: dropped 1 info record "
                                    "(the log has no place for it)\n"));
    EXPECT_EQ(r.output.find("\ndm-log-writes: ", r.output.find("info record")),
              std::string::npos);
    EXPECT_EQ(ReadFile(back), ReadFile(log));
  }
}

// The line of `text` starting with `start`, and with `to_end` the lines
// after it too; empty when there is none.
std::string LineFrom(const std::string& text, const std::string& start,
                     bool to_end = false) {
  const size_t at = text.find("\n" + start);
  if (at == std::string::npos) return "";
  const size_t end = to_end ? std::string::npos : text.find('\n', at + 1);
  return text.substr(at + 1, end == std::string::npos ? end : end - at);
}

TEST(ConvertE2eTest, InfoAndCheckAgreeOnTheConvertedTrace) {
  const std::string cet = Tmp() + "/agree.cet";
  Result r = Crashenum(std::string("convert ") + kNoBarrier + " -o " + cet +
                       " --format=crashenum");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  Result info_log = Crashenum(std::string("info ") + kNoBarrier +
                              " --from-mark=mkfs --torn=none");
  Result info_cet = Crashenum("info " + cet + " --from-mark=mkfs --torn=none");
  ASSERT_EQ(info_log.exit_code, 0) << info_log.output;
  ASSERT_EQ(info_cet.exit_code, 0) << info_cet.output;
  EXPECT_THAT(info_cet.output, HasSubstr("(crashenum)"));
  EXPECT_THAT(info_cet.output,
              HasSubstr(std::string("note: ") + cet +
                        ": info converted-from: " + kNoBarrier +
                        " (dm-log-writes)\n"));
  EXPECT_THAT(info_cet.output, HasSubstr("32768 sectors (16 MiB)"));
  for (const char* start : {"device 0", "events:", "marks:"}) {
    EXPECT_NE(LineFrom(info_log.output, start), "") << start;
    EXPECT_EQ(LineFrom(info_cet.output, start),
              LineFrom(info_log.output, start));
  }
  EXPECT_NE(LineFrom(info_log.output, "crash points:", true), "");
  EXPECT_EQ(LineFrom(info_cet.output, "crash points:", true),
            LineFrom(info_log.output, "crash points:", true));

  // exec:true: the same summary. An oracle that fails some images: the same
  // failing states, images and verdicts.
  const std::string odd =
      "'--oracle=exec:test $(( $(od -An -tu1 -j 1024 -N 64 {image} | "
      "tr -s \" \" \"\\n\" | awk \"{s+=\\$1} END {print s}\") % 2 )) -eq 0'";
  for (const std::string& oracle : {std::string("--oracle=exec:true"), odd}) {
    std::vector<std::vector<nlohmann::json>> results;
    for (const std::string& trace : {std::string(kNoBarrier), cet}) {
      const std::string json = Tmp() + "/agree.json";
      Result c = Crashenum("check " + trace + " " + oracle +
                           " --from-mark=mkfs --torn=none --drop-at-most=1 -q "
                           "--prune=none --json=" + json);
      EXPECT_TRUE(c.exit_code == 0 || c.exit_code == 1) << c.output;
      std::vector<nlohmann::json> lines = JsonLines(json);
      for (nlohmann::json& line : lines) {
        line.erase("repro");
        // The summary names the trace file it came from.
        if (line.contains("summary")) {
          line["summary"].erase("trace");
          line["summary"].erase("trace_bytes");
        }
      }
      results.push_back(lines);
    }
    ASSERT_FALSE(results[0].empty());
    EXPECT_GT(results[0].back()["summary"]["states"], 1);
    EXPECT_EQ(results[0], results[1]) << oracle;
  }
}

TEST(ConvertE2eTest, SaysWhatDmLogWritesCannotHold) {
  const std::string two = WriteTwoDeviceTrace();
  const std::string out = Tmp() + "/two.log";
  Result r = Crashenum("convert " + two + " -o " + out +
                       " --format=dm-log-writes");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("the trace has 2 devices (disk, aux)"));
  EXPECT_EQ(ReadFile(out), "");

  r = Crashenum("convert " + two + " -o " + out +
                " --format=dm-log-writes --device=disk");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("note: " + two + ": info tool: cli_e2e_test"));
  const std::string expected[] = {
      "dm-log-writes: dropped 1 info record (the log has no place for it)",
      "dm-log-writes: kept device disk; dropped 1 device (aux) with 1 op",
      "dm-log-writes: dropped 1 op that never completed",
      "dm-log-writes: moved 1 op that was in flight across other events",
      "dm-log-writes: logged 1 failed op as successful",
      "dm-log-writes: dropped the SYNC flag of 1 op",
      "dm-log-writes: dropped the device name disk",
      "dm-log-writes: dropped the device size of 16 sectors (a reader infers "
      "2 from the log unless given a device size of 8192 bytes)",
  };
  for (const std::string& line : expected) {
    EXPECT_THAT(r.output, HasSubstr(line));
  }
  Result info = Crashenum("info " + out + " --device-size=8192");
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_THAT(info.output, HasSubstr("ops: 2 (writes 2"));
  EXPECT_THAT(info.output, HasSubstr("16 sectors"));

  r = Crashenum("convert " + two + " -o " + out +
                " --format=dm-log-writes --device=aux");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("dropped the base image of device aux "
                                  "(4096 bytes)"));
}

TEST(ConvertE2eTest, UsageAndWriteErrors) {
  const std::string out = Tmp() + "/usage.cet";
  Result r = Crashenum(std::string("convert ") + kBarrier + " -o " + out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--format"));
  r = Crashenum(std::string("convert ") + kBarrier + " --format=crashenum");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("-o OUT"));
  r = Crashenum(std::string("convert ") + kBarrier + " -o " + out +
                " --format=blktrace");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot write format 'blktrace'"));
  r = Crashenum(std::string("convert ") + kBarrier + " -o " + out +
                " --format=crashenum --device=dev0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = Crashenum("convert /nonexistent.log -o " + out + " --format=crashenum");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("/nonexistent.log"));

  // The output directory does not exist: an I/O failure, and nothing is
  // left behind.
  const std::string missing = Tmp() + "/missing-dir/x.cet";
  r = Crashenum(std::string("convert ") + kBarrier + " -o " + missing +
                " --format=crashenum");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr(missing + ".tmp-"));
  // A full disk, stood in for by a file size limit (ulimit -f): exit 3, the
  // old file stays, no temporary file is left.
  const std::string full = Tmp() + "/full-dir";
  Sh("rm -rf " + full + " && mkdir " + full + " && echo old > " + full +
     "/out.cet");
  r = Sh("trap '' XFSZ; ulimit -f 64; cli/crashenum convert " +
         std::string(kBarrier) + " -o " + full + "/out.cet --format=crashenum");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("File too large"));
  EXPECT_EQ(ReadFile(full + "/out.cet"), "old\n");
  EXPECT_EQ(Sh("ls " + full).output, "out.cet\n");
}

}  // namespace
}  // namespace crashenum
