#include "arch/hex.hpp"
#include "sim/replay.hpp"

#include <algorithm>
#include <sstream>

#include "mm/errno.hpp"
#include "mm/mman.hpp"

namespace mmsim::sim {

using arch::hex;

using namespace trace;

std::size_t replay_result::failed_expectations() const {
  return static_cast<std::size_t>(
      std::count_if(expectations.begin(), expectations.end(), [](auto& e) { return !e.pass; }));
}

namespace {


unsigned linux_mmap_flags(unsigned f) {
  unsigned r = 0;
  if (f & MF_PRIVATE) r |= mm::MAP_PRIVATE;
  if (f & MF_SHARED) r |= mm::MAP_SHARED;
  if (f & MF_ANONYMOUS) r |= mm::MAP_ANONYMOUS;
  if (f & MF_FIXED) r |= mm::MAP_FIXED;
  if (f & MF_HUGETLB) r |= mm::MAP_HUGETLB;
  if (f & MF_POPULATE) r |= mm::MAP_POPULATE;
  if (f & MF_NORESERVE) r |= mm::MAP_NORESERVE;
  return r;
}

int linux_madvise(madvise_advice a) {
  switch (a) {
    case madvise_advice::dontneed: return mm::MADV_DONTNEED;
    case madvise_advice::populate_read: return mm::MADV_POPULATE_READ;
    case madvise_advice::populate_write: return mm::MADV_POPULATE_WRITE;
    case madvise_advice::hugepage: return mm::MADV_HUGEPAGE;
    case madvise_advice::nohugepage: return mm::MADV_NOHUGEPAGE;
    case madvise_advice::collapse: return mm::MADV_COLLAPSE;
    case madvise_advice::pageout: return mm::MADV_PAGEOUT;
  }
  return -1;
}

}  // namespace

replayer::replayer(const trace::trace& t, replay_options opt)
    : trace_(t), opt_(std::move(opt)), knobs_(mm::default_knobs()), rng_(t.seed) {
  for (auto& [k, v] : trace_.kernel)
    if (auto err = mm::set_knob(knobs_, k, v); !err.empty()) throw config_error("kernel." + err);
  for (auto& [k, v] : opt_.overrides)
    if (auto err = mm::set_knob(knobs_, k, v); !err.empty()) throw config_error("--set " + err);
  const auto& m = trace_.machine;
  if (m.arch != "x86_64") throw config_error("machine.arch: " + m.arch + " is not supported yet");
  arch::cpu_profile prof;
  try {
    prof = arch::load_profile(m.cpu_model.empty() ? arch::default_profile(m.arch) : m.cpu_model);
  } catch (const arch::profile_error& e) {
    throw config_error(std::string("machine.cpu_model: ") + e.what());
  }
  if (prof.arch != m.arch)
    throw config_error("machine.cpu_model: profile '" + prof.name + "' is for " + prof.arch +
                       ", the machine is " + m.arch);
  hw_ = std::make_unique<arch::machine>(prof, m.memory >> arch::PAGE_SHIFT, m.cpus, m.va_bits);
  kernel_ = std::make_unique<mm::kernel>(knobs_, *hw_);
  kernel_->set_trace_sink(opt_.timeline);
  if (opt_.check_invariants) ref_ = std::make_unique<reference_model>();
}

replayer::~replayer() = default;

unsigned replayer::cpu_for(const op& o) {
  if (o.cpu) return *o.cpu;
  return static_cast<unsigned>(o.pid - 1) % hw_->nr_cpus();
}

replay_result replayer::run() {
  for (const op& o : trace_.ops) {
    try {
      run_op(o);
    } catch (const mm::mm_bug& b) {
      res_.violations.push_back({o.index, o.pid, "MM_BUG", 0, b.what()});
    }
    ++res_.ops_run;
    after_op(o);
    if (!res_.violations.empty()) {
      res_.stopped_early = res_.ops_run < trace_.ops.size();
      break;
    }
  }
  res_.vmstat = kernel_->vmstat();
  for (auto& [pid, t] : kernel_->tasks())
    res_.processes.push_back({pid, kernel_->smaps_range(*t.mm, 0, ~arch::vaddr_t{0}), t.mm->pgtables_bytes});
  return std::move(res_);
}

void replayer::after_op(const op& o) {
  if (!opt_.check_invariants) return;
  ++res_.invariant_checks;
  for (auto& v : kernel_->check_invariants()) res_.violations.push_back({o.index, o.pid, "invariant", 0, v});
  if (kernel_->tasks().empty() && kernel_->nr_folios() != 0)
    res_.violations.push_back({o.index, o.pid, "invariant", 0, "folios leaked after every process exited"});
}

void replayer::record_errno_expectation(const op& o, long ret) {
  if (!o.expect_errno) return;
  const int got = ret < 0 ? static_cast<int>(-ret) : 0;
  res_.expectations.push_back({o.index, "expect_errno", mm::errno_name(*o.expect_errno),
                               got ? mm::errno_name(got) : "success", got == *o.expect_errno});
}

void replayer::syscall_result(const op& o, const char* name, long ret, bool) {
  if (ret < 0) res_.errors.push_back({o.index, o.pid, mm::errno_name(static_cast<int>(-ret)), 0, name});
  record_errno_expectation(o, ret);
}

namespace {
constexpr const char* op_event_names[] = {"op:mmap",   "op:munmap", "op:mprotect", "op:madvise",
                                          "op:access", "op:fork",   "op:exit",     "op:expect",
                                          "op:mark",   "op:khugepaged", "op:prctl"};
static_assert(std::size(op_event_names) == std::variant_size_v<op_body>);
}  // namespace

void replayer::run_op(const op& o) {
  if (!opt_.timeline) return run_op_body(o);
  const unsigned cpu = std::holds_alternative<khugepaged_op>(o.body) ? (o.cpu ? *o.cpu : 0) : cpu_for(o);
  const arch::cycles_t begin = kernel_->now(cpu);
  run_op_body(o);
  opt_.timeline->emit({op_event_names[o.body.index()], cpu, begin, kernel_->now(cpu), 0,
                       "ops[" + std::to_string(o.index) + "] pid " + std::to_string(o.pid)});
}

void replayer::run_op_body(const op& o) {
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        const unsigned cpu = cpu_for(o);
        if constexpr (std::is_same_v<T, mark_op>) {
          res_.marks.push_back({body.label, o.index, kernel_->vmstat()});
          return;
        } else if constexpr (std::is_same_v<T, expect_op>) {
          check_expect(o, body);
          return;
        } else if constexpr (std::is_same_v<T, khugepaged_op>) {
          kernel_->khugepaged_run(o.cpu ? *o.cpu : 0, body.scans, body.pages);
          return;
        } else {
          mm::task_struct& t = kernel_->task(o.pid);
          kernel_->switch_mm(cpu, t);
          if constexpr (std::is_same_v<T, mmap_op>) {
            const long r = kernel_->sys_mmap(t, cpu, body.addr, body.len, body.prot,
                                             linux_mmap_flags(body.flags));
            if (r >= 0 && ref_) ref_->zero(o.pid, body.addr >> arch::PAGE_SHIFT, (body.addr + body.len + arch::PAGE_SIZE - 1) >> arch::PAGE_SHIFT);
            syscall_result(o, "mmap", r, true);
          } else if constexpr (std::is_same_v<T, munmap_op>) {
            const long r = kernel_->sys_munmap(t, cpu, body.addr, body.len);
            if (r == 0 && ref_) ref_->zero(o.pid, body.addr >> arch::PAGE_SHIFT, (body.addr + body.len + arch::PAGE_SIZE - 1) >> arch::PAGE_SHIFT);
            syscall_result(o, "munmap", r, true);
          } else if constexpr (std::is_same_v<T, mprotect_op>) {
            syscall_result(o, "mprotect", kernel_->sys_mprotect(t, cpu, body.addr, body.len, body.prot), true);
          } else if constexpr (std::is_same_v<T, madvise_op>) {
            const long r = kernel_->sys_madvise(t, cpu, body.addr, body.len, linux_madvise(body.advice));
            if (ref_ && body.advice == madvise_advice::dontneed && (r == 0 || r == -mm::E_NOMEM))
              ref_->zero(o.pid, body.addr >> arch::PAGE_SHIFT, (body.addr + body.len + arch::PAGE_SIZE - 1) >> arch::PAGE_SHIFT);
            syscall_result(o, "madvise", r, true);
          } else if constexpr (std::is_same_v<T, access_op>) {
            do_access(o, body);
          } else if constexpr (std::is_same_v<T, fork_op>) {
            const long r = kernel_->kernel_clone(o.pid, body.child, cpu);
            if (r == 0 && ref_) ref_->fork(o.pid, body.child);
            syscall_result(o, "fork", r, true);
          } else if constexpr (std::is_same_v<T, prctl_op>) {
            syscall_result(o, "prctl", kernel_->sys_prctl_thp_disable(t, cpu, body.value != 0), true);
          } else if constexpr (std::is_same_v<T, exit_op>) {
            kernel_->do_exit(o.pid, cpu);
            if (ref_) ref_->exit(o.pid);
          }
        }
      },
      o.body);
}

void replayer::do_access(const op& o, const access_op& a) {
  const unsigned cpu = cpu_for(o);
  mm::task_struct& t = kernel_->task(o.pid);
  const std::uint64_t slots = std::max<std::uint64_t>(1, (a.len + a.stride - 1) / a.stride);
  const std::uint64_t count = a.count ? a.count : slots;
  bool signalled = false;
  for (std::uint64_t rep = 0; rep < a.repeat && !signalled; ++rep) {
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint64_t slot = a.pattern == access_pattern::seq ? i % slots : rng_() % slots;
      if (!touch(o, t, cpu, a.addr + slot * a.stride, a.kind)) {
        signalled = true;
        break;
      }
    }
  }
  if (o.expect_signal) {
    const bool got = !res_.signals.empty() && res_.signals.back().op == o.index;
    res_.expectations.push_back({o.index, "expect_signal", mm::signal_name(*o.expect_signal),
                                 got ? res_.signals.back().what : "none",
                                 got && res_.signals.back().what == mm::signal_name(*o.expect_signal)});
  }
}

// One access as the CPU performs it: translate, take the fault, let the kernel fix it, retry.
bool replayer::touch(const op& o, mm::task_struct& t, unsigned cpu, arch::vaddr_t va,
                     arch::access_kind kind) {
  auto& mmu = hw_->cpus[cpu];
  arch::x86_64::translation tr{};
  for (unsigned tries = 0;; ++tries) {
    tr = mmu.translate(va, kind);
    if (tr.ok) [[likely]] break;
    // A correct kernel resolves a fault in one or two rounds (e.g. zero page, then CoW); a
    // livelock is a simulator bug and must not hang the run.
    MM_BUG_ON(tries > 4, "fault at " + hex(va) + " not resolved after 4 retries");
    const auto out = kernel_->do_user_addr_fault(cpu, t, va, tr.error_code);
    if (out == mm::fault_outcome::handled) continue;
    const char* what = out == mm::fault_outcome::sigsegv ? "SIGSEGV"
                       : out == mm::fault_outcome::sigbus ? "SIGBUS"
                                                          : "OOM";
    res_.signals.push_back({o.index, o.pid, what, va, ""});
    return false;
  }
  const bool writes = kind == arch::access_kind::write || kind == arch::access_kind::atomic;
  const bool reads = kind != arch::access_kind::write;
  if (ref_ && reads) {
    const std::uint64_t want = ref_->load(o.pid, va >> arch::PAGE_SHIFT);
    const std::uint64_t got = hw_->mem.peek(tr.pfn);
    if (want != got)
      res_.violations.push_back({o.index, o.pid, "data mismatch", va,
                                 "read token " + std::to_string(got) + ", the trace wrote " + std::to_string(want)});
  }
  if (writes) {
    const std::uint64_t tok = ++token_seq_;
    hw_->mem.word(tr.pfn) = tok;
    if (ref_) ref_->store(o.pid, va >> arch::PAGE_SHIFT, tok);
  }
  return true;
}

replay_result replay_trace(const trace::trace& t, replay_options opt) {
  replayer r(t, std::move(opt));
  return r.run();
}

}  // namespace mmsim::sim
