// A read-only memory mapping of a whole file.
//
// Trace readers keep written data in the file and hand out views into this
// mapping, so a trace is never copied whole into memory; the kernel pages the
// bytes in on demand and may drop them again.
#ifndef CRASHENUM_CORE_MAPPED_FILE_H_
#define CRASHENUM_CORE_MAPPED_FILE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace crashenum {

class MappedFile {
 public:
  // Maps `path` read-only. Errors: NotFound / PermissionDenied /
  // InvalidArgument (not a regular file), each naming the path. An empty file
  // maps to an empty view.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(
      const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // The whole file. Valid as long as this object lives. Thread-safe.
  absl::string_view contents() const {
    return absl::string_view(static_cast<const char*>(data_), size_);
  }
  // Tells the kernel the range [offset, offset+length) will not be needed
  // soon, so its pages stop counting against resident memory. Purely advisory.
  void DontNeed(uint64_t offset, uint64_t length) const;

 private:
  MappedFile(std::string path, void* data, uint64_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  void* data_;
  uint64_t size_;
};

}  // namespace crashenum

#endif  // CRASHENUM_CORE_MAPPED_FILE_H_
