// ReadCrashenumTrace and ReadCrashenumInfo of crashenum_format.h; the writer
// is in crashenum_writer.cc.
#include "traces/crashenum_format.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "core/mapped_file.h"
#include "core/status_macros.h"
#include "core/trace.h"
#include "traces/internal/crashenum_layout.h"
#include "traces/internal/crc32c.h"
#include "traces/internal/little_endian.h"

namespace crashenum {
namespace {

using internal_traces::Crc32c;
using internal_traces::kCompleteRecord;
using internal_traces::kCompleteSize;
using internal_traces::kCrashenumMagic;
using internal_traces::kCrashenumMajor;
using internal_traces::kCrashenumMinor;
using internal_traces::kDataRecord;
using internal_traces::kDeviceFixedSize;
using internal_traces::kDeviceRecord;
using internal_traces::kEndRecord;
using internal_traces::kEndSize;
using internal_traces::kFileCrcOffset;
using internal_traces::kFileHeaderSize;
using internal_traces::kFileMajorOffset;
using internal_traces::kFileMinorOffset;
using internal_traces::kInfoMinSize;
using internal_traces::kInfoRecord;
using internal_traces::kKindDiscard;
using internal_traces::kKindFlush;
using internal_traces::kKindWrite;
using internal_traces::kKnownFlags;
using internal_traces::kMarkMinSize;
using internal_traces::kMarkRecord;
using internal_traces::kRecordHeaderCrcOffset;
using internal_traces::kRecordHeaderSize;
using internal_traces::kRecordLengthOffset;
using internal_traces::kRecordPayloadCrcOffset;
using internal_traces::kRecordTypeOffset;
using internal_traces::kSubmitRecord;
using internal_traces::kSubmitSize;
using internal_traces::LoadLittleEndian;
using internal_traces::RecordTypeName;

// A TraceBuilder error as the InvalidArgument of bad input.
absl::Status AsInvalid(const absl::Status& status) {
  if (status.ok()) return status;
  return absl::InvalidArgumentError(status.message());
}

std::string Hex32(uint32_t value) {
  return absl::StrCat("0x", absl::Hex(value));
}

// `text` as is when it holds no control characters, else C-escaped.
std::string Printable(absl::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::CHexEscape(text);
    }
  }
  return std::string(text);
}

struct Record {
  uint64_t index = 0;
  uint64_t offset = 0;  // of the record header
  uint16_t type = 0;
  absl::string_view payload;
  uint64_t payload_offset() const { return offset + kRecordHeaderSize; }
};

// Walks the records of a mapped crashenum file, checking the framing and
// checksums of each.
class RecordScanner {
 public:
  // Walks `mapped`, whose path is `path`; both must outlive the scanner.
  // With `verify_data` false the payloads of data records are not
  // checksummed.
  RecordScanner(const std::string& path, const MappedFile& mapped,
                bool verify_data)
      : path_(path),
        mapped_(mapped),
        file_(mapped.contents()),
        verify_data_(verify_data) {}

  // Checks the file header. Errors: InvalidArgument naming the path and the
  // offset of the bad field.
  absl::Status ReadFileHeader() {
    if (file_.size() < kFileHeaderSize) {
      return HeaderError(
          0, absl::StrCat("the file has ", file_.size(),
                          " bytes, too short for the ", kFileHeaderSize,
                          "-byte crashenum header"));
    }
    if (file_.substr(0, kCrashenumMagic.size()) != kCrashenumMagic) {
      return HeaderError(0, absl::StrCat("bad magic 0x",
                                         absl::BytesToHexString(file_.substr(
                                             0, kCrashenumMagic.size())),
                                         " (not a crashenum trace)"));
    }
    const uint32_t stored = LoadLittleEndian<uint32_t>(file_, kFileCrcOffset);
    const uint32_t computed = Crc32c(file_.substr(0, kFileCrcOffset));
    if (stored != computed) {
      return HeaderError(
          kFileCrcOffset,
          absl::StrCat("header checksum mismatch (stored ", Hex32(stored),
                       ", computed ", Hex32(computed), ")"));
    }
    major_ = LoadLittleEndian<uint16_t>(file_, kFileMajorOffset);
    minor_ = LoadLittleEndian<uint16_t>(file_, kFileMinorOffset);
    if (major_ != kCrashenumMajor) {
      return HeaderError(
          kFileMajorOffset,
          absl::StrCat("format version ", Version(), " is ",
                       major_ > kCrashenumMajor ? "newer than" : "older than",
                       " this reader's ", kCrashenumMajor, ".", kCrashenumMinor,
                       ", and another major version cannot be read"));
    }
    offset_ = kFileHeaderSize;
    released_ = 0;
    return absl::OkStatus();
  }

  // Reads the next record into *record; false at the end of the file.
  // Errors: InvalidArgument naming the record, its type and offset, for a
  // truncated record or a checksum mismatch.
  absl::StatusOr<bool> Next(Record* record) {
    if (offset_ == file_.size()) {
      Release(offset_);
      return false;
    }
    const uint64_t left = file_.size() - offset_;
    if (left < kRecordHeaderSize) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": record ", index_, " at byte ", offset_,
                       ": truncated: the file ends ", left, " bytes into its ",
                       kRecordHeaderSize, "-byte header"));
    }
    Record r;
    r.index = index_;
    r.offset = offset_;
    const absl::string_view header = file_.substr(offset_, kRecordHeaderSize);
    r.type = LoadLittleEndian<uint16_t>(header, kRecordTypeOffset);
    const uint32_t stored =
        LoadLittleEndian<uint32_t>(header, kRecordHeaderCrcOffset);
    const uint32_t computed = Crc32c(header.substr(kRecordTypeOffset));
    if (stored != computed) {
      return absl::InvalidArgumentError(
          absl::StrCat(Context(r), ": header checksum mismatch (stored ",
                       Hex32(stored), ", computed ", Hex32(computed), ")"));
    }
    const uint64_t length =
        LoadLittleEndian<uint64_t>(header, kRecordLengthOffset);
    if (length > left - kRecordHeaderSize) {
      return absl::InvalidArgumentError(
          absl::StrCat(Context(r), ": truncated: the payload of ", length,
                       " bytes runs past the end of the file (",
                       left - kRecordHeaderSize, " bytes follow the header)"));
    }
    r.payload = file_.substr(r.payload_offset(), length);
    if (r.type != kDataRecord || verify_data_) {
      const uint32_t stored_payload =
          LoadLittleEndian<uint32_t>(header, kRecordPayloadCrcOffset);
      const uint32_t computed_payload = Crc32c(r.payload);
      if (stored_payload != computed_payload) {
        return absl::InvalidArgumentError(
            absl::StrCat(Context(r), ": payload checksum mismatch (stored ",
                         Hex32(stored_payload), ", computed ",
                         Hex32(computed_payload), ")"));
      }
    }
    offset_ += kRecordHeaderSize + length;
    ++index_;
    // The checksums read every data byte once.
    if (offset_ - released_ >= Trace::kReleaseBytes) Release(offset_);
    *record = r;
    return true;
  }

  // "PATH: record I (TYPE) at byte O".
  std::string Context(const Record& r) const {
    return absl::StrCat(path_, ": record ", r.index, " (",
                        RecordTypeName(r.type), ") at byte ", r.offset);
  }
  std::string Version() const { return absl::StrCat(major_, ".", minor_); }
  uint16_t minor() const { return minor_; }
  uint64_t offset() const { return offset_; }
  uint64_t records() const { return index_; }

 private:
  absl::Status HeaderError(uint64_t offset, absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": file header at byte ", offset, ": ", message));
  }

  // Tells the kernel the pages read so far may go.
  void Release(uint64_t up_to) {
    mapped_.DontNeed(released_, up_to - released_);
    released_ = up_to;
  }

  const std::string& path_;
  const MappedFile& mapped_;
  absl::string_view file_;
  bool verify_data_;
  uint16_t major_ = 0;
  uint16_t minor_ = 0;
  uint64_t offset_ = 0;
  uint64_t index_ = 0;
  uint64_t released_ = 0;
};

// Bounds-checked little-endian fields of a payload.
class PayloadReader {
 public:
  explicit PayloadReader(absl::string_view payload) : payload_(payload) {}

  // Precondition (each): the payload still holds the field; callers check
  // the fixed size first.
  uint32_t U32() { return Take<uint32_t>(); }
  uint64_t U64() { return Take<uint64_t>(); }
  // A u32 length and that many bytes; false when they do not fit.
  bool String(absl::string_view* out) {
    if (left() < 4) return false;
    const uint32_t length = U32();
    if (length > left()) return false;
    *out = payload_.substr(pos_, length);
    pos_ += length;
    return true;
  }
  uint64_t left() const { return payload_.size() - pos_; }

 private:
  template <typename T>
  T Take() {
    const T value = LoadLittleEndian<T>(payload_, pos_);
    pos_ += sizeof(T);
    return value;
  }

  absl::string_view payload_;
  uint64_t pos_ = 0;
};

// What the reader learned besides the trace, for the notes.
struct FileFacts {
  std::vector<std::pair<std::string, std::string>> info;
  bool has_end = false;
  uint64_t records = 0;
  std::map<uint16_t, uint64_t> skipped;  // unknown type -> records
  uint64_t extended = 0;  // records with fields this reader does not know
};

// Turns checked records into trace events, one record at a time.
class TraceAssembler {
 public:
  // `builder` is null when only the info records are wanted.
  // `file` is the whole file the scanner walks.
  TraceAssembler(const RecordScanner& scanner, absl::string_view file,
                 TraceBuilder* builder, FileFacts* facts)
      : scanner_(scanner), file_(file), builder_(builder), facts_(facts) {}

  // Errors: InvalidArgument naming the record.
  absl::Status Apply(const Record& r) {
    RETURN_IF_ERROR(ApplyPayload(r), scanner_.Context(r));
    return absl::OkStatus();
  }

 private:
  absl::Status ApplyPayload(const Record& r) {
    PayloadReader p(r.payload);
    switch (r.type) {
      case kInfoRecord: {
        absl::string_view key, value;
        if (r.payload.size() < kInfoMinSize || !p.String(&key) ||
            !p.String(&value)) {
          return Invalid("its key or value runs past the payload");
        }
        facts_->info.emplace_back(std::string(key), std::string(value));
        return Rest(p);
      }
      case kDataRecord:
        data_.push_back({r.payload_offset(), r.payload.size()});
        return absl::OkStatus();
      case kDeviceRecord:
        return ApplyDevice(r, &p);
      case kSubmitRecord:
        return ApplySubmit(r, &p);
      case kCompleteRecord: {
        if (r.payload.size() < kCompleteSize) return TooShort(r, kCompleteSize);
        const uint32_t op = p.U32();
        const int32_t status = static_cast<int32_t>(p.U32());
        if (status > 0) {
          return Invalid(
              absl::StrCat("status ", status, " is not 0 or a negative errno"));
        }
        ++completions_;
        if (builder_ != nullptr) {
          RETURN_IF_ERROR(AsInvalid(builder_->Complete(op, status, r.index)));
        }
        return Rest(p);
      }
      case kMarkRecord: {
        absl::string_view label;
        if (r.payload.size() < kMarkMinSize || !p.String(&label)) {
          return Invalid("its label runs past the payload");
        }
        ++marks_;
        if (builder_ != nullptr) builder_->AddMark(std::string(label), r.index);
        return Rest(p);
      }
      case kEndRecord:
        return ApplyEnd(r, &p);
    }
    if (scanner_.minor() <= kCrashenumMinor) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown record type ", r.type, " in a format ",
                       scanner_.Version(), " file"));
    }
    ++facts_->skipped[r.type];
    return absl::OkStatus();
  }

  absl::Status ApplyDevice(const Record& r, PayloadReader* p) {
    if (r.payload.size() < kDeviceFixedSize) {
      return TooShort(r, kDeviceFixedSize);
    }
    Device device;
    device.sector_size = p->U32();
    const uint32_t name_length = p->U32();
    device.num_sectors = p->U64();
    const uint64_t base_offset = p->U64();
    const uint64_t base_length = p->U64();
    if (name_length > p->left()) {
      return Invalid("its name runs past the payload");
    }
    device.name = std::string(r.payload.substr(kDeviceFixedSize, name_length));
    PayloadReader rest(r.payload.substr(kDeviceFixedSize + name_length));
    if (device.name.empty()) return Invalid("the device has no name");
    if (std::find(names_.begin(), names_.end(), device.name) != names_.end()) {
      return Invalid(absl::StrCat("a second device named ", device.name));
    }
    if (device.sector_size != 0 &&
        device.num_sectors >
            std::numeric_limits<uint64_t>::max() / device.sector_size) {
      return Invalid(
          absl::StrCat(device.num_sectors, " sectors overflow 64 bits"));
    }
    if (base_length == 0 && base_offset != 0) {
      return Invalid("a base offset without a base length");
    }
    if (base_length != 0) {
      ASSIGN_OR_RETURN(device.base, DataView(base_offset, base_length),
                       "base image");
    }
    names_.push_back(device.name);
    if (builder_ != nullptr) {
      RETURN_IF_ERROR(builder_->AddDevice(std::move(device)).status());
    }
    return Rest(rest);
  }

  absl::Status ApplySubmit(const Record& r, PayloadReader* p) {
    if (r.payload.size() < kSubmitSize) return TooShort(r, kSubmitSize);
    const uint32_t index = p->U32();
    Op op;
    op.device = p->U32();
    const uint32_t kind = p->U32();
    op.flags = p->U32();
    op.sector = p->U64();
    op.num_sectors = p->U64();
    const uint64_t data_offset = p->U64();
    const uint64_t data_length = p->U64();
    if (index != ops_) {
      return Invalid(absl::StrCat("op number ", index, ", expected ", ops_,
                                  " (ops are numbered in order)"));
    }
    if ((op.flags & ~kKnownFlags) != 0) {
      return Invalid(
          absl::StrCat("unknown flag bits ", Hex32(op.flags & ~kKnownFlags)));
    }
    switch (kind) {
      case kKindWrite: {
        op.kind = OpKind::kWrite;
        ASSIGN_OR_RETURN(op.data, DataView(data_offset, data_length),
                         "write data");
        break;
      }
      case kKindFlush:
      case kKindDiscard:
        op.kind = kind == kKindFlush ? OpKind::kFlush : OpKind::kDiscard;
        if (data_offset != 0 || data_length != 0) {
          return Invalid(absl::StrCat("a ",
                                      kind == kKindFlush ? "flush" : "discard",
                                      " refers to data"));
        }
        break;
      default:
        return Invalid(absl::StrCat("unknown op kind ", kind));
    }
    ++ops_;
    if (builder_ != nullptr) {
      RETURN_IF_ERROR(builder_->Submit(op, r.index).status());
    }
    return Rest(*p);
  }

  absl::Status ApplyEnd(const Record& r, PayloadReader* p) {
    if (r.payload.size() < kEndSize) return TooShort(r, kEndSize);
    const uint64_t counts[] = {p->U64(), p->U64(), p->U64(), p->U64(),
                               p->U64()};
    const uint64_t actual[] = {r.index, names_.size(), ops_, completions_,
                               marks_};
    const char* names[] = {"records", "devices", "ops", "completions", "marks"};
    for (int i = 0; i < 5; ++i) {
      if (counts[i] != actual[i]) {
        return Invalid(absl::StrCat("it counts ", counts[i], " ", names[i],
                                    ", the file holds ", actual[i]));
      }
    }
    facts_->has_end = true;
    return Rest(*p);
  }

  // The view of file bytes [offset, offset + length), which must lie inside
  // the payload of one data record read before.
  absl::StatusOr<absl::string_view> DataView(uint64_t offset,
                                             uint64_t length) const {
    // The last data record starting at or before `offset`.
    auto it = std::upper_bound(
        data_.begin(), data_.end(), offset,
        [](uint64_t o, const DataRange& d) { return o < d.offset; });
    const DataRange* d = it == data_.begin() ? nullptr : &*(it - 1);
    if (d == nullptr || offset - d->offset > d->size ||
        length > d->size - (offset - d->offset)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the ", length, " bytes at byte ", offset,
                       " are not inside an earlier data record"));
    }
    return file_.substr(offset, length);
  }

  // Bytes past the fields this reader knows: ignored in a file of a newer
  // minor version (which may append fields), else an error.
  absl::Status Rest(const PayloadReader& p) {
    if (p.left() == 0) return absl::OkStatus();
    if (scanner_.minor() > kCrashenumMinor) {
      ++facts_->extended;
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("the payload has ", p.left(), " bytes past its fields"));
  }

  absl::Status TooShort(const Record& r, uint64_t size) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "a payload of ", r.payload.size(), " bytes, shorter than ", "the ",
        size, " bytes of a ", RecordTypeName(r.type), " record"));
  }
  static absl::Status Invalid(absl::string_view what) {
    return absl::InvalidArgumentError(what);
  }

  struct DataRange {
    uint64_t offset;
    uint64_t size;
  };

  const RecordScanner& scanner_;
  absl::string_view file_;
  TraceBuilder* builder_;
  FileFacts* facts_;
  std::vector<DataRange> data_;  // payloads of the data records, in order
  std::vector<std::string> names_;
  uint64_t ops_ = 0;
  uint64_t completions_ = 0;
  uint64_t marks_ = 0;
};

// Checks every record of the mapped file and feeds it to `builder` (null:
// only `facts` are gathered).
absl::Status Scan(const std::string& path, const MappedFile& mapped,
                  TraceBuilder* builder, FileFacts* facts) {
  RecordScanner scanner(path, mapped, /*verify_data=*/builder != nullptr);
  RETURN_IF_ERROR(scanner.ReadFileHeader());
  TraceAssembler assembler(scanner, mapped.contents(), builder, facts);
  Record record;
  while (true) {
    ASSIGN_OR_RETURN(const bool more, scanner.Next(&record));
    if (!more) break;
    RETURN_IF_ERROR(assembler.Apply(record));
    if (facts->has_end && scanner.offset() != mapped.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          scanner.Context(record), ": ", mapped.size() - scanner.offset(),
          " bytes follow the end record"));
    }
  }
  facts->records = scanner.records();
  return absl::OkStatus();
}

std::string Notes(const std::string& path, uint16_t file_minor,
                  const FileFacts& facts) {
  std::string notes;
  for (const auto& [key, value] : facts.info) {
    absl::StrAppend(&notes, path, ": info ", Printable(key), ": ",
                    Printable(value), "\n");
  }
  if (!facts.has_end) {
    absl::StrAppend(&notes, path,
                    ": no end record: the recording stopped before it was "
                    "finished; read the ",
                    facts.records, " whole records it holds\n");
  }
  const std::string versions = absl::StrCat(
      "the file is format ", kCrashenumMajor, ".", file_minor,
      ", this reader knows ", kCrashenumMajor, ".", kCrashenumMinor);
  if (!facts.skipped.empty()) {
    uint64_t total = 0;
    std::vector<std::string> types;
    for (const auto& [type, count] : facts.skipped) {
      total += count;
      types.push_back(absl::StrCat(type));
    }
    absl::StrAppend(&notes, path, ": skipped ", total, " records of types (",
                    absl::StrJoin(types, ", "),
                    ") that this reader does not know; ", versions, "\n");
  }
  if (facts.extended != 0) {
    absl::StrAppend(&notes, path, ": ignored fields unknown to this reader in ",
                    facts.extended, " records; ", versions, "\n");
  }
  return notes;
}

}  // namespace

absl::StatusOr<Trace> ReadCrashenumTrace(const std::string& path,
                                         const CrashenumReadOptions& options,
                                         std::string* notes) {
  if (notes != nullptr) notes->clear();
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open(path));
  TraceBuilder builder("crashenum", path);
  const MappedFile& mapped = builder.AdoptFile(std::move(file));
  FileFacts facts;
  RETURN_IF_ERROR(Scan(path, mapped, &builder, &facts));
  ASSIGN_OR_RETURN(Trace trace, std::move(builder).Build(), path);
  if (notes != nullptr) {
    const uint16_t minor = LoadLittleEndian<uint16_t>(
        mapped.contents(), internal_traces::kFileMinorOffset);
    *notes = Notes(path, minor, facts);
  }
  return trace;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ReadCrashenumInfo(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  FileFacts facts;
  RETURN_IF_ERROR(Scan(path, *mapped, nullptr, &facts));
  return std::move(facts.info);
}

}  // namespace crashenum
