// gen_dm_log: writes a large dm-log-writes log of a synthetic, file-system
// like workload, for measuring crashenum's memory and time on big traces
// (bench/memory.sh, docs/BENCHMARKS.md).
//
//   gen_dm_log --out=LOG [--log-bytes=1073741824] [--device-bytes=2147483648]
//              [--seed=1]
//
// The device has 512-byte sectors. The workload, fixed by the seed:
//   - a write of the device's last 4 KiB block (a backup super block) first,
//     so a reader infers the full device size, then a "mkfs" mark;
//   - 4 KiB writes: 60 % continue a data extent (runs of 1-64 blocks at a
//     random place of the data area, above 192 MiB), 25 % overwrite one of
//     4096 hot metadata blocks (the first 16 MiB), 15 % append to a circular
//     journal (64 MiB to 192 MiB);
//   - every 200-400 writes a journal commit: an empty FLUSH, then a FUA
//     journal write;
//   - every 2000 writes on average a DISCARD of a 1 MiB data range;
//   - a "halfway" mark in the middle and an "umount" mark and final flush at
//     the end.
// Write data comes from a 16 MiB random pool (each write views 4 KiB of it
// at a random 8-byte aligned offset), so the generator needs little memory
// whatever the log size. Entries are added until the log reaches
// --log-bytes. Exit 0 on success, 2 for bad usage, 1 on write errors.
#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "traces/dm_log_writes_writer.h"

namespace crashenum {
namespace {

constexpr uint64_t kSector = 512;
constexpr uint64_t kBlock = 4096;
constexpr uint64_t kBlockSectors = kBlock / kSector;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kPoolBytes = 16 * kMiB;
constexpr uint64_t kHotBlocks = 4096;            // metadata: blocks 0..4095
constexpr uint64_t kJournalStart = 64 * kMiB;    // journal: 64..192 MiB
constexpr uint64_t kJournalEnd = 192 * kMiB;
constexpr uint64_t kDataStart = kJournalEnd;      // data: 192 MiB..end

struct Options {
  std::string out;
  uint64_t log_bytes = 1024 * kMiB;
  uint64_t device_bytes = 2048 * kMiB;
  uint64_t seed = 1;
};

// SplitMix64: a small fixed PRNG, the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // In [0, n) for n > 0 (the modulo bias is irrelevant here).
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

class Generator {
 public:
  Generator(const Options& o, TraceBuilder& b)
      : o_(o), b_(b), rng_(o.seed) {}

  absl::Status Run() {
    std::string pool(kPoolBytes, '\0');
    for (uint64_t i = 0; i < kPoolBytes; i += 8) {
      const uint64_t r = rng_.Next();
      for (int k = 0; k < 8; ++k) pool[i + k] = static_cast<char>(r >> (8 * k));
    }
    pool_ = b_.Own(std::move(pool));
    const uint64_t blocks = o_.device_bytes / kBlock;
    RETURN_IF_ERROR(Write(blocks - 1, 0));
    Mark("mkfs");
    bool halfway = false;
    uint64_t until_commit = 200 + rng_.Below(201);
    uint64_t extent_next = 0, extent_left = 0;
    uint64_t journal = 0;
    const uint64_t journal_blocks = (kJournalEnd - kJournalStart) / kBlock;
    const uint64_t data_blocks = blocks - kDataStart / kBlock;
    // The final flush and mark fit in 2 more header sectors.
    while (log_bytes_ + 2 * kSector < o_.log_bytes) {
      if (!halfway && log_bytes_ >= o_.log_bytes / 2) {
        Mark("halfway");
        halfway = true;
      }
      if (until_commit-- == 0) {
        RETURN_IF_ERROR(Flush());
        RETURN_IF_ERROR(
            Write(kJournalStart / kBlock + journal++ % journal_blocks, kFua));
        until_commit = 200 + rng_.Below(201);
        continue;
      }
      if (rng_.Below(2000) == 0) {
        const uint64_t start =
            kDataStart / kBlock + rng_.Below(data_blocks - 256) / 256 * 256;
        RETURN_IF_ERROR(Discard(start, 256));
        continue;
      }
      const uint64_t kind = rng_.Below(100);
      if (kind < 60) {
        if (extent_left == 0) {
          extent_left = 1 + rng_.Below(64);
          extent_next = kDataStart / kBlock + rng_.Below(data_blocks - 64);
        }
        --extent_left;
        RETURN_IF_ERROR(Write(extent_next++, 0));
      } else if (kind < 85) {
        RETURN_IF_ERROR(Write(rng_.Below(kHotBlocks), 0));
      } else {
        RETURN_IF_ERROR(
            Write(kJournalStart / kBlock + journal++ % journal_blocks, 0));
      }
    }
    RETURN_IF_ERROR(Flush());
    Mark("umount");
    return absl::OkStatus();
  }

 private:
  absl::Status Write(uint64_t block, uint32_t flags) {
    Op op;
    op.kind = OpKind::kWrite;
    op.sector = block * kBlockSectors;
    op.num_sectors = kBlockSectors;
    op.flags = flags;
    op.data = pool_.substr(rng_.Below((kPoolBytes - kBlock) / 8) * 8, kBlock);
    log_bytes_ += kSector + kBlock;
    return b_.SubmitAndComplete(op, entry_++).status();
  }
  absl::Status Flush() {
    Op op;
    op.kind = OpKind::kFlush;
    log_bytes_ += kSector;
    return b_.SubmitAndComplete(op, entry_++).status();
  }
  absl::Status Discard(uint64_t block, uint64_t num_blocks) {
    Op op;
    op.kind = OpKind::kDiscard;
    op.sector = block * kBlockSectors;
    op.num_sectors = num_blocks * kBlockSectors;
    log_bytes_ += kSector;
    return b_.SubmitAndComplete(op, entry_++).status();
  }
  void Mark(std::string label) {
    log_bytes_ += kSector;
    b_.AddMark(std::move(label), entry_++);
  }

  const Options& o_;
  TraceBuilder& b_;
  Rng rng_;
  absl::string_view pool_;
  uint64_t entry_ = 0;
  uint64_t log_bytes_ = kSector;  // the super block
};

absl::Status Generate(const Options& o) {
  TraceBuilder b("dm-log-writes", "");
  Device d;
  d.name = "dev0";
  d.sector_size = kSector;
  d.num_sectors = o.device_bytes / kSector;
  RETURN_IF_ERROR(b.AddDevice(d).status());
  RETURN_IF_ERROR(Generator(o, b).Run(), "generating");
  ASSIGN_OR_RETURN(Trace trace, std::move(b).Build());
  return WriteDmLogWrites(trace, o.out);
}

bool ParseFlag(absl::string_view arg, absl::string_view name,
               absl::string_view* value) {
  if (!absl::ConsumePrefix(&arg, name) || !absl::ConsumePrefix(&arg, "=")) {
    return false;
  }
  *value = arg;
  return true;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    absl::string_view v;
    bool ok = true;
    if (ParseFlag(argv[i], "--out", &v)) {
      o.out = std::string(v);
    } else if (ParseFlag(argv[i], "--log-bytes", &v)) {
      ok = absl::SimpleAtoi(v, &o.log_bytes);
    } else if (ParseFlag(argv[i], "--device-bytes", &v)) {
      ok = absl::SimpleAtoi(v, &o.device_bytes);
    } else if (ParseFlag(argv[i], "--seed", &v)) {
      ok = absl::SimpleAtoi(v, &o.seed);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "gen_dm_log: bad argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (o.out.empty() || o.device_bytes % kBlock != 0 ||
      o.device_bytes < kDataStart + 64 * kMiB) {
    std::fprintf(stderr,
                 "usage: gen_dm_log --out=LOG [--log-bytes=N] "
                 "[--device-bytes=N (a multiple of 4096, >= 256 MiB)] "
                 "[--seed=S]\n");
    return 2;
  }
  const absl::Status s = Generate(o);
  if (!s.ok()) {
    std::fprintf(stderr, "gen_dm_log: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace crashenum

int main(int argc, char** argv) { return crashenum::Main(argc, argv); }
