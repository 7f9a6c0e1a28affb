#include "explain/minimize.h"

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace crashenum {
namespace {

// Units of optional op `o` that persisted in `id`.
uint32_t PersistedUnits(const OptionalOp& o, const StateId& id) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < o.num_units; ++k) {
    n += id.bits.Get(o.first_bit + k) ? 1 : 0;
  }
  return n;
}

// `all` minus `remove`; both ascending.
std::vector<uint32_t> Minus(const std::vector<uint32_t>& all,
                            const std::vector<uint32_t>& remove) {
  std::vector<uint32_t> out;
  std::set_difference(all.begin(), all.end(), remove.begin(), remove.end(),
                      std::back_inserter(out));
  return out;
}

std::string VerdictText(const Verdict& v) {
  std::string out(VerdictKindName(v.kind));
  if (!v.message.empty()) {
    absl::StrAppend(&out, ": ", v.message.substr(0, v.message.find('\n')));
  }
  return out;
}

}  // namespace

std::vector<uint32_t> MissingOps(const StateSpace& space, const StateId& id) {
  std::vector<uint32_t> out;
  const auto& ops = space.optional_ops();
  for (uint32_t i = 0; i < ops.size(); ++i) {
    if (PersistedUnits(ops[i], id) != ops[i].num_units) out.push_back(i);
  }
  return out;
}

LossCount CountLosses(const StateSpace& space, const StateId& id) {
  LossCount c;
  for (const OptionalOp& o : space.optional_ops()) {
    const uint32_t n = PersistedUnits(o, id);
    if (n == 0) {
      ++c.dropped;
    } else if (n != o.num_units) {
      ++c.torn;
    }
  }
  return c;
}

absl::StatusOr<ResolvedCandidate> PersistWhole(
    const StateSpace& space, const StateId& base,
    const Resolution& base_resolution, const std::vector<uint32_t>& persist) {
  ResolvedCandidate c;
  c.id.event = base.event;
  c.id.unit_bytes = base.unit_bytes;
  c.id.bits = base.bits;
  for (uint32_t i : persist) {
    const OptionalOp& o = space.optional_ops()[i];
    for (uint32_t k = 0; k < o.num_units; ++k) {
      c.id.bits.Set(o.first_bit + k, true);
    }
  }
  // Order choices, slot by slot as Resolve reads them.
  std::vector<uint8_t> persisted;
  for (uint32_t s = 0; s < space.slots().size(); ++s) {
    const Slot& slot = space.slots()[s];
    if (slot.chain) continue;
    persisted.assign(slot.candidates.size(), 0);
    for (size_t i = 0; i < slot.candidates.size(); ++i) {
      const Candidate& cand = slot.candidates[i];
      persisted[i] =
          cand.bit < 0 || c.id.bits.Get(static_cast<size_t>(cand.bit));
    }
    const std::vector<uint32_t> m = space.MaximalPersisted(s, persisted);
    if (m.size() < 2) continue;
    const int32_t keep = base_resolution.slot_version[s];
    uint32_t choice = 0;
    for (uint32_t j = 0; j < m.size(); ++j) {
      if (static_cast<int32_t>(m[j]) == keep) choice = j;
    }
    c.id.order.push_back(choice);
  }
  ASSIGN_OR_RETURN(c.resolution, space.Resolve(c.id));
  return c;
}

// ---------------------------------------------------------------------------
// StateJudge

absl::StatusOr<std::unique_ptr<StateJudge>> StateJudge::Create(
    const StateSpace& space, Oracle& oracle, const std::string& parent_dir) {
  std::string tmpl = parent_dir + "/crashenum-search.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot create a work directory in ", parent_dir, ": ",
                     std::strerror(errno)));
  }
  std::unique_ptr<StateJudge> j(new StateJudge(space, oracle, tmpl));
  std::vector<std::string> paths;
  for (const Device& d : space.trace().devices()) {
    j->images_.device_names.push_back(d.name);
    paths.push_back(absl::StrCat(j->dir_, "/", d.name, ".img"));
    if (oracle.traits().mutates_image) {
      j->copies_.push_back(absl::StrCat(j->dir_, "/", d.name, ".oracle.img"));
    }
  }
  j->images_.paths = j->copies_.empty() ? paths : j->copies_;
  absl::StatusOr<std::unique_ptr<Materializer>> m =
      Materializer::Create(space.hashes(), std::move(paths));
  if (!m.ok()) return m.status();
  j->materializer_ = *std::move(m);
  return j;
}

StateJudge::~StateJudge() {
  materializer_.reset();  // closes the files first
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<Verdict> StateJudge::Judge(const ResolvedCandidate& c) {
  auto it = cache_.find(c.resolution.hash);
  if (it != cache_.end()) return it->second;
  const std::string id = c.id.ToString();
  RETURN_IF_ERROR(materializer_->Apply(space_, c.resolution),
                  "materializing state ", id);
  if (!copies_.empty()) {
    RETURN_IF_ERROR(materializer_->CopyTo(copies_), "copying state ", id);
  }
  Verdict v = oracle_.Check(images_, c.id);
  ++oracle_runs_;
  cache_.emplace(c.resolution.hash, v);
  return v;
}

// ---------------------------------------------------------------------------
// Minimize

namespace {

enum class Outcome { kFails, kDoesNotFail, kBudget };

class Ddmin {
 public:
  Ddmin(const StateSpace& space, const ResolvedCandidate& original,
        std::vector<uint32_t> missing, StateJudge& judge,
        const MinimizeOptions& options)
      : space_(space),
        original_(original),
        missing_(std::move(missing)),
        judge_(judge),
        options_(options) {}

  // Runs ddmin; the smallest failing set of still-missing ops is current().
  absl::Status Run() {
    current_ = missing_;
    ASSIGN_OR_RETURN(Outcome none, Test({}));
    if (none != Outcome::kDoesNotFail) return absl::OkStatus();
    size_t n = 2;
    while (current_.size() >= 2) {
      const std::vector<std::vector<uint32_t>> chunks = Split(current_, n);
      bool reduced = false;
      for (const auto& chunk : chunks) {
        ASSIGN_OR_RETURN(Outcome o, Test(chunk));
        if (o == Outcome::kBudget) return absl::OkStatus();
        if (o == Outcome::kFails) {
          n = 2;
          reduced = true;
          break;
        }
      }
      // With two chunks each complement is the other chunk.
      for (size_t i = 0; !reduced && n > 2 && i < chunks.size(); ++i) {
        ASSIGN_OR_RETURN(Outcome o, Test(Minus(current_, chunks[i])));
        if (o == Outcome::kBudget) return absl::OkStatus();
        if (o == Outcome::kFails) {
          n = std::max<size_t>(n - 1, 2);
          reduced = true;
        }
      }
      if (reduced) continue;
      if (n >= current_.size()) break;
      n = std::min(2 * n, current_.size());
    }
    return absl::OkStatus();
  }

  const std::vector<uint32_t>& current() const { return current_; }
  const ResolvedCandidate& current_state() const { return current_state_; }
  const Verdict& current_verdict() const { return current_verdict_; }
  bool stopped() const { return stopped_; }
  uint64_t tries() const { return tries_; }

  void SetCurrent(ResolvedCandidate c, Verdict v) {
    current_state_ = std::move(c);
    current_verdict_ = std::move(v);
  }

  void Report() const {
    if (!options_.on_progress) return;
    MinimizeProgress p;
    p.tries = tries_;
    p.oracle_runs = judge_.oracle_runs();
    p.current = CountLosses(space_, current_state_.id);
    options_.on_progress(p);
  }

 private:
  static std::vector<std::vector<uint32_t>> Split(
      const std::vector<uint32_t>& v, size_t n) {
    std::vector<std::vector<uint32_t>> out;
    size_t start = 0;
    for (size_t i = 0; i < n; ++i) {
      const size_t end = start + (v.size() - start) / (n - i);
      out.emplace_back(v.begin() + start, v.begin() + end);
      start = end;
    }
    return out;
  }

  // Whether the state that keeps only `keep` of the missing ops missing
  // fails; on success it becomes the current state.
  absl::StatusOr<Outcome> Test(const std::vector<uint32_t>& keep) {
    ++tries_;
    absl::StatusOr<ResolvedCandidate> c = PersistWhole(
        space_, original_.id, original_.resolution, Minus(missing_, keep));
    if (!c.ok()) return Outcome::kDoesNotFail;  // not a crash state
    if (options_.max_oracle_runs > 0 && !judge_.Judged(c->resolution.hash) &&
        judge_.oracle_runs() >= options_.max_oracle_runs) {
      stopped_ = true;
      return Outcome::kBudget;
    }
    ASSIGN_OR_RETURN(Verdict v, judge_.Judge(*c));
    if (v.kind != VerdictKind::kFail) return Outcome::kDoesNotFail;
    current_ = keep;
    SetCurrent(*std::move(c), std::move(v));
    Report();
    return Outcome::kFails;
  }

  const StateSpace& space_;
  const ResolvedCandidate& original_;
  const std::vector<uint32_t> missing_;
  StateJudge& judge_;
  const MinimizeOptions& options_;
  std::vector<uint32_t> current_;
  ResolvedCandidate current_state_;
  Verdict current_verdict_;
  uint64_t tries_ = 0;
  bool stopped_ = false;
};

}  // namespace

absl::StatusOr<MinimizeResult> Minimize(const StateSpace& space,
                                        const StateId& failing, Oracle& oracle,
                                        const MinimizeOptions& options) {
  const std::string text = failing.ToString();
  ResolvedCandidate original;
  original.id = failing;
  ASSIGN_OR_RETURN(original.resolution, space.Resolve(failing));
  ASSIGN_OR_RETURN(std::unique_ptr<StateJudge> judge,
                   StateJudge::Create(space, oracle, options.work_dir));
  ASSIGN_OR_RETURN(Verdict first, judge->Judge(original));
  if (first.kind == VerdictKind::kPass) {
    return absl::FailedPreconditionError(
        absl::StrCat("state ", text, " passes; nothing to minimize"));
  }
  if (first.kind == VerdictKind::kError) {
    return absl::FailedPreconditionError(
        absl::StrCat("state ", text, " does not fail (", VerdictText(first),
                     "; ERROR is not a failure); nothing to minimize"));
  }
  Ddmin dd(space, original, MissingOps(space, failing), *judge, options);
  dd.SetCurrent(original, first);
  dd.Report();
  RETURN_IF_ERROR(dd.Run(), "minimizing state ", text);
  dd.Report();

  MinimizeResult r;
  r.state = dd.current_state().id;
  r.verdict = dd.current_verdict();
  r.losses = CountLosses(space, r.state);
  r.original = failing;
  r.original_losses = CountLosses(space, failing);
  r.tries = dd.tries();
  r.oracle_runs = judge->oracle_runs();
  r.one_minimal = !dd.stopped();
  return r;
}

// ---------------------------------------------------------------------------
// FindNearestPassing

absl::StatusOr<NearestResult> FindNearestPassing(
    const StateSpace& space, const StateId& id, Oracle& oracle,
    const NearestOptions& options) {
  ResolvedCandidate base;
  base.id = id;
  ASSIGN_OR_RETURN(base.resolution, space.Resolve(id));
  ASSIGN_OR_RETURN(std::unique_ptr<StateJudge> judge,
                   StateJudge::Create(space, oracle, options.work_dir));
  NearestResult r;
  ASSIGN_OR_RETURN(r.original, judge->Judge(base));
  r.oracle_runs = judge->oracle_runs();
  if (r.original.kind == VerdictKind::kPass) {
    r.found = true;
    r.state = id;
    return r;
  }
  const std::vector<uint32_t> missing = MissingOps(space, id);
  const size_t m = missing.size();
  for (size_t k = 1; k <= m; ++k) {
    // Combinations of k of the missing ops, in lexicographic order.
    std::vector<size_t> pick(k);
    for (size_t i = 0; i < k; ++i) pick[i] = i;
    while (true) {
      if (r.candidates >= options.max_candidates) {
        r.bound_hit = true;
        return r;
      }
      ++r.candidates;
      std::vector<uint32_t> persist;
      for (size_t i : pick) persist.push_back(missing[i]);
      absl::StatusOr<ResolvedCandidate> c =
          PersistWhole(space, id, base.resolution, persist);
      if (c.ok()) {
        if (!judge->Judged(c->resolution.hash) &&
            judge->oracle_runs() >= options.max_oracle_runs) {
          r.bound_hit = true;
          return r;
        }
        ASSIGN_OR_RETURN(Verdict v, judge->Judge(*c), "judging state ",
                         c->id.ToString());
        r.oracle_runs = judge->oracle_runs();
        if (v.kind == VerdictKind::kPass) {
          r.found = true;
          r.state = c->id;
          r.persisted = std::move(persist);
          return r;
        }
      }
      // Next combination.
      size_t i = k;
      while (i > 0 && pick[i - 1] == m - k + i - 1) --i;
      if (i == 0) break;
      ++pick[i - 1];
      for (size_t j = i; j < k; ++j) pick[j] = pick[j - 1] + 1;
    }
  }
  return r;
}

}  // namespace crashenum
