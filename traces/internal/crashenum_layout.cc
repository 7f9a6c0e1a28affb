#include "traces/internal/crashenum_layout.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "traces/internal/crc32c.h"
#include "traces/internal/little_endian.h"

namespace crashenum {
namespace internal_traces {

std::string RecordTypeName(uint16_t type) {
  switch (type) {
    case kInfoRecord:
      return "info";
    case kDeviceRecord:
      return "device";
    case kDataRecord:
      return "data";
    case kSubmitRecord:
      return "submit";
    case kCompleteRecord:
      return "complete";
    case kMarkRecord:
      return "mark";
    case kEndRecord:
      return "end";
  }
  return absl::StrCat("type ", type);
}

std::string EncodeFileHeader(uint16_t major, uint16_t minor) {
  std::string header(kCrashenumMagic);
  AppendLittleEndian<uint16_t>(major, &header);
  AppendLittleEndian<uint16_t>(minor, &header);
  AppendLittleEndian<uint32_t>(Crc32c(header), &header);
  return header;
}

std::string EncodeRecordHeader(uint16_t type, uint64_t length,
                               uint32_t payload_crc, uint16_t flags) {
  std::string header(kRecordHeaderCrcOffset + 4, '\0');
  AppendLittleEndian<uint16_t>(type, &header);
  AppendLittleEndian<uint16_t>(flags, &header);
  AppendLittleEndian<uint64_t>(length, &header);
  AppendLittleEndian<uint32_t>(payload_crc, &header);
  StoreLittleEndian<uint32_t>(
      Crc32c(absl::string_view(header).substr(kRecordTypeOffset)),
      kRecordHeaderCrcOffset, &header);
  return header;
}

std::string EncodeRecord(uint16_t type, absl::string_view payload) {
  std::string record =
      EncodeRecordHeader(type, payload.size(), Crc32c(payload));
  record.append(payload.data(), payload.size());
  return record;
}

namespace {

void AppendLengthPrefixed(absl::string_view bytes, std::string* out) {
  AppendLittleEndian<uint32_t>(static_cast<uint32_t>(bytes.size()), out);
  out->append(bytes.data(), bytes.size());
}

}  // namespace

std::string EncodeInfo(absl::string_view key, absl::string_view value) {
  std::string payload;
  AppendLengthPrefixed(key, &payload);
  AppendLengthPrefixed(value, &payload);
  return payload;
}

std::string EncodeDevice(uint32_t sector_size, absl::string_view name,
                         uint64_t num_sectors, uint64_t base_offset,
                         uint64_t base_length) {
  std::string payload;
  AppendLittleEndian<uint32_t>(sector_size, &payload);
  AppendLittleEndian<uint32_t>(static_cast<uint32_t>(name.size()), &payload);
  AppendLittleEndian<uint64_t>(num_sectors, &payload);
  AppendLittleEndian<uint64_t>(base_offset, &payload);
  AppendLittleEndian<uint64_t>(base_length, &payload);
  payload.append(name.data(), name.size());
  return payload;
}

std::string EncodeSubmit(const SubmitFields& f) {
  std::string payload;
  for (uint32_t v : {f.op, f.device, f.kind, f.flags}) {
    AppendLittleEndian<uint32_t>(v, &payload);
  }
  for (uint64_t v : {f.sector, f.num_sectors, f.data_offset, f.data_length}) {
    AppendLittleEndian<uint64_t>(v, &payload);
  }
  return payload;
}

std::string EncodeComplete(uint32_t op, int32_t status) {
  std::string payload;
  AppendLittleEndian<uint32_t>(op, &payload);
  AppendLittleEndian<uint32_t>(static_cast<uint32_t>(status), &payload);
  return payload;
}

std::string EncodeMark(absl::string_view label) {
  std::string payload;
  AppendLengthPrefixed(label, &payload);
  return payload;
}

std::string EncodeEnd(const EndCounts& c) {
  std::string payload;
  for (uint64_t v : {c.records, c.devices, c.ops, c.completions, c.marks}) {
    AppendLittleEndian<uint64_t>(v, &payload);
  }
  return payload;
}

}  // namespace internal_traces
}  // namespace crashenum
