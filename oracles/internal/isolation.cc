#include "oracles/internal/isolation.h"

namespace crashenum {
namespace internal_oracles {

SubprocessOptions IsolatedOptions(const OracleOptions& options) {
  SubprocessOptions run;
  run.timeout = options.timeout;
  if (options.max_memory_bytes != 0) {
    run.max_address_space = options.max_memory_bytes;
  }
  if (options.max_file_size_bytes != 0) {
    run.max_file_size = options.max_file_size_bytes;
  }
  run.new_network_namespace = options.isolate_network;
  run.private_tmp_parent = options.scratch_dir;
  return run;
}

}  // namespace internal_oracles
}  // namespace crashenum
