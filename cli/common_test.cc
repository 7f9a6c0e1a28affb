#include "cli/common.h"

#include <stdlib.h>

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace crashenum {
namespace internal_cli {
namespace {

TEST(DefaultWorkParentTest, SmallImagesGoToShmWhenItIsATmpfs) {
  if (WritableTmpfsFreeBytes("/dev/shm") < 4.0L * (16 << 20)) {
    GTEST_SKIP() << "skipped: /dev/shm is not a writable tmpfs with 64 MiB "
                    "free here";
  }
  EXPECT_EQ(DefaultWorkParent(16 << 20), "/dev/shm");
}

TEST(DefaultWorkParentTest, WritableTmpfsFreeBytesTellsTmpfsFromOthers) {
  EXPECT_EQ(WritableTmpfsFreeBytes("/proc"), -1);  // procfs
  EXPECT_EQ(WritableTmpfsFreeBytes("/no/such/dir"), -1);
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
