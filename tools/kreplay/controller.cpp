#include "tools/kreplay/controller.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <malloc.h>
#include <sched.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <variant>

#include "mm/errno.hpp"

namespace kreplay {

using namespace mmsim::sim::trace;

// snprintf rather than string concatenation: GCC 12 warns (-Wrestrict, a false positive) on
// "literal" + std::to_string() once inlined here.
std::string errno_text(int err) {
  if (const char* n = mmsim::mm::errno_name(err); std::strcmp(n, "E?") != 0) return n;
  if (const char* n = strerrorname_np(err)) return n;
  char buf[32];
  std::snprintf(buf, sizeof buf, "E%d", err);
  return buf;
}

std::string signal_text(int sig) {
  if (const char* n = mmsim::mm::signal_name(sig); std::strcmp(n, "SIG?") != 0) return n;
  char buf[32];
  if (const char* n = sigabbrev_np(sig)) std::snprintf(buf, sizeof buf, "SIG%s", n);
  else std::snprintf(buf, sizeof buf, "SIG%d", sig);
  return buf;
}

std::map<std::string, std::int64_t> read_global_counters() {
  std::map<std::string, std::int64_t> m;
  // Gauges (nr_anon_pages, nr_page_table_pages, ...) lag in per-CPU deltas of up to the stat
  // threshold; writing stat_refresh folds them first (mm/vmstat.c vmstat_refresh, root only).
  // Event counters (pgfault, pgfree, ...) are summed over CPUs on every read anyway.
  if (FILE* f = std::fopen("/proc/sys/vm/stat_refresh", "w")) {
    std::fputs("1", f);
    std::fclose(f);
  }
  {
    std::ifstream in("/proc/vmstat");
    std::string name;
    long long v = 0;
    while (in >> name >> v) m[name] = v;
  }
  // Counters mmsim lists with vmstat that Linux keeps elsewhere (mm/vm_event_item.def).
  for (const char* k : {"pages_collapsed", "full_scans"}) {
    std::ifstream in(std::string("/sys/kernel/mm/transparent_hugepage/khugepaged/") + k);
    long long v = 0;
    if (in >> v) m[k] = v;
  }
  std::ifstream mi("/proc/meminfo");
  std::string line;
  long long swap_total = -1, swap_free = -1, hp_free = -1;
  while (std::getline(mi, line)) {
    std::istringstream s(line);
    std::string key;
    long long v = 0;
    s >> key >> v;
    if (key == "SwapTotal:") swap_total = v;
    else if (key == "SwapFree:") swap_free = v;
    else if (key == "HugePages_Free:") hp_free = v;
  }
  if (swap_total >= 0 && swap_free >= 0) m["nr_swap_slots_used"] = (swap_total - swap_free) / 4;
  if (hp_free >= 0) m["HugePages_Free"] = hp_free;
  return m;
}

run_result replay_on_host(const trace& t, const run_options& opt) {
  controller c(t, opt);
  return c.run();
}

controller::controller(const trace& t, run_options opt) : t_(t), opt_(std::move(opt)) {
  spans_ = trace_spans(t_);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) host_cpus_.push_back(c);
  for (const op& o : t_.ops)
    if (const auto* e = std::get_if<expect_op>(&o.body))
      for (auto& [name, v] : e->vmstat)
        if (name == "nr_anon_pages" || name == "nr_anon_transparent_hugepages") need_world_counters_ = true;
}

controller::~controller() { cleanup(); }

// mmsim's CPU for an op (sim/replay.cpp cpu_for), mapped onto the CPUs we may use.
std::int32_t controller::host_cpu(const op& o) const {
  if (host_cpus_.empty()) return -1;
  const unsigned sim = o.cpu ? *o.cpu : static_cast<unsigned>(o.pid - 1) % std::max(1u, t_.machine.cpus);
  return host_cpus_[sim % host_cpus_.size()];
}

void controller::fail(const std::string& why) {
  if (res_.failed.empty()) res_.failed = why;
}

run_result controller::run() {
  res_.ops = t_.ops.size();
  const host_plan plan = plan_host(t_, opt_.host);
  res_.knobs = plan.knobs;
  res_.ignored = plan.ignored;
  res_.notes = plan.notes;
  if (!plan.skip.empty()) {
    res_.skipped = plan.skip;
    return std::move(res_);
  }
  global_settings globals(plan.writes);
  if (std::string err = globals.apply(); !err.empty()) {
    res_.skipped = "--set-global: " + err;
    return std::move(res_);
  }
  if (t_.machine.cpus > host_cpus_.size())
    res_.notes.push_back("the trace has " + std::to_string(t_.machine.cpus) + " CPUs, kreplay may use " +
                         std::to_string(host_cpus_.size()) + ": trace CPU c runs on the (c mod " +
                         std::to_string(host_cpus_.size()) + ")th of them");
  for (auto& w : plan.writes) res_.notes.push_back("--set-global: " + w.knob + " '" + w.original + "' -> '" + w.wanted + "' for the run");
  if (std::string why; !kp_.open(why)) {
    res_.skipped = why;
    return std::move(res_);
  }
  // Orphaned trace processes (a parent that exits first) come back to us to be reaped.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (start_first_worker(plan.thp_disable)) {
    reserve_heap();
    start_ = take_snapshot("");
    for (const op& o : t_.ops) {
      run_op(o);
      if (!res_.failed.empty()) break;
      ++res_.ops_run;
    }
  }
  cleanup();  // before `globals` restores the host's settings
  return std::move(res_);
}

// The controller's own page faults land in the global counters (pgalloc_normal, ...) between a
// mark and an expect. So its heap is grown and touched once, before the first snapshot, and
// kept: later allocations (pagemap buffers, snapshots) reuse those pages. Done after pid 1 is
// forked, so no worker inherits the pad.
void controller::reserve_heap() {
  constexpr std::size_t pad = 32u << 20;
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
  // volatile: a malloc/memset/free triple is otherwise elided by the compiler.
  if (auto* p = static_cast<volatile char*>(std::malloc(pad))) {
    for (std::size_t i = 0; i < pad; i += 4096) p[i] = 1;
    std::free(const_cast<char*>(p));
  }
}

bool controller::start_first_worker(bool thp_disable) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    fail(std::string("socketpair: ") + std::strerror(errno));
    return false;
  }
  std::fflush(nullptr);  // the worker must not inherit unflushed output
  const pid_t pid = fork();
  if (pid < 0) {
    fail(std::string("fork: ") + std::strerror(errno));
    close(sv[0]);
    close(sv[1]);
    return false;
  }
  if (pid == 0) {
    close(sv[0]);
    worker_setup s;
    s.trace = &t_;
    s.spans = spans_;
    s.touched = touched_spans(t_);
    s.thp_disable = thp_disable;
    worker_main(s, sv[1]);
  }
  close(sv[1]);
  proc& p = procs_[1];
  p.tpid = 1;
  p.real = pid;
  p.sock = sv[0];
  reply hello;
  if (recv_reply(p.sock, hello, opt_.timeout_ms) != recv_status::ok) {
    fail("the worker for pid 1 did not start");
    return false;
  }
  if (hello.problem[0]) {
    const std::string problem = hello.problem;
    if (problem.starts_with(SKIP_PREFIX)) res_.skipped = problem.substr(std::strlen(SKIP_PREFIX));
    else fail("pid 1: " + problem);
    return false;
  }
  p.pm = std::make_unique<pagemap_reader>(pid);
  return true;
}

bool controller::exchange(proc& p, const command& c, int fd, reply& r, std::size_t op) {
  const std::string who = "ops[" + std::to_string(op) + "] pid " + std::to_string(p.tpid) + ": ";
  if (!send_command(p.sock, c, fd)) {
    fail(who + "the worker is gone");
    return false;
  }
  switch (recv_reply(p.sock, r, opt_.timeout_ms)) {
    case recv_status::ok: break;
    case recv_status::timeout:
      kill(p.real, SIGKILL);
      fail(who + "no answer within " + std::to_string(opt_.timeout_ms) + " ms; the worker was killed");
      return false;
    case recv_status::eof:
    case recv_status::error:
      fail(who + "the worker died");
      return false;
  }
  if (r.problem[0]) {
    fail(who + r.problem);
    return false;
  }
  return true;
}

void controller::record_errno(const op& o, int err, const char* syscall) {
  if (err) res_.errors.push_back({o.index, o.pid, errno_text(err), 0, syscall});
  if (!o.expect_errno) return;  // mirrors sim/replay.cpp record_errno_expectation
  add(o.index, "expect_errno", errno_text(*o.expect_errno), err ? errno_text(err) : "success",
      "errno of the syscall");
}

void controller::run_op(const op& o) {
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, mark_op>) marks_.push_back(take_snapshot(b.label));
        else if constexpr (std::is_same_v<T, expect_op>) check_expect(o, b);
        else if constexpr (std::is_same_v<T, fork_op>) do_fork(o, b.child);
        else if constexpr (std::is_same_v<T, exit_op>) do_exit(o);
        else if constexpr (std::is_same_v<T, mmap_op>) do_remote(o, "mmap");
        else if constexpr (std::is_same_v<T, munmap_op>) do_remote(o, "munmap");
        else if constexpr (std::is_same_v<T, mprotect_op>) do_remote(o, "mprotect");
        else if constexpr (std::is_same_v<T, madvise_op>) do_remote(o, "madvise");
        else if constexpr (std::is_same_v<T, access_op>) do_remote(o, nullptr);
        else if constexpr (is_prctl_op<T>) do_remote(o, "prctl");
        else fail("ops[" + std::to_string(o.index) + "]: not replayed by kreplay");
      },
      o.body);
}

void controller::do_remote(const op& o, const char* syscall) {
  auto it = procs_.find(o.pid);
  if (it == procs_.end()) return fail("ops[" + std::to_string(o.index) + "]: no process " + std::to_string(o.pid));
  proc& p = it->second;
  command c;
  c.kind = cmd_kind::run_op;
  c.op_index = static_cast<std::uint32_t>(o.index);
  c.rng_draws = draws_;
  c.cpu = host_cpu(o);
  reply r;
  if (!exchange(p, c, -1, r, o.index)) return;
  faults_ += r.minflt;
  res_.faults_by_pid[o.pid] += r.minflt;
  draws_ += r.draws;
  if (syscall) return record_errno(o, r.err, syscall);
  if (r.sig) res_.signals.push_back({o.index, o.pid, signal_text(r.sig), r.sig_addr, ""});
  if (o.expect_signal) {  // mirrors sim/replay.cpp do_access
    const bool got = !res_.signals.empty() && res_.signals.back().op == o.index;
    const std::string want = signal_text(*o.expect_signal);
    add(o.index, "expect_signal", want, got ? res_.signals.back().what : "none", "signal delivered to the worker");
  }
}

void controller::do_fork(const op& o, int child) {
  auto it = procs_.find(o.pid);
  if (it == procs_.end()) return fail("ops[" + std::to_string(o.index) + "]: no process " + std::to_string(o.pid));
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return fail(std::string("socketpair: ") + std::strerror(errno));
  command c;
  c.kind = cmd_kind::fork;
  c.op_index = static_cast<std::uint32_t>(o.index);
  c.cpu = host_cpu(o);
  reply r;
  const bool ok = exchange(it->second, c, sv[1], r, o.index);
  close(sv[1]);  // the child holds its own copy now
  if (!ok || r.err) {
    close(sv[0]);
    if (ok) record_errno(o, r.err, "fork");
    return;
  }
  proc& p = procs_[child];
  p.tpid = child;
  p.real = r.child_pid;
  p.sock = sv[0];
  reply hello;
  if (recv_reply(p.sock, hello, opt_.timeout_ms) != recv_status::ok || !hello.ready)
    return fail("ops[" + std::to_string(o.index) + "]: the child for pid " + std::to_string(child) + " did not start");
  p.pm = std::make_unique<pagemap_reader>(p.real);
  record_errno(o, 0, "fork");
}

void controller::do_exit(const op& o) {
  auto it = procs_.find(o.pid);
  if (it == procs_.end()) return fail("ops[" + std::to_string(o.index) + "]: no process " + std::to_string(o.pid));
  proc& p = it->second;
  p.pm.reset();
  command c;
  c.kind = cmd_kind::exit;
  c.op_index = static_cast<std::uint32_t>(o.index);
  // The channel closes in do_exit's exit_files(), after exit_mm() has torn the address space
  // down: once we see EOF, the kernel state is the exited state.
  const bool sent = send_command(p.sock, c);
  if (!sent || !wait_eof(p.sock, opt_.timeout_ms)) {
    kill(p.real, SIGKILL);
    fail("ops[" + std::to_string(o.index) + "]: pid " + std::to_string(o.pid) + " did not exit; killed");
  }
  close(p.sock);
  procs_.erase(it);
}

controller::snapshot controller::take_snapshot(const std::string& label) {
  snapshot s;
  s.label = label;
  s.faults = faults_;
  s.global = read_global_counters();
  if (need_world_counters_ && !label.empty()) {
    world w;
    build_world(w);
    s.anon_pages = w.anon_pages();
    s.anon_thps = w.anon_pmd_thps();
  }
  return s;
}

void controller::build_world(world& w) {
  std::vector<page_obs> pages;
  for (auto& [tpid, p] : procs_) {
    if (!p.pm) continue;
    for (auto& [a, b] : spans_)
      for (std::uint64_t at = a; at < b; at += PAGES_PER_READ * 4096) {
        if (!p.pm->read(at, std::min<std::uint64_t>(PAGES_PER_READ, (b - at) / 4096), pages)) {
          fail("pid " + std::to_string(tpid) + ": " + p.pm->error());
          return;
        }
        kp_.fill(pages);
        w.add(tpid, pages);
      }
  }
}

void controller::cleanup() {
  for (auto& [tpid, p] : procs_) {
    p.pm.reset();
    command c;
    c.kind = cmd_kind::exit;
    if (!send_command(p.sock, c) || !wait_eof(p.sock, 2000)) kill(p.real, SIGKILL);
    close(p.sock);
  }
  procs_.clear();
  // Reap pid 1 and every orphan that came back to us (we are their subreaper). Every worker
  // has exited or been killed above; the deadline only bounds a kernel that is slow to do it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = waitpid(-1, nullptr, WNOHANG);
    if (r < 0 && errno == ECHILD) break;
    if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace kreplay
