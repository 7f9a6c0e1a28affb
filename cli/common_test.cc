#include "cli/common.h"

#include <linux/magic.h>
#include <stdlib.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace crashenum {
namespace internal_cli {
namespace {

// Whether this machine offers /dev/shm as a writable tmpfs.
bool ShmUsable() {
  struct statfs fs;
  return ::statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC &&
         ::access("/dev/shm", W_OK | X_OK) == 0;
}

TEST(DefaultWorkParentTest, SmallImagesGoToShmWhenItIsATmpfs) {
  if (!ShmUsable()) {
    GTEST_SKIP() << "skipped: /dev/shm is not a writable tmpfs here";
  }
  EXPECT_EQ(DefaultWorkParent(16 << 20), "/dev/shm");
}

TEST(DefaultWorkParentTest, ImagesTooLargeForShmGoToTmpdir) {
  ::setenv("TMPDIR", "/some/tmp", 1);
  EXPECT_EQ(DefaultWorkParent(UINT64_MAX / 8), "/some/tmp");
  ::unsetenv("TMPDIR");
  EXPECT_EQ(DefaultWorkParent(UINT64_MAX / 8), "/tmp");
}

}  // namespace
}  // namespace internal_cli
}  // namespace crashenum
