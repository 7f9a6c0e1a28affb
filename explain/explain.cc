#include "explain/explain.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "enumerator/crash_points.h"

namespace crashenum {
namespace {

absl::string_view KindName(OpKind kind) {
  switch (kind) {
    case OpKind::kWrite:
      return "write";
    case OpKind::kDiscard:
      return "discard";
    case OpKind::kFlush:
      return "flush";
  }
  return "";
}

bool CarriesFlush(const Op& op) {
  return op.kind == OpKind::kFlush ||
         (op.kind == OpKind::kWrite && (op.flags & kPreflush) != 0);
}

// Facts about the trace the explanation of every op needs.
class TraceFacts {
 public:
  explicit TraceFacts(const Trace& trace)
      : trace_(trace), flush_done_(trace.devices().size()) {
    for (uint32_t i = 0; i < trace.ops().size(); ++i) {
      const Op& op = trace.ops()[i];
      if (!CarriesFlush(op)) continue;
      if (trace.complete_event(i) >= trace.events().size()) continue;
      if (trace.complete_status(i) != 0) continue;
      flush_done_[op.device].push_back(trace.complete_event(i));
    }
    for (auto& v : flush_done_) std::sort(v.begin(), v.end());
  }

  uint32_t Epoch(uint32_t op) const {
    const auto& v = flush_done_[trace_.ops()[op].device];
    return static_cast<uint32_t>(
        std::lower_bound(v.begin(), v.end(), trace_.submit_event(op)) -
        v.begin());
  }

  // Index of the last mark strictly before `event`, or -1.
  int MarkBefore(uint32_t event) const {
    const auto& marks = trace_.marks();
    auto it =
        std::lower_bound(marks.begin(), marks.end(), event,
                         [](const Mark& m, uint32_t e) { return m.event < e; });
    return static_cast<int>(it - marks.begin()) - 1;
  }

  MarkRef Ref(int mark) const {
    const Mark& m = trace_.marks()[mark];
    return MarkRef{static_cast<uint32_t>(mark), m.label, m.event,
                   trace_.events()[m.event].source_entry};
  }

 private:
  const Trace& trace_;
  std::vector<std::vector<uint32_t>> flush_done_;  // per device, sorted
};

// Converts unit numbers of a device to extents in sectors or bytes.
struct UnitScale {
  uint64_t unit_bytes;
  uint64_t sector_bytes;
  bool in_bytes() const { return unit_bytes < sector_bytes; }
  Extent Of(uint64_t first_unit, uint64_t last_unit) const {
    if (in_bytes()) {
      return {first_unit * unit_bytes, (last_unit + 1) * unit_bytes - 1};
    }
    const uint64_t per = unit_bytes / sector_bytes;
    return {first_unit * per, (last_unit + 1) * per - 1};
  }
};

UnitScale ScaleOf(const StateSpace& space, uint32_t device) {
  return UnitScale{space.hashes().unit_bytes(device),
                   space.trace().devices()[device].sector_size};
}

// Merged extents of the units k of `op` for which `pick(k)` holds.
template <typename Pick>
std::vector<Extent> UnitExtents(const StateSpace& space, uint32_t op,
                                Pick pick) {
  const UnitScale scale = ScaleOf(space, space.trace().ops()[op].device);
  const uint64_t first = space.hashes().first_unit(op);
  const uint32_t n = space.hashes().num_units(op);
  std::vector<Extent> out;
  for (uint32_t k = 0; k < n;) {
    if (!pick(k)) {
      ++k;
      continue;
    }
    uint32_t end = k;
    while (end + 1 < n && pick(end + 1)) ++end;
    out.push_back(scale.Of(first + k, first + end));
    k = end + 1;
  }
  return out;
}

OpExplanation DescribeOp(const StateSpace& space, const TraceFacts& facts,
                         uint32_t i) {
  const Trace& trace = space.trace();
  const Op& op = trace.ops()[i];
  OpExplanation e;
  e.op = i;
  e.kind = op.kind;
  e.submit_event = trace.submit_event(i);
  e.complete_event = trace.complete_event(i);
  e.completed =
      e.complete_event < space.event() && trace.complete_status(i) == 0;
  e.entry = op.source_entry;
  e.device = op.device;
  e.device_name = trace.devices()[op.device].name;
  e.sector = op.sector;
  e.num_sectors = op.num_sectors;
  e.flags = op.flags;
  e.epoch = facts.Epoch(i);
  const UnitScale scale = ScaleOf(space, op.device);
  e.in_bytes = scale.in_bytes();
  if (e.in_bytes) {
    e.range = {op.sector * scale.sector_bytes,
               (op.sector + op.num_sectors) * scale.sector_bytes - 1};
  } else {
    e.range = {op.sector, op.sector + op.num_sectors - 1};
  }
  const int mark = facts.MarkBefore(e.submit_event);
  if (mark >= 0) {
    e.has_mark_before = true;
    e.mark_before = facts.Ref(mark);
  }
  return e;
}

OpRef RefOf(const Trace& trace, uint32_t op) {
  return OpRef{op, trace.submit_event(op), trace.ops()[op].source_entry};
}

std::vector<OrderChoice> OrderChoices(const StateSpace& space,
                                      const StateId& id, const Resolution& r) {
  const Trace& trace = space.trace();
  std::vector<OrderChoice> out;
  uint64_t last_unit = 0;
  std::vector<uint8_t> persisted;
  for (uint32_t s = 0; s < space.slots().size(); ++s) {
    const Slot& slot = space.slots()[s];
    if (slot.chain) continue;
    persisted.assign(slot.candidates.size(), 0);
    for (size_t i = 0; i < slot.candidates.size(); ++i) {
      const Candidate& c = slot.candidates[i];
      persisted[i] = c.bit < 0 || id.bits.Get(static_cast<size_t>(c.bit));
    }
    const std::vector<uint32_t> m = space.MaximalPersisted(s, persisted);
    if (m.size() < 2) continue;
    const uint32_t winner = slot.candidates[r.slot_version[s]].op;
    std::vector<OpRef> others;
    for (uint32_t c : m) {
      if (slot.candidates[c].op != winner) {
        others.push_back(RefOf(trace, slot.candidates[c].op));
      }
    }
    const UnitScale scale = ScaleOf(space, slot.device);
    if (!out.empty()) {
      OrderChoice& prev = out.back();
      bool same = prev.device == slot.device && last_unit + 1 == slot.unit &&
                  prev.winner.op == winner &&
                  prev.others.size() == others.size();
      for (size_t i = 0; same && i < others.size(); ++i) {
        same = prev.others[i].op == others[i].op;
      }
      if (same) {
        prev.range.last = scale.Of(slot.unit, slot.unit).last;
        last_unit = slot.unit;
        continue;
      }
    }
    OrderChoice c;
    c.device = slot.device;
    c.device_name = trace.devices()[slot.device].name;
    c.range = scale.Of(slot.unit, slot.unit);
    c.in_bytes = scale.in_bytes();
    c.winner = RefOf(trace, winner);
    c.others = std::move(others);
    out.push_back(std::move(c));
    last_unit = slot.unit;
  }
  return out;
}

// "1032-1039, 1048"
std::string ExtentNumbers(const std::vector<Extent>& extents) {
  std::string out;
  for (size_t i = 0; i < extents.size(); ++i) {
    if (i > 0) out += ", ";
    absl::StrAppend(&out, extents[i].first);
    if (extents[i].last != extents[i].first) {
      absl::StrAppend(&out, "-", extents[i].last);
    }
  }
  return out;
}

// "sectors 1032-1039, 1048", "sector 7" or "bytes 0-7".
std::string ExtentText(bool in_bytes, const std::vector<Extent>& extents) {
  const bool plural = extents.size() > 1 || extents[0].first != extents[0].last;
  return absl::StrCat(in_bytes ? "byte" : "sector", plural ? "s " : " ",
                      ExtentNumbers(extents));
}

// "e339 entry 170 write dev0 sectors 1024-1031"
std::string OpLabel(const OpExplanation& op) {
  return absl::StrCat("e", op.submit_event, " entry ", op.entry, " ",
                      KindName(op.kind), " ", op.device_name, " ",
                      ExtentText(op.in_bytes, {op.range}));
}

std::string MarkText(const MarkRef& m) {
  return absl::StrCat("'", m.label, "' (e", m.event, ", entry ", m.entry, ")");
}

std::string OpLine(const OpExplanation& op) {
  std::string out = absl::StrCat("  ", OpLabel(op));
  if (op.flags != 0) absl::StrAppend(&out, " [", FlagsToString(op.flags), "]");
  absl::StrAppend(&out, ", epoch ", op.epoch);
  if (op.has_mark_before) {
    absl::StrAppend(&out, ", after '", op.mark_before.label, "'");
  }
  if (!op.completed) absl::StrAppend(&out, ", in flight");
  absl::StrAppend(&out, ": ", DescribeStatus(op));
  if (!op.folded.empty()) {
    absl::StrAppend(&out, " (folded: ", ExtentText(op.in_bytes, op.folded),
                    ")");
  }
  return out + "\n";
}

nlohmann::json ExtentsJson(const std::vector<Extent>& extents) {
  nlohmann::json out = nlohmann::json::array();
  for (const Extent& e : extents) out.push_back({e.first, e.last});
  return out;
}

nlohmann::json MarkJson(const MarkRef& m) {
  return {{"label", m.label}, {"event", m.event}, {"entry", m.entry}};
}

nlohmann::json OpJson(const OpExplanation& op) {
  nlohmann::json j = {
      {"op", op.op},
      {"kind", std::string(KindName(op.kind))},
      {"submit_event", op.submit_event},
      {"entry", op.entry},
      {"device", op.device_name},
      {"sector", op.sector},
      {"sectors", op.num_sectors},
      {"flags", FlagsToString(op.flags)},
      {"epoch", op.epoch},
      {"completed", op.completed},
      {"status", std::string(OpStatusName(op.status))},
      {"unit", op.in_bytes ? "byte" : "sector"},
      {"range", {op.range.first, op.range.last}},
  };
  if (op.status == OpStatus::kTorn) j["persisted"] = ExtentsJson(op.persisted);
  if (!op.folded.empty()) j["folded"] = ExtentsJson(op.folded);
  j["mark_before"] =
      op.has_mark_before ? MarkJson(op.mark_before) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json RefJson(const OpRef& r) {
  return {{"op", r.op}, {"submit_event", r.submit_event}, {"entry", r.entry}};
}

}  // namespace

absl::string_view OpStatusName(OpStatus status) {
  switch (status) {
    case OpStatus::kDurable:
      return "durable";
    case OpStatus::kPersisted:
      return "persisted";
    case OpStatus::kDropped:
      return "dropped";
    case OpStatus::kTorn:
      return "torn";
  }
  return "";
}

absl::StatusOr<Explanation> Explain(const StateSpace& space, const StateId& id,
                                    const ExplainOptions& options) {
  ASSIGN_OR_RETURN(Resolution r, space.Resolve(id));
  const Trace& trace = space.trace();
  const TraceFacts facts(trace);
  Explanation e;
  e.state = id.ToString();
  e.event = space.event();
  e.point = DescribePoint(trace, space.event());
  for (int m = facts.MarkBefore(space.event());
       m >= 0 && e.marks_before.size() < options.max_marks; --m) {
    e.marks_before.push_back(facts.Ref(m));
  }

  const auto& states = space.op_states();
  for (uint32_t i = 0; i < states.size(); ++i) {
    if (states[i] != OpState::kDurable) continue;
    ++e.durable_ops;
    const uint32_t device = trace.ops()[i].device;
    const uint32_t epoch = facts.Epoch(i);
    auto it = std::find_if(e.durable_by_epoch.begin(), e.durable_by_epoch.end(),
                           [&](const EpochCount& c) {
                             return c.device == device && c.epoch == epoch;
                           });
    if (it == e.durable_by_epoch.end()) {
      e.durable_by_epoch.push_back(
          EpochCount{device, trace.devices()[device].name, epoch, 1});
    } else {
      ++it->ops;
    }
    if (options.verbose) e.durable.push_back(DescribeOp(space, facts, i));
  }
  std::sort(e.durable_by_epoch.begin(), e.durable_by_epoch.end(),
            [](const EpochCount& a, const EpochCount& b) {
              return std::make_pair(a.device, a.epoch) <
                     std::make_pair(b.device, b.epoch);
            });

  for (const OptionalOp& o : space.optional_ops()) {
    OpExplanation op = DescribeOp(space, facts, o.op);
    auto set = [&](uint32_t k) { return id.bits.Get(o.first_bit + k); };
    uint32_t count = 0;
    for (uint32_t k = 0; k < o.num_units; ++k) count += set(k) ? 1 : 0;
    if (count == o.num_units) {
      op.status = OpStatus::kPersisted;
      ++e.persisted_ops;
    } else if (count == 0) {
      op.status = OpStatus::kDropped;
      ++e.dropped_ops;
    } else {
      op.status = OpStatus::kTorn;
      op.persisted = UnitExtents(space, o.op, set);
      ++e.torn_ops;
    }
    op.folded =
        UnitExtents(space, o.op, [&](uint32_t k) { return o.var_of(k) < 0; });
    e.optional.push_back(std::move(op));
  }
  e.order = OrderChoices(space, id, r);
  return e;
}

std::string DescribeStatus(const OpExplanation& op) {
  if (op.status != OpStatus::kTorn) return std::string(OpStatusName(op.status));
  return absl::StrCat("torn: ", ExtentText(op.in_bytes, op.persisted), " of ",
                      ExtentNumbers({op.range}), " persisted");
}

std::string FormatExplanation(const Explanation& e) {
  std::string out = absl::StrCat("state ", e.state, "\n", "crash point e",
                                 e.event, ": ", e.point, "\n");
  if (e.marks_before.empty()) {
    out += "no mark before it\n";
  } else {
    std::vector<std::string> marks;
    for (const MarkRef& m : e.marks_before) marks.push_back(MarkText(m));
    absl::StrAppend(&out, "marks before it: ", absl::StrJoin(marks, ", "),
                    "\n");
  }
  absl::StrAppend(&out, "durable: ", e.durable_ops, " ops");
  if (!e.durable_by_epoch.empty()) {
    std::string per;
    for (size_t i = 0; i < e.durable_by_epoch.size(); ++i) {
      const EpochCount& c = e.durable_by_epoch[i];
      const bool new_device =
          i == 0 || e.durable_by_epoch[i - 1].device != c.device;
      if (new_device) {
        absl::StrAppend(&per, i == 0 ? "" : "; ", c.device_name, ": ");
      } else {
        per += ", ";
      }
      absl::StrAppend(&per, c.ops, " in epoch ", c.epoch);
    }
    absl::StrAppend(&out, " (", per, ")");
  }
  out += "\n";
  for (const OpExplanation& op : e.durable) out += OpLine(op);
  absl::StrAppend(&out, "optional: ", e.optional.size(),
                  " ops: ", e.persisted_ops, " persisted, ", e.dropped_ops,
                  " dropped, ", e.torn_ops, " torn\n");
  for (const OpExplanation& op : e.optional) out += OpLine(op);
  if (e.order.empty()) {
    out += "order choices: none\n";
  } else {
    absl::StrAppend(&out, "order choices: ", e.order.size(), "\n");
    for (const OrderChoice& c : e.order) {
      std::vector<std::string> others;
      for (const OpRef& r : c.others) {
        others.push_back(absl::StrCat("e", r.submit_event, " entry ", r.entry));
      }
      absl::StrAppend(&out, "  ", c.device_name, " ",
                      ExtentText(c.in_bytes, {c.range}), ": e",
                      c.winner.submit_event, " entry ", c.winner.entry,
                      " wins over ", absl::StrJoin(others, ", "), "\n");
    }
  }
  return out;
}

nlohmann::json ExplanationToJson(const Explanation& e) {
  nlohmann::json marks = nlohmann::json::array();
  for (const MarkRef& m : e.marks_before) marks.push_back(MarkJson(m));
  nlohmann::json by_epoch = nlohmann::json::array();
  for (const EpochCount& c : e.durable_by_epoch) {
    by_epoch.push_back(
        {{"device", c.device_name}, {"epoch", c.epoch}, {"ops", c.ops}});
  }
  nlohmann::json durable = {{"ops", e.durable_ops}, {"by_epoch", by_epoch}};
  if (!e.durable.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const OpExplanation& op : e.durable) list.push_back(OpJson(op));
    durable["list"] = std::move(list);
  }
  nlohmann::json optional = nlohmann::json::array();
  for (const OpExplanation& op : e.optional) optional.push_back(OpJson(op));
  nlohmann::json order = nlohmann::json::array();
  for (const OrderChoice& c : e.order) {
    nlohmann::json others = nlohmann::json::array();
    for (const OpRef& r : c.others) others.push_back(RefJson(r));
    order.push_back({{"device", c.device_name},
                     {"unit", c.in_bytes ? "byte" : "sector"},
                     {"range", {c.range.first, c.range.last}},
                     {"winner", RefJson(c.winner)},
                     {"others", others}});
  }
  return {{"state", e.state},
          {"event", e.event},
          {"point", e.point},
          {"marks_before", marks},
          {"durable", durable},
          {"optional", optional},
          {"counts",
           {{"persisted", e.persisted_ops},
            {"dropped", e.dropped_ops},
            {"torn", e.torn_ops}}},
          {"order", order}};
}

absl::StatusOr<std::vector<OpChange>> Diff(const Explanation& a,
                                           const Explanation& b) {
  bool same_point =
      a.event == b.event && a.optional.size() == b.optional.size();
  for (size_t i = 0; same_point && i < a.optional.size(); ++i) {
    same_point = a.optional[i].op == b.optional[i].op;
  }
  if (!same_point) {
    return absl::InvalidArgumentError(absl::StrCat(
        "states ", a.state, " and ", b.state,
        " belong to different crash points; only states of one crash point "
        "can be compared"));
  }
  std::vector<OpChange> out;
  for (size_t i = 0; i < a.optional.size(); ++i) {
    const OpExplanation& x = a.optional[i];
    const OpExplanation& y = b.optional[i];
    if (x.status == y.status && x.persisted == y.persisted) continue;
    out.push_back(OpChange{x, y});
  }
  return out;
}

std::string FormatDiff(const std::vector<OpChange>& changes) {
  if (changes.empty()) return "no difference\n";
  std::string out;
  for (const OpChange& c : changes) {
    absl::StrAppend(&out, OpLabel(c.from), ": ", DescribeStatus(c.from), " -> ",
                    DescribeStatus(c.to), "\n");
  }
  return out;
}

nlohmann::json DiffToJson(const std::vector<OpChange>& changes) {
  nlohmann::json out = nlohmann::json::array();
  auto side = [](const OpExplanation& op) {
    nlohmann::json j = {{"status", std::string(OpStatusName(op.status))}};
    if (op.status == OpStatus::kTorn) {
      j["persisted"] = ExtentsJson(op.persisted);
    }
    return j;
  };
  for (const OpChange& c : changes) {
    out.push_back({{"op", c.from.op},
                   {"submit_event", c.from.submit_event},
                   {"entry", c.from.entry},
                   {"device", c.from.device_name},
                   {"sector", c.from.sector},
                   {"sectors", c.from.num_sectors},
                   {"from", side(c.from)},
                   {"to", side(c.to)}});
  }
  return out;
}

}  // namespace crashenum
