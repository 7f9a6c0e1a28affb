#include "core/trace.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crashenum {
namespace {

using ::testing::HasSubstr;

Device Dev(uint64_t sectors) {
  Device d;
  d.name = "dev0";
  d.sector_size = 512;
  d.num_sectors = sectors;
  return d;
}

TEST(TraceBuilderTest, RecordsEventsInOrder) {
  TraceBuilder b("builder", "");
  ASSERT_TRUE(b.AddDevice(Dev(8)).ok());
  Op w;
  w.kind = OpKind::kWrite;
  w.sector = 2;
  w.num_sectors = 1;
  w.flags = kFua;
  w.data = b.Own(std::string(512, 'x'));
  absl::StatusOr<uint32_t> op = b.Submit(w, 0);
  ASSERT_TRUE(op.ok());
  b.AddMark("between", 1);
  ASSERT_TRUE(b.Complete(*op, 0, 2).ok());
  Op f;
  f.kind = OpKind::kFlush;
  ASSERT_TRUE(b.Submit(f, 3).ok());  // never completes
  absl::StatusOr<Trace> t = std::move(b).Build();
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->events().size(), 4u);
  EXPECT_EQ(t->submit_event(0), 0u);
  EXPECT_EQ(t->complete_event(0), 2u);
  EXPECT_EQ(t->complete_event(1), 4u);  // not completed: events().size()
  EXPECT_EQ(t->marks()[0].event, 1u);
  EXPECT_EQ(t->FindMark("between"), 0);
  EXPECT_EQ(t->FindMark("nope"), -1);
  EXPECT_EQ(FlagsToString(t->ops()[0].flags), "FUA");
  EXPECT_EQ(FlagsToString(kPreflush | kFua | kMeta | kSync),
            "PREFLUSH|FUA|META|SYNC");
}

TEST(TraceBuilderTest, RejectsBadOps) {
  TraceBuilder b("builder", "");
  ASSERT_TRUE(b.AddDevice(Dev(8)).ok());
  Op w;
  w.sector = 7;
  w.num_sectors = 2;
  w.data = b.Own(std::string(1024, 'x'));
  absl::StatusOr<uint32_t> r = b.Submit(w, 5);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("entry 5"));
  EXPECT_THAT(r.status().message(), HasSubstr("past the end"));

  w.sector = 0;
  w.data = b.Own(std::string(10, 'x'));
  r = b.Submit(w, 6);
  EXPECT_THAT(r.status().message(), HasSubstr("carries 10 bytes"));

  w.sector = UINT64_MAX;
  w.num_sectors = 2;
  r = b.Submit(w, 7);
  EXPECT_THAT(r.status().message(), HasSubstr("overflows"));

  Device bad = Dev(8);
  bad.sector_size = 500;
  EXPECT_EQ(b.AddDevice(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TraceBuilderTest, InfersDeviceSize) {
  TraceBuilder b("builder", "");
  ASSERT_TRUE(b.AddDevice(Dev(0), /*infer_size=*/true).ok());
  Op d;
  d.kind = OpKind::kDiscard;
  d.sector = 100;
  d.num_sectors = 28;
  ASSERT_TRUE(b.SubmitAndComplete(d, 0).ok());
  EXPECT_EQ(b.device(0).num_sectors, 128u);
  EXPECT_FALSE(b.SetDeviceSectors(0, 127).ok());
  EXPECT_TRUE(b.SetDeviceSectors(0, 256).ok());
  EXPECT_EQ(b.device(0).num_sectors, 256u);
}

}  // namespace
}  // namespace crashenum
