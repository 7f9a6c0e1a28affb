#include "check/keep_failing.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace crashenum {
namespace {

std::string Tmp() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

StateId SomeState() {
  absl::StatusOr<StateId> id = StateId::Parse("e42-u512-n3-5");
  EXPECT_TRUE(id.ok()) << id.status();
  return *id;
}

TEST(KeepFailingTest, SavesSparseImagesAndReadme) {
  const std::string img = Tmp() + "/state.img";
  {
    std::ofstream out(img, std::ios::binary);
    out << "superblock";
  }
  ASSERT_EQ(::truncate(img.c_str(), 16 << 20), 0);
  const Hash128 hash = HashBytes("image");
  absl::StatusOr<std::string> dir = KeepFailingImage(
      {Tmp() + "/kept", false}, SomeState(), hash, {"disk"}, {img},
      "# state e42\n");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, Tmp() + "/kept/e42-" + hash.ToHex().substr(0, 16));
  EXPECT_EQ(Read(*dir + "/disk.img"), Read(img));
  EXPECT_EQ(Read(*dir + "/README.md"), "# state e42\n");
  struct stat st;
  ASSERT_EQ(::stat((*dir + "/disk.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 16 << 20);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // the hole stayed a hole
}

TEST(KeepFailingTest, CompressesWithGzip) {
  const std::string img = Tmp() + "/state2.img";
  {
    std::ofstream out(img, std::ios::binary);
    out << std::string(1 << 20, 'x');
  }
  absl::StatusOr<std::string> dir =
      KeepFailingImage({Tmp() + "/kept-gz", true}, SomeState(),
                       HashBytes("other"), {"disk"}, {img}, "readme");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_NE(::access((*dir + "/disk.img.gz").c_str(), F_OK), -1);
  EXPECT_EQ(::access((*dir + "/disk.img").c_str(), F_OK), -1);
  // gzip -dc gives the image back.
  const std::string back = Tmp() + "/back.img";
  ASSERT_EQ(std::system(("gzip -dc " + *dir + "/disk.img.gz > " + back).c_str()),
            0);
  EXPECT_EQ(Read(back), Read(img));
}

TEST(KeepFailingTest, UnwritableDirectoryIsAnError) {
  absl::StatusOr<std::string> dir =
      KeepFailingImage({"/proc/no-such/dir", false}, SomeState(),
                       HashBytes("x"), {"disk"}, {"/dev/null"}, "");
  EXPECT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("/proc/no-such/dir"),
            std::string::npos);
}

}  // namespace
}  // namespace crashenum
