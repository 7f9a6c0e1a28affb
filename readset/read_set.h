// The read set of an oracle run (DESIGN.md section 3, "Read-set pruning"):
// which bytes of its image files the run's processes read before any of
// them wrote those bytes, as recorded by the LD_PRELOAD library
// //readset:libcrashenum_readset.so (docs/READSET.md).
//
// A run: ShimEnvironment() gives the variables to add to the environment of
// every process the oracle starts; each such process (and each process they
// start) leaves records in `out_dir`; after the last one ended,
// LoadReadSet() combines them.
#ifndef CRASHENUM_READSET_READ_SET_H_
#define CRASHENUM_READSET_READ_SET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace crashenum {

struct ReadSet {
  // Per watched file, in the order given to ShimEnvironment: the byte ranges
  // [begin, end) some process read before any process of the run had
  // written them. Sorted, disjoint and not adjacent.
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> read;
  // True when what was read cannot be known exactly (a process died before
  // its record was complete, read through stdio, a memory map that could
  // not be followed, io_uring, ...; docs/READSET.md lists the cases): every
  // byte of every watched file then counts as read, and `read` holds only
  // what was seen.
  bool whole = false;
};

// Combines the records in `out_dir` of one run that watched `num_files`
// files. Processes are taken in the order they started; a process's reads
// of bytes that a process which had already ended before it started wrote
// do not count (that content came from the run, not the image), and the
// shim already left out its reads of bytes it wrote itself. A record that
// does not end with its "end" line belongs to a process that did not finish:
// only its header is read, and the result is `whole`. Files whose names start
// with '.' or do not end in ".rs" are ignored. Call it only after every
// process of the run has ended.
//
// Errors: NotFound when `out_dir` cannot be read; InvalidArgument naming the
// file and line for a malformed record, including one that watched another
// number of files than `num_files` (which is also what a watched path
// containing ':' leads to). Thread safe; reads only `out_dir`.
absl::StatusOr<ReadSet> LoadReadSet(const std::string& out_dir,
                                    size_t num_files);

// The indexes of the `unit_bytes`-byte units of file `file` that some range
// in `rs.read[file]` touches, ascending and without repeats. Ignores
// `rs.whole`: a caller checks it first. Preconditions: file <
// rs.read.size(), unit_bytes > 0. Thread safe.
std::vector<uint64_t> UnitsOf(const ReadSet& rs, size_t file,
                              uint32_t unit_bytes);

// The environment variables that make a process record its reads of
// `image_paths` into `out_dir`: LD_PRELOAD (`shim_path` put before this
// process's own LD_PRELOAD, when it has one), CRASHENUM_READSET_FILES (the
// paths joined with ':') and CRASHENUM_READSET_OUT. Relative paths are made
// absolute against the current directory, so that an oracle that changes
// directory still finds them. `out_dir` must exist and be writable by the
// oracle's processes when they run; a process that cannot write its record
// ends with SIGABRT. Paths must not contain ':' (LoadReadSet then fails),
// nor may `shim_path` contain ':' or spaces (LD_PRELOAD's separators).
// Reads this process's LD_PRELOAD and working directory: not safe against a
// concurrent setenv or chdir.
std::vector<std::pair<std::string, std::string>> ShimEnvironment(
    const std::string& shim_path, const std::vector<std::string>& image_paths,
    const std::string& out_dir);

}  // namespace crashenum

#endif  // CRASHENUM_READSET_READ_SET_H_
