#include "traces/block_events.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/mapped_file.h"
#include "core/status_macros.h"
#include "core/trace.h"

namespace crashenum {
namespace {

// blk_io_trace: a 48-byte header, then pdu_len payload bytes.
constexpr uint64_t kRecordHeaderSize = 48;
constexpr uint32_t kMagicMask = 0xffffff00u;
constexpr uint32_t kMagic = 0x65617400u;
constexpr uint32_t kSupportedVersion = 7;

// Header field offsets.
constexpr uint64_t kMagicOffset = 0;
constexpr uint64_t kSequenceOffset = 4;
constexpr uint64_t kTimeOffset = 8;
constexpr uint64_t kSectorOffset = 16;
constexpr uint64_t kBytesOffset = 24;
constexpr uint64_t kActionOffset = 28;
constexpr uint64_t kPidOffset = 32;
constexpr uint64_t kDeviceOffset = 36;
constexpr uint64_t kCpuOffset = 40;
constexpr uint64_t kErrorOffset = 44;
constexpr uint64_t kPduLenOffset = 46;

// Categories (action >> 16).
constexpr uint32_t kTcRead = 0x1;
constexpr uint32_t kTcWrite = 0x2;
constexpr uint32_t kTcFlush = 0x4;
constexpr uint32_t kTcSync = 0x8;
constexpr uint32_t kTcPc = 0x200;
constexpr uint32_t kTcNotify = 0x400;
constexpr uint32_t kTcAhead = 0x800;
constexpr uint32_t kTcMeta = 0x1000;
constexpr uint32_t kTcDiscard = 0x2000;
constexpr uint32_t kTcFua = 0x8000;
// Action bit 8: an 8-byte cgroup id opens the payload.
constexpr uint32_t kActionCgroup = 1u << 8;
constexpr uint64_t kCgroupIdSize = 8;
// Remap payload: be32 device_from, be32 device_to, be64 sector_from.
constexpr uint64_t kRemapPduSize = 16;

uint32_t KernelMajor(uint32_t dev) { return dev >> 20; }
uint32_t KernelMinor(uint32_t dev) { return dev & 0xfffff; }

// Reads an unsigned integer of sizeof(T) bytes at bytes[offset].
template <typename T>
T Load(absl::string_view bytes, uint64_t offset, bool big_endian) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    const size_t at = big_endian ? i : sizeof(T) - 1 - i;
    value = static_cast<T>((value << 8) |
                           static_cast<unsigned char>(bytes[offset + at]));
  }
  return value;
}

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

template <typename T>
bool ParseUnsigned(absl::string_view s, T* out) {
  uint64_t v = 0;
  if (!IsDigits(s) || !absl::SimpleAtoi(s, &v) ||
      v > std::numeric_limits<T>::max()) {
    return false;
  }
  *out = static_cast<T>(v);
  return true;
}

// "8,0" -> 8, 0.
bool ParseDevice(absl::string_view s, uint32_t* major, uint32_t* minor) {
  const size_t comma = s.find(',');
  if (comma == absl::string_view::npos) return false;
  return ParseUnsigned(s.substr(0, comma), major) &&
         ParseUnsigned(s.substr(comma + 1), minor);
}

// "1234.567890" (up to 9 decimals, or none) -> nanoseconds.
bool ParseSeconds(absl::string_view s, uint64_t* ns) {
  const size_t dot = s.find('.');
  const absl::string_view whole = s.substr(0, dot);
  absl::string_view frac =
      dot == absl::string_view::npos ? absl::string_view() : s.substr(dot + 1);
  uint64_t seconds = 0;
  if (!ParseUnsigned(whole, &seconds)) return false;
  if (dot != absl::string_view::npos && (frac.empty() || frac.size() > 9)) {
    return false;
  }
  uint64_t nanos = 0;
  if (!frac.empty()) {
    if (!ParseUnsigned(frac, &nanos)) return false;
    for (size_t i = frac.size(); i < 9; ++i) nanos *= 10;
  }
  constexpr uint64_t kBillion = 1000000000;
  if (seconds > (std::numeric_limits<uint64_t>::max() - nanos) / kBillion) {
    return false;
  }
  *ns = seconds * kBillion + nanos;
  return true;
}

// The error of a completion: "-5", "65531" (a u16 as blkparse prints it) or
// "5" -> -5.
bool ParseErrno(absl::string_view s, int32_t* error) {
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  uint32_t v = 0;
  if (!ParseUnsigned(s, &v) || v > 65535) return false;
  if (negative || v < 32768) {
    *error = -static_cast<int32_t>(v);
  } else {
    *error = static_cast<int32_t>(v) - 65536;
  }
  return true;
}

// "[text]" -> text.
bool Bracketed(absl::string_view s, char open, char close,
               absl::string_view* inner) {
  if (s.size() < 2 || s.front() != open || s.back() != close) return false;
  *inner = s.substr(1, s.size() - 2);
  return true;
}

std::vector<absl::string_view> Tokens(absl::string_view s) {
  return absl::StrSplit(s, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
}

// An empty PREFLUSH write is a flush without data. An "N" request with
// sectors is a write-zeroes request: Linux 6 prints REQ_OP_WRITE_ZEROES so.
void FinishEvent(BlockEvent* e) {
  if ((e->flags & kPreflush) != 0 && e->num_sectors == 0 && e->is_write) {
    e->is_write = false;
    e->is_flush_only = true;
  }
  const size_t op = (e->flags & kPreflush) != 0 ? 1 : 0;
  if (e->num_sectors != 0 && op < e->rwbs.size() && e->rwbs[op] == 'N') {
    e->is_write_zeroes = true;
  }
}

bool IsOpLetter(char c) {
  return c == 'W' || c == 'R' || c == 'D' || c == 'F' || c == 'N' || c == 'Z';
}

absl::Status LineError(uint64_t line_number, absl::string_view what,
                       absl::string_view line) {
  return absl::InvalidArgumentError(
      absl::StrCat("line ", line_number, ": ", what, ": \"",
                   absl::StripAsciiWhitespace(line.substr(0, 200)), "\""));
}

// ---- tracefs ---------------------------------------------------------------

struct TracefsFields {
  uint32_t pid = 0;
  uint32_t cpu = 0;
  uint64_t time_ns = 0;
  absl::string_view event;    // "block_rq_complete"
  absl::string_view payload;  // what follows "event: "
};

bool IsEventName(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Splits "TASK-PID [CPU] FLAGS SECONDS: EVENT: PAYLOAD"; nullopt when the
// line does not have that shape.
std::optional<TracefsFields> SplitTracefs(absl::string_view line) {
  // Tokens with their positions.
  std::vector<std::pair<size_t, absl::string_view>> tokens;
  for (size_t i = 0; i < line.size();) {
    while (i < line.size() && absl::ascii_isspace(line[i])) ++i;
    size_t j = i;
    while (j < line.size() && !absl::ascii_isspace(line[j])) ++j;
    if (j > i) tokens.emplace_back(i, line.substr(i, j - i));
    i = j;
  }
  for (size_t t = 1; t + 1 < tokens.size(); ++t) {
    absl::string_view stamp = tokens[t].second;
    absl::string_view name = tokens[t + 1].second;
    if (stamp.size() < 2 || stamp.back() != ':' || name.size() < 2 ||
        name.back() != ':') {
      continue;
    }
    TracefsFields f;
    stamp.remove_suffix(1);
    name.remove_suffix(1);
    if (!ParseSeconds(stamp, &f.time_ns) || !IsEventName(name)) continue;
    // The CPU column: the last "[digits]" token before the time stamp.
    size_t cpu_token = 0;
    bool found = false;
    for (size_t c = t; c-- > 0;) {
      absl::string_view inner;
      if (Bracketed(tokens[c].second, '[', ']', &inner) &&
          ParseUnsigned(inner, &f.cpu)) {
        cpu_token = c;
        found = true;
        break;
      }
    }
    if (!found || cpu_token == 0) continue;
    // TASK-PID, possibly followed by a "(TGID)" column.
    absl::string_view task =
        absl::StripAsciiWhitespace(line.substr(0, tokens[cpu_token].first));
    if (!task.empty() && task.back() == ')') {
      const size_t open = task.rfind('(');
      if (open != absl::string_view::npos) {
        task = absl::StripTrailingAsciiWhitespace(task.substr(0, open));
      }
    }
    const size_t dash = task.rfind('-');
    if (dash != absl::string_view::npos) {
      ParseUnsigned(task.substr(dash + 1), &f.pid);
    }
    f.event = name;
    const size_t after = tokens[t + 1].first + tokens[t + 1].second.size();
    f.payload = absl::StripAsciiWhitespace(line.substr(after));
    return f;
  }
  return std::nullopt;
}

// Parses "SECTOR + N" at tokens[i..i+2].
bool ParseRange(const std::vector<absl::string_view>& tokens, size_t i,
                BlockEvent* e) {
  return i + 2 < tokens.size() && tokens[i + 1] == "+" &&
         ParseUnsigned(tokens[i], &e->sector) &&
         ParseUnsigned(tokens[i + 2], &e->num_sectors);
}

// Parses "SECTOR + N <- (MAJ,MIN) FROM_SECTOR" at tokens[i...] into a remap.
bool ParseRemap(const std::vector<absl::string_view>& tokens, size_t i,
                BlockEvent* e) {
  e->raw_action = kBlkTaRemap;
  e->is_remap = true;
  absl::string_view from;
  return ParseRange(tokens, i, e) && i + 5 < tokens.size() &&
         tokens[i + 3] == "<-" && Bracketed(tokens[i + 4], '(', ')', &from) &&
         ParseDevice(from, &e->from_major, &e->from_minor) &&
         ParseUnsigned(tokens[i + 5], &e->from_sector);
}

// Parses the "[ERROR]" that ends a completion.
bool ParseErrorColumn(const std::vector<absl::string_view>& tokens,
                      BlockEvent* e) {
  absl::string_view inner;
  return !tokens.empty() && Bracketed(tokens.back(), '[', ']', &inner) &&
         ParseErrno(inner, &e->error);
}

// Skips a "(...)" group starting at tokens[*i] (it may span tokens); sets
// *empty when it is "()". False when tokens[*i] does not open one or it is
// not closed.
bool SkipParenthesized(const std::vector<absl::string_view>& tokens, size_t* i,
                       bool* empty) {
  if (*i >= tokens.size() || tokens[*i].front() != '(') return false;
  *empty = tokens[*i] == "()";
  for (; *i < tokens.size(); ++*i) {
    if (tokens[*i].back() == ')') {
      ++*i;
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::optional<BlockEvent>> ParseTracefsPayload(
    const TracefsFields& f, absl::string_view line, uint64_t line_number) {
  BlockEvent e;
  e.time_ns = f.time_ns;
  e.cpu = f.cpu;
  e.pid = f.pid;
  e.source_entry = line_number;
  const std::vector<absl::string_view> tokens = Tokens(f.payload);
  const auto bad = [&](absl::string_view what) {
    return LineError(line_number, absl::StrCat(f.event, ": ", what), line);
  };
  if (tokens.size() < 2 || !ParseDevice(tokens[0], &e.major, &e.minor)) {
    return bad("expected MAJ,MIN and RWBS");
  }
  if (!ParseRwbs(tokens[1], &e)) {
    return bad(absl::StrCat("malformed RWBS \"", tokens[1], "\""));
  }
  size_t i = 2;
  if (f.event == "block_bio_queue") {
    e.action = BlockAction::kQueue;
    e.raw_action = kBlkTaQueue;
    if (!ParseRange(tokens, i, &e)) return bad("expected SECTOR + N");
  } else if (f.event == "block_rq_issue" || f.event == "block_rq_complete") {
    const bool issue = f.event == "block_rq_issue";
    e.action = issue ? BlockAction::kIssue : BlockAction::kComplete;
    e.raw_action = issue ? kBlkTaIssue : kBlkTaComplete;
    uint64_t bytes = 0;  // BYTES, when the line has it
    if (issue && i + 1 < tokens.size() && tokens[i + 1] != "+" &&
        ParseUnsigned(tokens[i], &bytes)) {
      ++i;
    }
    bool empty_cmd = true;
    if (i < tokens.size() && tokens[i].front() == '(' &&
        !SkipParenthesized(tokens, &i, &empty_cmd)) {
      return bad("unterminated (CMD)");
    }
    if (!ParseRange(tokens, i, &e)) return bad("expected SECTOR + N");
    if (!empty_cmd) e.action = BlockAction::kOther;  // passthrough
    if (!issue && !ParseErrorColumn(tokens, &e)) {
      return bad("expected [ERROR] at the end");
    }
  } else if (!ParseRemap(tokens, i, &e)) {  // block_bio/rq_remap
    return bad("expected SECTOR + N <- (MAJ,MIN) SECTOR");
  }
  FinishEvent(&e);
  return std::optional<BlockEvent>(std::move(e));
}

// ---- blkparse --------------------------------------------------------------

uint8_t BlkparseAction(absl::string_view a) {
  static constexpr std::pair<absl::string_view, uint8_t> kActions[] = {
      {"Q", kBlkTaQueue},        {"M", kBlkTaBackmerge},
      {"F", kBlkTaFrontmerge},   {"G", kBlkTaGetrq},
      {"S", kBlkTaSleeprq},      {"R", kBlkTaRequeue},
      {"D", kBlkTaIssue},        {"C", kBlkTaComplete},
      {"P", kBlkTaPlug},         {"U", kBlkTaUnplugIo},
      {"UT", kBlkTaUnplugTimer}, {"T", kBlkTaUnplugTimer},
      {"I", kBlkTaInsert},       {"X", kBlkTaSplit},
      {"B", kBlkTaBounce},       {"A", kBlkTaRemap},
  };
  for (const auto& [name, action] : kActions) {
    if (a == name) return action;
  }
  return 0;
}

}  // namespace

bool ParseRwbs(absl::string_view rwbs, BlockEvent* e) {
  e->rwbs = std::string(rwbs);
  e->is_read = e->is_write = e->is_flush_only = e->is_discard = false;
  e->is_write_zeroes = false;
  e->flags = 0;
  size_t i = 0;
  const size_t n = rwbs.size();
  if (n >= 2 && rwbs[0] == 'F' && IsOpLetter(rwbs[1])) {
    e->flags |= kPreflush;
    i = 1;
  }
  if (i >= n) return false;
  switch (rwbs[i++]) {
    case 'W':
      if (i < n && rwbs[i] == 'Z') {
        ++i;
        e->is_write_zeroes = true;
      } else {
        e->is_write = true;
      }
      break;
    case 'R':
      e->is_read = true;
      break;
    case 'D':
      e->is_discard = true;
      if (i < n && rwbs[i] == 'E') ++i;  // secure erase
      break;
    case 'F':  // REQ_OP_FLUSH
      e->is_flush_only = true;
      break;
    case 'N':  // blkparse: no data; FN is its flush request
      if ((e->flags & kPreflush) != 0) e->is_flush_only = true;
      break;
    case 'Z':  // zone commands
      if (i >= n ||
          absl::string_view("ARFOC").find(rwbs[i]) == absl::string_view::npos) {
        return false;
      }
      if (rwbs[i++] == 'R' && i < n && rwbs[i] == 'A') ++i;  // reset all
      break;
    default:
      return false;
  }
  // Suffixes, each at most once, in the kernel's order.
  static constexpr absl::string_view kSuffixes = "FASMUaB";
  size_t next = 0;  // suffixes before this index are no longer allowed
  for (; i < n; ++i) {
    const size_t at = kSuffixes.find(rwbs[i], next);
    if (at == absl::string_view::npos) return false;
    next = at + 1;
    switch (rwbs[i]) {
      case 'F':
        e->flags |= kFua;
        break;
      case 'S':
        e->flags |= kSync;
        break;
      case 'M':
        e->flags |= kMeta;
        break;
      case 'B':
        e->flags |= kPreflush | kFua;
        break;
      default:  // readahead, atomic: nothing to model
        break;
    }
  }
  return true;
}

absl::StatusOr<std::optional<BlockEvent>> ParseTracefsLine(
    absl::string_view line, uint64_t line_number) {
  const absl::string_view stripped = absl::StripAsciiWhitespace(line);
  if (stripped.empty() || stripped[0] == '#') return std::nullopt;
  if (absl::StrContains(stripped, "[LOST ") &&
      absl::StrContains(stripped, " EVENTS]")) {
    return LineError(line_number,
                     "the tracer lost events (ring buffer overrun), so the "
                     "trace is incomplete",
                     line);
  }
  const std::optional<TracefsFields> f = SplitTracefs(stripped);
  if (!f.has_value()) return std::nullopt;
  if (f->event != "block_bio_queue" && f->event != "block_rq_issue" &&
      f->event != "block_rq_complete" && f->event != "block_bio_remap" &&
      f->event != "block_rq_remap") {
    return std::nullopt;
  }
  return ParseTracefsPayload(*f, line, line_number);
}

absl::StatusOr<std::optional<BlockEvent>> ParseBlkparseLine(
    absl::string_view line, uint64_t line_number) {
  const std::vector<absl::string_view> tokens = Tokens(line);
  BlockEvent e;
  e.source_entry = line_number;
  if (tokens.size() < 7 || !ParseDevice(tokens[0], &e.major, &e.minor) ||
      !ParseUnsigned(tokens[1], &e.cpu) ||
      !ParseUnsigned(tokens[2], &e.sequence) ||
      !ParseSeconds(tokens[3], &e.time_ns) ||
      !ParseUnsigned(tokens[4], &e.pid) || !absl::ascii_isalpha(tokens[5][0])) {
    return std::nullopt;
  }
  const absl::string_view act = tokens[5];
  e.raw_action = BlkparseAction(act);
  if (act == "m") {  // a message: free text follows
    e.rwbs = std::string(tokens[6]);
    return std::optional<BlockEvent>(std::move(e));
  }
  const auto bad = [&](absl::string_view what) {
    return LineError(line_number, absl::StrCat("blkparse ", act, ": ", what),
                     line);
  };
  if (!ParseRwbs(tokens[6], &e)) {
    return bad(absl::StrCat("malformed RWBS \"", tokens[6], "\""));
  }
  size_t i = 7;
  const bool has_details = i < tokens.size();
  const bool opens_group =
      has_details && (tokens[i].front() == '[' || tokens[i].front() == '(');
  const bool has_range = i + 2 < tokens.size() && tokens[i + 1] == "+";
  switch (e.raw_action) {
    case kBlkTaQueue:
    case kBlkTaIssue:
      e.action = e.raw_action == kBlkTaQueue ? BlockAction::kQueue
                                             : BlockAction::kIssue;
      if (!has_details) return bad("expected SECTOR + N [NAME]");
      if (opens_group) break;  // no sectors: "[NAME]" or "(ELAPSED) [NAME]"
      if (has_range) {
        if (!ParseRange(tokens, i, &e)) return bad("expected SECTOR + N");
        break;
      }
      if (uint64_t bytes = 0; ParseUnsigned(tokens[i], &bytes)) {
        e.action = BlockAction::kOther;  // passthrough: "BYTES (CDB) [NAME]"
        break;
      }
      return bad("expected SECTOR + N [NAME]");
    case kBlkTaComplete: {
      e.action = BlockAction::kComplete;
      if (!has_details) return bad("expected SECTOR + N [ERROR]");
      if (opens_group) {
        e.action = BlockAction::kOther;  // passthrough: "(CDB) [ERROR]"
      } else if (has_range) {
        if (!ParseRange(tokens, i, &e)) return bad("expected SECTOR + N");
      } else if (!ParseUnsigned(tokens[i], &e.sector)) {  // "SECTOR [ERROR]"
        return bad("expected SECTOR + N [ERROR]");
      }
      // An elapsed-time column "(  123)" (blkparse -t) may come before it.
      if (!ParseErrorColumn(tokens, &e)) {
        return bad("expected [ERROR] at the end");
      }
      break;
    }
    case kBlkTaRemap:
      if (!ParseRemap(tokens, i, &e)) {
        return bad("expected SECTOR + N <- (MAJ,MIN) SECTOR");
      }
      break;
    default:  // merges, get/sleep request, requeue, insert: best effort
      if (has_range) ParseRange(tokens, i, &e);
      break;
  }
  FinishEvent(&e);
  return std::optional<BlockEvent>(std::move(e));
}

namespace {

// Parses the records of one blktrace file, appending events to `out`.
absl::Status ReadOneBlktraceFile(const std::string& path, uint32_t file_index,
                                 std::vector<BlockEvent>* out,
                                 BlktraceFileInfo* info) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  const absl::string_view bytes = file->contents();
  info->path = path;
  uint64_t offset = 0;
  for (uint64_t index = 0; offset < bytes.size(); ++index) {
    const auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": record ", index, " at byte ", offset, ": ", what));
    };
    const uint64_t left = bytes.size() - offset;
    if (left < kRecordHeaderSize) {
      return bad(absl::StrCat("truncated header (", left, " of ",
                              kRecordHeaderSize, " bytes)"));
    }
    const absl::string_view rec = bytes.substr(offset);
    if (index == 0) {
      const uint32_t le = Load<uint32_t>(rec, kMagicOffset, false);
      info->big_endian =
          (le & kMagicMask) != kMagic &&
          (Load<uint32_t>(rec, kMagicOffset, true) & kMagicMask) == kMagic;
    }
    const bool be = info->big_endian;
    const uint32_t magic = Load<uint32_t>(rec, kMagicOffset, be);
    if ((magic & kMagicMask) != kMagic) {
      return bad(absl::StrCat("bad magic 0x", absl::Hex(magic, absl::kZeroPad8),
                              " (not a blktrace record",
                              index == 0 ? "" : " in this file's byte order",
                              ")"));
    }
    if ((magic & 0xff) != kSupportedVersion) {
      return bad(absl::StrCat("blktrace version ", magic & 0xff,
                              " is not supported (only version ",
                              kSupportedVersion, ")"));
    }
    const uint16_t pdu_len = Load<uint16_t>(rec, kPduLenOffset, be);
    if (left - kRecordHeaderSize < pdu_len) {
      return bad(absl::StrCat("truncated payload (pdu_len ", pdu_len, ", ",
                              left - kRecordHeaderSize, " bytes follow)"));
    }
    absl::string_view pdu = rec.substr(kRecordHeaderSize, pdu_len);
    const uint32_t action = Load<uint32_t>(rec, kActionOffset, be);
    const uint32_t categories = action >> 16;
    ++info->records;
    if ((categories & kTcNotify) != 0) {
      ++info->notify;
      offset += kRecordHeaderSize + pdu_len;
      continue;
    }
    if ((action & kActionCgroup) != 0) {
      if (pdu.size() < kCgroupIdSize) {
        return bad(absl::StrCat("cgroup flag with a payload of ", pdu.size(),
                                " bytes"));
      }
      ++info->cgroup;
      pdu.remove_prefix(kCgroupIdSize);
    }
    BlockEvent e;
    e.source_file = file_index;
    e.source_entry = index;
    e.raw_action = static_cast<uint8_t>(action & 0xff);
    e.time_ns = Load<uint64_t>(rec, kTimeOffset, be);
    e.sector = Load<uint64_t>(rec, kSectorOffset, be);
    const uint32_t nbytes = Load<uint32_t>(rec, kBytesOffset, be);
    e.num_sectors = nbytes >> 9;
    e.pid = Load<uint32_t>(rec, kPidOffset, be);
    const uint32_t dev = Load<uint32_t>(rec, kDeviceOffset, be);
    e.major = KernelMajor(dev);
    e.minor = KernelMinor(dev);
    e.cpu = Load<uint32_t>(rec, kCpuOffset, be);
    e.sequence = Load<uint32_t>(rec, kSequenceOffset, be);
    e.error = static_cast<int16_t>(Load<uint16_t>(rec, kErrorOffset, be));

    // Categories -> RWBS as blkparse prints it, and the event's fields.
    const bool flush = (categories & kTcFlush) != 0;
    const bool discard = (categories & kTcDiscard) != 0;
    const bool write = (categories & kTcWrite) != 0;
    if (flush) e.rwbs += 'F';
    if (discard) {
      e.rwbs += 'D';
    } else if (write) {
      e.rwbs += 'W';
    } else if (nbytes != 0) {
      e.rwbs += 'R';
    } else {
      e.rwbs += 'N';
    }
    if ((categories & kTcFua) != 0) e.rwbs += 'F';
    if ((categories & kTcAhead) != 0) e.rwbs += 'A';
    if ((categories & kTcSync) != 0) e.rwbs += 'S';
    if ((categories & kTcMeta) != 0) e.rwbs += 'M';
    if (flush) e.flags |= kPreflush;
    if ((categories & kTcFua) != 0) e.flags |= kFua;
    if ((categories & kTcSync) != 0) e.flags |= kSync;
    if ((categories & kTcMeta) != 0) e.flags |= kMeta;
    if (flush && nbytes == 0 && !discard) {
      e.is_flush_only = true;
    } else if (discard) {
      e.is_discard = true;
    } else if (write) {
      e.is_write = true;
    } else {
      e.is_read = nbytes != 0;
    }

    const bool passthrough = (categories & kTcPc) != 0;
    switch (e.raw_action) {
      case kBlkTaQueue:
        e.action = BlockAction::kQueue;
        break;
      case kBlkTaIssue:
        e.action = BlockAction::kIssue;
        break;
      case kBlkTaComplete:
        e.action = BlockAction::kComplete;
        break;
      default:
        e.action = BlockAction::kOther;
        break;
    }
    if (passthrough) e.action = BlockAction::kOther;
    if (e.action != BlockAction::kOther && (nbytes & 511) != 0) {
      return bad(
          absl::StrCat("byte count ", nbytes, " is not a multiple of 512"));
    }
    if (e.raw_action == kBlkTaRemap) {
      if (pdu.size() < kRemapPduSize) {
        return bad(absl::StrCat("remap payload of ", pdu.size(), " bytes (",
                                kRemapPduSize, " needed)"));
      }
      // The payload is big-endian whatever the host's byte order.
      const uint32_t from = Load<uint32_t>(pdu, 0, true);
      const uint32_t to = Load<uint32_t>(pdu, 4, true);
      e.is_remap = true;
      e.from_major = KernelMajor(from);
      e.from_minor = KernelMinor(from);
      e.major = KernelMajor(to);
      e.minor = KernelMinor(to);
      e.from_sector = Load<uint64_t>(pdu, 8, true);
      ++info->remaps;
    }
    out->push_back(std::move(e));
    offset += kRecordHeaderSize + pdu_len;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<BlockEvent>> ReadBlktraceBinary(
    const std::vector<std::string>& paths,
    std::vector<BlktraceFileInfo>* info) {
  std::vector<BlktraceFileInfo> infos(paths.size());
  std::vector<BlockEvent> events;
  for (size_t f = 0; f < paths.size(); ++f) {
    RETURN_IF_ERROR(ReadOneBlktraceFile(paths[f], static_cast<uint32_t>(f),
                                        &events, &infos[f]));
  }
  // Merge the files by time; ties go by cpu, then sequence.
  std::stable_sort(events.begin(), events.end(),
                   [](const BlockEvent& a, const BlockEvent& b) {
                     if (a.time_ns != b.time_ns) return a.time_ns < b.time_ns;
                     if (a.cpu != b.cpu) return a.cpu < b.cpu;
                     if (a.sequence != b.sequence) {
                       return a.sequence < b.sequence;
                     }
                     if (a.source_file != b.source_file) {
                       return a.source_file < b.source_file;
                     }
                     return a.source_entry < b.source_entry;
                   });
  if (info != nullptr) *info = std::move(infos);
  return events;
}

absl::StatusOr<std::vector<BlockEvent>> ReadBlockEventText(
    const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  std::vector<BlockEvent> events;
  uint64_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(file->contents(), '\n')) {
    ++line_number;
    const std::vector<absl::string_view> first =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    uint32_t major = 0, minor = 0;
    const bool blkparse =
        !first.empty() && ParseDevice(first[0], &major, &minor);
    absl::StatusOr<std::optional<BlockEvent>> event =
        blkparse ? ParseBlkparseLine(line, line_number)
                 : ParseTracefsLine(line, line_number);
    if (!event.ok()) return AddContext(event.status(), path);
    if (event->has_value()) events.push_back(std::move(**event));
  }
  return events;
}

bool LooksLikeBlockEventText(absl::string_view head) {
  size_t start = 0;
  uint64_t line_number = 0;
  while (start < head.size()) {
    const size_t end = head.find('\n', start);
    if (end == absl::string_view::npos) return false;  // incomplete line
    const absl::string_view line = head.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.find('\0') != absl::string_view::npos) return false;
    const absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (stripped.empty() || stripped[0] == '#') continue;
    absl::StatusOr<std::optional<BlockEvent>> blk =
        ParseBlkparseLine(line, line_number);
    if (blk.ok() && blk->has_value()) return true;
    absl::StatusOr<std::optional<BlockEvent>> fs =
        ParseTracefsLine(line, line_number);
    if (fs.ok() && fs->has_value()) return true;
    // A tracefs line of another event: look further.
    if (fs.ok() && SplitTracefs(stripped).has_value()) continue;
    return false;
  }
  return false;
}

bool LooksLikeBlktraceBinary(absl::string_view head) {
  if (head.size() < 4) return false;
  return (Load<uint32_t>(head, 0, false) & kMagicMask) == kMagic ||
         (Load<uint32_t>(head, 0, true) & kMagicMask) == kMagic;
}

std::vector<std::string> BlktraceCpuFiles(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string base =
      slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string infix_text = ".blktrace.";
  const size_t infix = base.rfind(infix_text);
  if (infix == std::string::npos || infix == 0 ||
      !IsDigits(absl::string_view(base).substr(infix + infix_text.size()))) {
    return {path};
  }
  const std::string prefix = base.substr(0, infix + infix_text.size());
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (d == nullptr) return {path};
  std::vector<std::pair<uint64_t, std::string>> found;
  while (const dirent* entry = ::readdir(d.get())) {
    const absl::string_view name = entry->d_name;
    uint64_t cpu = 0;
    if (!absl::StartsWith(name, prefix) ||
        !ParseUnsigned(name.substr(prefix.size()), &cpu)) {
      continue;
    }
    const std::string sibling = slash == std::string::npos
                                    ? std::string(name)
                                    : absl::StrCat(dir, name);
    struct stat st;
    if (::stat(sibling.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    found.emplace_back(cpu, sibling);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  bool has_path = false;
  for (auto& [cpu, sibling] : found) {
    has_path = has_path || sibling == path;
    paths.push_back(std::move(sibling));
  }
  if (!has_path) return {path};
  return paths;
}

}  // namespace crashenum
