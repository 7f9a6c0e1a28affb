// Block-layer events: the kernel's blktrace records (binary, version 7), the
// text blkparse prints, and the kernel's tracefs block events, all parsed into
// one BlockEvent type. Layouts and facts: shared/FORMATS.md ("blktrace
// binary"). These events carry no written data; traces/blktrace_data.h pairs
// them with a data capture to build a Trace.
//
// Every function here is thread-safe (no shared state) and never trusts a
// length or count from its input before checking it against what is there.
#ifndef CRASHENUM_TRACES_BLOCK_EVENTS_H_
#define CRASHENUM_TRACES_BLOCK_EVENTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crashenum {

// What happened to a request: queued (blktrace Q, tracefs block_bio_queue),
// issued to the driver (D, block_rq_issue), completed (C, block_rq_complete),
// or anything else (merges, plugs, remaps, passthrough commands, ...).
enum class BlockAction { kQueue, kIssue, kComplete, kOther };

// blktrace's action numbers (the low byte of blk_io_trace.action).
enum BlkTraceAction : uint8_t {
  kBlkTaQueue = 1,
  kBlkTaBackmerge = 2,
  kBlkTaFrontmerge = 3,
  kBlkTaGetrq = 4,
  kBlkTaSleeprq = 5,
  kBlkTaRequeue = 6,
  kBlkTaIssue = 7,
  kBlkTaComplete = 8,
  kBlkTaPlug = 9,
  kBlkTaUnplugIo = 10,
  kBlkTaUnplugTimer = 11,
  kBlkTaInsert = 12,
  kBlkTaSplit = 13,
  kBlkTaBounce = 14,
  kBlkTaRemap = 15,
  kBlkTaAbort = 16,
  kBlkTaDrvData = 17,
};

struct BlockEvent {
  BlockAction action = BlockAction::kOther;
  // The device the event happened on (for a remap: the device the range was
  // mapped to, as blkparse prints it).
  uint32_t major = 0, minor = 0;
  uint64_t time_ns = 0;
  uint64_t sector = 0;       // 512-byte units
  uint32_t num_sectors = 0;  // 512-byte units
  // Exactly one of these is set for a read, a write with data, a flush
  // without data (REQ_OP_FLUSH "F"/"FF", blkparse's "FN", or an empty
  // PREFLUSH write such as "FWS ... + 0") and a discard ("D", "DE"); none for
  // other operations ("N" with data, write-zeroes, zone commands).
  bool is_read = false, is_write = false, is_flush_only = false,
       is_discard = false;
  uint32_t flags = 0;  // OpFlag bits (kPreflush, kFua, kMeta, kSync)
  int32_t error = 0;   // C: negative errno
  uint32_t pid = 0;
  uint32_t cpu = 0;
  std::string rwbs;           // as printed, e.g. "FWFSM"
  uint64_t source_entry = 0;  // record index (binary, from 0) or line (text,
                              // from 1)

  // blktrace action number (BlkTraceAction) of the event, 0 when the text
  // form does not say (a blkparse message line).
  uint8_t raw_action = 0;
  // A write-zeroes request ("WZ", or "N" with sectors as Linux 6 prints it;
  // set by the line parsers, which know the sectors); is_write is false.
  bool is_write_zeroes = false;
  // Remaps (raw_action kBlkTaRemap, action kOther): the range
  // [sector, sector + num_sectors) of major,minor came from from_sector of
  // from_major,from_minor (a partition or a stacked device above it).
  bool is_remap = false;
  uint32_t from_major = 0, from_minor = 0;
  uint64_t from_sector = 0;
  // Index of the file, in the list given to the reader, the event came from.
  uint32_t source_file = 0;
  // blktrace's per-cpu sequence number (binary and blkparse; 0 for tracefs).
  uint64_t sequence = 0;
};

// Parses RWBS text into `event`: an optional leading F (PREFLUSH), the
// operation (W write, WZ write-zeroes, R read, D discard, DE secure erase,
// F flush, N none/other, ZA ZR ZRA ZF ZO ZC zone commands), then any of
// F (FUA), A (readahead), S (SYNC), M (META), U or a (atomic), B (an old
// kernel's barrier: PREFLUSH and FUA). Sets rwbs, the is_* fields and flags
// (overwriting them). An empty PREFLUSH write is only recognised as
// flush-only once its size is known (the line parsers do that). Returns
// false, leaving `event` unspecified, for anything else.
bool ParseRwbs(absl::string_view rwbs, BlockEvent* event);

// One line of tracefs text (`trace` or `trace_pipe`), e.g.
//   "  kworker/u4:1-57  [001] d..1.  1234.567890: block_rq_complete: 7,0 WSM
//    () 32770 + 2 none,0,0 [0]"
// Understood events and their printk formats (each with or without the
// I/O-priority field "none,0,0" that kernels since 6.11 print before the last
// bracket):
//   block_bio_queue    "M,m RWBS SECTOR + N [COMM]"            -> kQueue
//   block_rq_issue     "M,m RWBS BYTES (CMD) SECTOR + N [COMM]" -> kIssue
//   block_rq_complete  "M,m RWBS (CMD) SECTOR + N [ERROR]"      -> kComplete
//   block_bio_remap    "M,m RWBS SECTOR + N <- (M,m) SECTOR"    -> kOther,
//   block_rq_remap     "... <- (M,m) SECTOR NR_BIOS"               is_remap
// The timestamp ("SECONDS.FRACTION:", up to 9 decimals) becomes time_ns, the
// "[CPU]" column cpu, the number after the task name's last '-' pid. An
// ERROR is read as an errno: negative as is, 32768..65535 as a 16-bit
// negative, other positive values negated. A passthrough request (a non-empty
// CMD) is kOther.
// Returns nullopt for comments, blank lines and lines of any other event or
// of no event. Errors: InvalidArgument "line N: ..." for a line of an
// understood event that does not parse, and for the ring buffer's
// "[LOST n EVENTS]" line (the trace is incomplete).
absl::StatusOr<std::optional<BlockEvent>> ParseTracefsLine(
    absl::string_view line, uint64_t line_number);

// One line of blkparse's default text output:
//   "  8,0    3        1     0.000000000   697  Q  WS 2048 + 8 [jbd2/sda1-8]"
//   "  8,0    3        2     0.000010000     0  C  WS 2048 + 8 [0]"
//   "  8,0    0        5     0.000020000   697  Q FWS [jbd2/sda1-8]"  (empty)
//   "  8,0    0        9     0.000030000     0  C  FN 0 [0]"         (flush)
//   "  8,2    0        4     0.000040000   697  A  WS 2048 + 8 <- (253,0) 0"
// Columns: device, cpu, sequence, SECONDS.NANOSECONDS (relative), pid, action
// (Q D C are events; M F G S R I P U UT X B A m are kOther), RWBS, details.
// Time-stamp elapsed fields ("(   123)", blkparse -t) are skipped; PC
// (passthrough) lines are kOther. Returns nullopt for lines that do not start
// with a "MAJ,MIN" column followed by the header columns (the summary blkparse
// prints at the end, blank lines). Errors: InvalidArgument "line N: ..." for
// an event line whose RWBS or Q/D/C/A details do not parse.
absl::StatusOr<std::optional<BlockEvent>> ParseBlkparseLine(
    absl::string_view line, uint64_t line_number);

// What ReadBlktraceBinary saw in one file.
struct BlktraceFileInfo {
  std::string path;
  bool big_endian = false;  // the tracing host's byte order
  uint64_t records = 0;     // every record, notify records included
  uint64_t notify = 0;      // notify records (process names, time stamps,
                            // messages): counted, not returned
  uint64_t remaps = 0;      // remap records
  uint64_t cgroup = 0;      // records that carried a cgroup id
};

// Reads blktrace binary files (version 7): one per CPU, each in either byte
// order (detected from its first record's magic; every record of a file must
// then match it). An empty file holds no records. Records of all files are
// merged by time, ties broken by cpu, sequence, file and record index. Notify
// records are counted and left out; a cgroup id (action bit 8) is skipped;
// remap records are kOther with is_remap; passthrough (PC) records are
// kOther; flags come from the categories (FLUSH -> kPreflush, FUA, SYNC,
// META), rwbs is what blkparse would print for them, and source_entry is
// the record's index in its file. When `info` is not null it is resized to
// one entry per path and filled in.
// Errors: InvalidArgument "PATH: record N at byte B: ..." for a bad magic, a
// version other than 7, a truncated header or payload, a Q/D/C byte count
// that is not a multiple of 512, or a remap payload shorter than 16 bytes;
// the codes of MappedFile::Open for files that cannot be read.
absl::StatusOr<std::vector<BlockEvent>> ReadBlktraceBinary(
    const std::vector<std::string>& paths,
    std::vector<BlktraceFileInfo>* info = nullptr);

// Reads a text file of block events, each line blkparse output or tracefs
// text (detected per line: a line whose first column is "MAJ,MIN" is
// blkparse's). Events keep the file's order. Errors: those of the two line
// parsers, prefixed with the path; the codes of MappedFile::Open.
absl::StatusOr<std::vector<BlockEvent>> ReadBlockEventText(
    const std::string& path);

// True when `head`, the first bytes of a file, is block event text: its first
// line that is not blank or a '#' comment is a blkparse or tracefs block
// event line (tracefs lines of other events before it are skipped). Only
// complete lines count.
bool LooksLikeBlockEventText(absl::string_view head);

// True when `head` starts with a blktrace record magic (any version, either
// byte order).
bool LooksLikeBlktraceBinary(absl::string_view head);

// The per-CPU files of a blktrace run: for a path DIR/NAME.blktrace.N, every
// regular file DIR/NAME.blktrace.M (M decimal digits) present, ordered by M;
// for any other path, or a directory that cannot be listed, just {path}.
std::vector<std::string> BlktraceCpuFiles(const std::string& path);

}  // namespace crashenum

#endif  // CRASHENUM_TRACES_BLOCK_EVENTS_H_
