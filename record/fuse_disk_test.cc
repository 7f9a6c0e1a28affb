// The FUSE disk and the loop device against the real kernel: needs root,
// /dev/fuse and loop devices; skipped, saying why, without them.
#include "record/fuse_disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "record/loop_device.h"
#include "record/tracefs_capture.h"

namespace crashenum {
namespace internal_record {
namespace {

using ::testing::HasSubstr;

struct Request {
  std::string kind;
  uint64_t offset = 0, length = 0;
  bool ended = false;
};

class RecordingObserver : public DiskObserver {
 public:
  uint64_t BeginWrite(uint64_t offset, absl::string_view data) override {
    return Add({"write", offset, data.size()});
  }
  uint64_t BeginFlush() override { return Add({"flush"}); }
  uint64_t BeginDiscard(uint64_t offset, uint64_t length) override {
    return Add({"discard", offset, length});
  }
  void End(uint64_t token, int status) override {
    std::lock_guard<std::mutex> lock(mu);
    requests[token].ended = status == 0;
  }
  void Mark(absl::string_view label) override {
    std::lock_guard<std::mutex> lock(mu);
    marks.emplace_back(label);
    requests.push_back({absl::StrCat("mark:", label)});
  }
  uint64_t Add(Request r) {
    std::lock_guard<std::mutex> lock(mu);
    requests.push_back(r);
    return requests.size() - 1;
  }
  std::mutex mu;
  std::vector<Request> requests;
  std::vector<std::string> marks;
};

std::string SkipReason() {
  if (::geteuid() != 0) return "needs root (mounts FUSE, attaches loop devices)";
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "needs /dev/fuse";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) {
    return "needs loop devices (/dev/loop-control)";
  }
  return "";
}

class FuseDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = SkipReason();
    if (!why.empty()) GTEST_SKIP() << "skipped: " << why;
    dir_ = ::testing::TempDir() + "/fuse-disk-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_.data()), nullptr);
  }
  void TearDown() override {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

void WriteAt(const std::string& path, uint64_t offset, const std::string& s,
             bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, s.data(), s.size(), offset),
            static_cast<ssize_t>(s.size()));
  if (sync) {
    ASSERT_EQ(::fsync(fd), 0);
  }
  ::close(fd);
}

TEST_F(FuseDiskTest, ServesWritesFlushesAndMarksInOrder) {
  RecordingObserver observer;
  auto disk = FuseDisk::Start(dir_, 1 << 20, &observer);
  ASSERT_TRUE(disk.ok()) << disk.status();
  const std::string data(4096, 'x');
  WriteAt((*disk)->mark_path(), 0, "first\n", false);
  WriteAt((*disk)->disk_path(), 8192, data, true);
  // Lines may arrive in pieces; a last line without a newline counts when
  // its writer closes the file.
  const int mark = ::open((*disk)->mark_path().c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(mark, 0);
  ASSERT_EQ(::write(mark, "sec", 3), 3);
  ASSERT_EQ(::write(mark, "ond\nthi", 7), 7);
  ASSERT_EQ(::write(mark, "rd", 2), 2);
  ::close(mark);
  // Read back through the file.
  const int fd = ::open((*disk)->disk_path().c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string back(4096, '\0');
  ASSERT_EQ(::pread(fd, back.data(), back.size(), 8192), 4096);
  ::close(fd);
  EXPECT_EQ(back, data);
  // Unaligned writes are refused.
  const int bad = ::open((*disk)->disk_path().c_str(), O_WRONLY);
  EXPECT_LT(::pwrite(bad, "abc", 3, 1), 0);
  ::close(bad);
  (*disk)->Stop();
  EXPECT_EQ((*disk)->rejected_requests(), 1u);

  std::vector<std::string> kinds;
  for (const Request& r : observer.requests) kinds.push_back(r.kind);
  EXPECT_THAT(kinds, ::testing::ElementsAre("mark:first", "write", "flush",
                                            "mark:second", "mark:third"));
  EXPECT_EQ(observer.requests[1].offset, 8192u);
  EXPECT_EQ(observer.requests[1].length, 4096u);
  EXPECT_TRUE(observer.requests[1].ended);
  EXPECT_TRUE(observer.requests[2].ended);
}

TEST_F(FuseDiskTest, LoopDeviceCarriesMkfsToTheServer) {
  RecordingObserver observer;
  auto disk = FuseDisk::Start(dir_, 32 << 20, &observer);
  ASSERT_TRUE(disk.ok()) << disk.status();
  auto loop = LoopDevice::Attach((*disk)->disk_path());
  ASSERT_TRUE(loop.ok()) << loop.status();
  EXPECT_EQ((*loop)->major(), 7u);
  auto capture = TracefsCapture::Start((*loop)->major(), (*loop)->minor());
  const std::string cmd =
      absl::StrCat("mkfs.ext4 -q -F ", (*loop)->path(), " >/dev/null 2>&1");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::string events;
  if (capture.ok()) {
    auto text = (*capture)->Stop();
    ASSERT_TRUE(text.ok()) << text.status();
    events = *text;
  } else {
    std::printf("no block events: %s\n",
                std::string(capture.status().message()).c_str());
  }
  ASSERT_TRUE((*loop)->Detach().ok());
  (*disk)->Stop();
  int writes = 0, flushes = 0;
  for (const Request& r : observer.requests) {
    writes += r.kind == "write";
    flushes += r.kind == "flush";
    EXPECT_TRUE(r.ended) << r.kind;
  }
  EXPECT_GE(writes, 5);
  EXPECT_GE(flushes, 1);  // mkfs syncs the device at the end
  if (capture.ok()) {
    EXPECT_THAT(events, HasSubstr("block_bio_queue: 7,"));
    EXPECT_THAT(events, HasSubstr("block_rq_complete: 7,"));
  }
}

}  // namespace
}  // namespace internal_record
}  // namespace crashenum
