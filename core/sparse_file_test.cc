#include "core/sparse_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace crashenum {
namespace {

std::string TmpPath(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  return std::string(t ? t : "/tmp") + "/" + name;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(SparseFileTest, CopiesContentAndKeepsHoles) {
  const std::string src = TmpPath("sparse-src");
  const std::string dst = TmpPath("sparse-dst");
  int fd = ::open(src.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const off_t size = 64 << 20;
  ASSERT_EQ(::ftruncate(fd, size), 0);
  ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
  ASSERT_EQ(::pwrite(fd, "middle", 6, 32 << 20), 6);
  ASSERT_EQ(::pwrite(fd, "tail", 4, size - 4), 4);
  ::close(fd);

  ASSERT_TRUE(CopySparseFile(src, dst).ok());
  EXPECT_EQ(Read(dst), Read(src));
  struct stat st;
  ASSERT_EQ(::stat(dst.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, size);
  // Three small data ranges: far less than the 64 MiB the file spans.
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
}

TEST(SparseFileTest, MissingSourceIsNotFound) {
  absl::Status s = CopySparseFile(TmpPath("no-such-file"), TmpPath("x"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find("no-such-file"), std::string::npos);
}

TEST(SparseFileTest, UncreatableDestinationNamesIt) {
  const std::string src = TmpPath("sparse-src2");
  std::ofstream(src) << "x";
  absl::Status s = CopySparseFile(src, "/nonexistent-dir/out.img");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent-dir/out.img"), std::string::npos);
}

}  // namespace
}  // namespace crashenum
