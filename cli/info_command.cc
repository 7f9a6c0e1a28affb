#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace crashenum {
namespace internal_cli {
namespace {

std::string Size(uint64_t bytes) {
  if (bytes % (1 << 30) == 0 && bytes > 0) return absl::StrCat(bytes >> 30, " GiB");
  if (bytes % (1 << 20) == 0 && bytes > 0) return absl::StrCat(bytes >> 20, " MiB");
  if (bytes % (1 << 10) == 0 && bytes > 0) return absl::StrCat(bytes >> 10, " KiB");
  return absl::StrCat(bytes, " bytes");
}

absl::Status Run(const Flags& flags) {
  std::string notes;
  absl::StatusOr<Trace> trace = OpenTraceFromFlags(flags, &notes);
  if (!trace.ok()) return trace.status();
  CheckOptions options;
  absl::Status s = OptionsFromFlags(flags, &options);
  if (!s.ok()) return s;

  const Trace& t = *trace;
  std::printf("trace: %s (%s)\n", t.path().c_str(), t.format().c_str());
  PrintNotes(stdout, notes);
  for (size_t d = 0; d < t.devices().size(); ++d) {
    const Device& dev = t.devices()[d];
    std::printf("device %zu '%s': %u-byte sectors, %llu sectors (%s)%s\n", d,
                dev.name.c_str(), dev.sector_size,
                static_cast<unsigned long long>(dev.num_sectors),
                Size(dev.num_sectors * dev.sector_size).c_str(),
                dev.base.empty() ? "" : ", with a base image");
  }
  uint64_t writes = 0, flushes = 0, fua = 0, preflush = 0, discards = 0,
           meta = 0, failed = 0, incomplete = 0;
  for (uint32_t i = 0; i < t.ops().size(); ++i) {
    const Op& op = t.ops()[i];
    writes += op.kind == OpKind::kWrite;
    flushes += op.kind == OpKind::kFlush;
    discards += op.kind == OpKind::kDiscard;
    fua += (op.flags & kFua) != 0;
    preflush += (op.flags & kPreflush) != 0;
    meta += (op.flags & kMeta) != 0;
    failed += t.complete_status(i) != 0;
    incomplete += t.complete_event(i) == t.events().size();
  }
  std::printf(
      "events: %zu; ops: %zu (writes %llu, flushes %llu, discards %llu; "
      "FUA %llu, PREFLUSH %llu, META %llu; failed %llu, never completed "
      "%llu)\n",
      t.events().size(), t.ops().size(), (unsigned long long)writes,
      (unsigned long long)flushes, (unsigned long long)discards,
      (unsigned long long)fua, (unsigned long long)preflush,
      (unsigned long long)meta, (unsigned long long)failed,
      (unsigned long long)incomplete);
  std::printf("marks: %zu\n", t.marks().size());
  for (const Mark& m : t.marks()) {
    std::printf("  entry %llu (event %u): %s\n",
                static_cast<unsigned long long>(t.events()[m.event].source_entry),
                m.event, m.label.c_str());
  }
  if (flags.GetBool("events")) {
    std::printf("events:\n");
    for (size_t k = 0; k < t.events().size(); ++k) {
      const Event& e = t.events()[k];
      const unsigned long long entry = e.source_entry;
      if (e.kind == EventKind::kMark) {
        std::printf("  e%zu entry %llu: mark %s\n", k, entry,
                    t.marks()[e.mark].label.c_str());
        continue;
      }
      const Op& op = t.ops()[e.op];
      const char* kind = op.kind == OpKind::kWrite   ? "write"
                         : op.kind == OpKind::kFlush ? "flush"
                                                     : "discard";
      std::string what = absl::StrCat(
          e.kind == EventKind::kSubmit ? "submit " : "complete ", kind,
          " op ", e.op);
      if (op.kind != OpKind::kFlush) {
        absl::StrAppend(&what, " dev ", op.device, " sectors ", op.sector,
                        "+", op.num_sectors);
      }
      if (op.flags != 0) absl::StrAppend(&what, " [", FlagsToString(op.flags), "]");
      if (e.kind == EventKind::kComplete && e.status != 0) {
        absl::StrAppend(&what, " status ", e.status);
      }
      std::printf("  e%zu entry %llu: %s\n", k, entry, what.c_str());
    }
  }
  absl::StatusOr<std::vector<PointPlan>> plan = PlanCheck(t, options);
  if (!plan.ok()) return plan.status();
  std::printf("crash points: %zu\n", plan->size());
  for (const PointPlan& p : *plan) {
    std::printf("  e%u %s: %zu optional writes, %zu variables, %s states\n",
                p.event, p.description.c_str(), p.optional_writes, p.variables,
                p.count.ToString().c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int InfoCommand(const std::vector<std::string>& args) {
  Flags flags;
  DefineTraceFlags(flags);
  DefineModelFlags(flags);
  DefineEnumerateFlags(flags);
  flags.Define("events", "list every event (submit, complete, mark)", true);
  flags.Define("help", "show this help", true, {"-h"});
  absl::Status s = flags.Parse(args);
  if (s.ok() && flags.GetBool("help")) {
    std::printf("usage: crashenum info TRACE [options]\n%s",
                flags.Usage().c_str());
    return kExitOk;
  }
  if (s.ok()) s = Run(flags);
  if (!s.ok()) {
    std::fprintf(stderr, "crashenum info: %s\n", s.ToString().c_str());
    return ExitCodeFor(s);
  }
  return kExitOk;
}

}  // namespace internal_cli
}  // namespace crashenum
