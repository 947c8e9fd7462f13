// The worker side of kreplay. The hard part is counting faults: mmsim's `pgfault` counts only
// the faults the trace's own accesses and syscalls take, while a real process also faults on
// its own stack, heap, libc data and text (and after every fork, on all of them again, as
// copy-on-write). So each op runs inside a measured window (getrusage before and after, minor
// faults are per process and count GUP faults too, like the kernel's PGFAULT), and before any
// window the worker has made its own memory fault-free:
//   - after start and after every fork, MADV_POPULATE_WRITE on its own private writable
//     mappings (breaks CoW now, not inside a window) and MADV_POPULATE_READ on the rest (fork
//     does not copy PTEs of file mappings, so text would otherwise fault in the child);
//   - every state the window writes lives in one static struct (populated with .bss);
//   - 128 KiB of stack below the op's frame are written before the window;
//   - the binary is linked with -z now, so no lazy PLT binding writes the GOT mid-window;
//   - SIGSEGV/SIGBUS are taken on a static alternate stack.
// The fork op itself is not measured: Linux's fork takes no faults in the trace's memory, and
// the parent's first writes after fork would be its own stack's CoW.
#include "tools/kreplay/worker.hpp"

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/capability.h>
#include <random>
#include <sched.h>
#include <string_view>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <variant>

#include "tools/kreplay/channel.hpp"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

namespace kreplay {

using namespace mmsim::sim::trace;

namespace {

void add_span(span_list& v, std::uint64_t addr, std::uint64_t len) {
  if (len == 0 || addr >= TASK_SIZE) return;
  const std::uint64_t end = len > TASK_SIZE - addr ? TASK_SIZE : addr + len;
  v.emplace_back(addr & ~0xfffull, (end + 0xfff) & ~0xfffull);
}

span_list merged(span_list v) {
  std::sort(v.begin(), v.end());
  span_list out;
  for (auto& s : v)
    if (!out.empty() && s.first <= out.back().second) out.back().second = std::max(out.back().second, s.second);
    else out.push_back(s);
  return out;
}

// A syscall range that reaches past TASK_SIZE fails (EINVAL/ENOMEM) without touching anything.
bool syscall_range_ok(std::uint64_t addr, std::uint64_t len) {
  return addr < TASK_SIZE && len <= TASK_SIZE - addr;
}

}  // namespace

span_list trace_spans(const trace& t) {
  span_list v;
  for (const op& o : t.ops)
    if (const auto* m = std::get_if<mmap_op>(&o.body); m && syscall_range_ok(m->addr, m->len))
      add_span(v, m->addr, m->len);
  return merged(std::move(v));
}

span_list touched_spans(const trace& t) {
  span_list v;
  for (const op& o : t.ops)
    std::visit(
        [&](const auto& b) {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, access_op>) add_span(v, b.addr, b.len);  // clamped
          else if constexpr (requires { b.addr + b.len; }) {
            if (syscall_range_ok(b.addr, b.len)) add_span(v, b.addr, b.len);
          } else if constexpr (requires { *b.addr + *b.len; }) {
            if (b.addr) add_span(v, *b.addr, b.len.value_or(4096));
          }
        },
        o.body);
  return merged(std::move(v));
}

namespace {

// Everything a measured window writes. Static, so it is part of the worker's own (populated)
// writable memory and survives siglongjmp.
struct window_state {
  sigjmp_buf jb;
  rusage ru0, ru1;
  volatile sig_atomic_t armed;  // an access is in progress: a fault is the trace's
  volatile int sig;
  volatile std::uint64_t cur;    // address being touched
  volatile std::uint64_t drawn;  // random draws made by this op
  std::mt19937_64 rng;
  std::uint64_t rng_draws;  // draws this process's generator has made
  alignas(64) char altstack[64 * 1024];
};
window_state g;

const trace* g_trace;
span_list g_spans;

bool overlaps_spans(std::uint64_t a, std::uint64_t b) {
  for (auto& [s, e] : g_spans)
    if (a < e && s < b) return true;
  return false;
}

void on_fault(int sig, siginfo_t*, void*) {
  if (!g.armed) {
    // A fault in kreplay's own code: die of it (the controller sees the channel close).
    signal(sig, SIG_DFL);
    return;
  }
  g.sig = sig;
  siglongjmp(g.jb, 1);
}

std::string read_self_maps() {
  std::string s;
  const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return s;
}

struct map_line {
  std::uint64_t start = 0, end = 0;
  char perms[5] = {};
  std::string path;
};
std::vector<map_line> self_maps() {
  std::vector<map_line> v;
  const std::string s = read_self_maps();
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    const std::string line = s.substr(pos, nl - pos);
    pos = nl + 1;
    map_line m;
    unsigned long long a = 0, b = 0;
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %4s %*s %*s %*s %n", &a, &b, m.perms, &path_at) < 3) continue;
    m.start = a;
    m.end = b;
    if (path_at > 0 && static_cast<std::size_t>(path_at) <= line.size()) m.path = line.substr(static_cast<std::size_t>(path_at));
    v.push_back(std::move(m));
  }
  return v;
}

__attribute__((noinline)) void pretouch_stack() {
  volatile char buf[128 * 1024];
  for (std::size_t i = 0; i < sizeof buf; i += 4096) buf[i] = 0;
}

// Makes every page of the worker's own memory present and exclusively owned, so that the
// faults a window counts are the trace's. Never touches the trace's spans.
void self_prefault() {
  for (const map_line& m : self_maps()) {
    if (overlaps_spans(m.start, m.end)) continue;
    if (m.path == "[vvar]" || m.path == "[vdso]" || m.path == "[vsyscall]" || m.path == "[vvar_vclock]") continue;
    const bool r = m.perms[0] == 'r', w = m.perms[1] == 'w', priv = m.perms[3] == 'p';
    if (w && priv) madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_POPULATE_WRITE);
    else if (r) madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_POPULATE_READ);
  }
  pretouch_stack();
}

// With ASLR off (main.cpp re-executes without it) kreplay's own mappings sit far from the
// usual trace addresses; a trace that still collides is refused rather than allowed to
// replace kreplay's code or stack with its MAP_FIXED.
std::string collision(const span_list& touched) {
  for (const map_line& m : self_maps())
    for (auto& [a, b] : touched)
      if (m.start < b && a < m.end) {
        char msg[220];
        std::snprintf(msg, sizeof msg, "%sthe trace's range %llx-%llx overlaps kreplay's own mapping %llx-%llx %s",
                      SKIP_PREFIX, static_cast<unsigned long long>(a), static_cast<unsigned long long>(b),
                      static_cast<unsigned long long>(m.start), static_cast<unsigned long long>(m.end),
                      m.path.empty() ? "[anon]" : m.path.c_str());
        return msg;
      }
  return {};
}

void set_problem(reply& r, const std::string& s) {
  std::snprintf(r.problem, sizeof r.problem, "%s", s.c_str());
}

std::uint64_t minflt_delta() {
  return static_cast<std::uint64_t>(g.ru1.ru_minflt - g.ru0.ru_minflt);
}

// One syscall inside a measured window. Returns the syscall's result.
template <class F>
void syscall_window(reply& r, F&& fn) {
  pretouch_stack();
  errno = 0;
  getrusage(RUSAGE_SELF, &g.ru0);
  const long ret = fn();
  const int e = errno;
  getrusage(RUSAGE_SELF, &g.ru1);
  r.err = ret < 0 ? e : 0;
  r.minflt = minflt_delta();
}

int linux_mmap_flags(unsigned f) {
  int r = 0;
  if (f & MF_PRIVATE) r |= MAP_PRIVATE;
  if (f & MF_SHARED) r |= MAP_SHARED;
  if (f & MF_ANONYMOUS) r |= MAP_ANONYMOUS;
  if (f & MF_FIXED) r |= MAP_FIXED;
  if (f & MF_HUGETLB) r |= MAP_HUGETLB;
  if (f & MF_POPULATE) r |= MAP_POPULATE;
  if (f & MF_NORESERVE) r |= MAP_NORESERVE;
  return r;
}

inline void touch(std::uint64_t va, access_kind kind) {
  g.cur = va;
  switch (kind) {
    case access_kind::read:
      (void)*reinterpret_cast<volatile const std::uint8_t*>(va);
      break;
    case access_kind::write:
      // Non-zero, as mmsim's tokens are: zero-filled subpages are what the THP shrinker
      // treats as unused.
      *reinterpret_cast<volatile std::uint8_t*>(va) = 0x5a;
      break;
    case access_kind::atomic: {
      // x86 reports a locked RMW as a write fault from the start (real-kernel-x86-6.18.md).
      std::uint8_t one = 1;
      asm volatile("lock xaddb %0, %1" : "+q"(one), "+m"(*reinterpret_cast<std::uint8_t*>(va)) : : "memory");
      break;
    }
    case access_kind::exec:
      break;  // refused before the run starts (host.cpp)
  }
}

// The same address order as sim/replay.cpp do_access: seq = i % slots; random = rng() % slots
// from one generator for the whole run. Kept out of do_access's frame so siglongjmp clobbers
// nothing that is read afterwards.
__attribute__((noinline)) void access_loop(const access_op& a, std::uint64_t slots, std::uint64_t count) {
  for (std::uint64_t rep = 0; rep < a.repeat; ++rep)
    for (std::uint64_t i = 0; i < count; ++i) {
      std::uint64_t slot = i % slots;
      if (a.pattern == access_pattern::random) {
        g.drawn = g.drawn + 1;
        slot = g.rng() % slots;
      }
      touch(a.addr + slot * a.stride, a.kind);
    }
}

void do_access(const access_op& a, std::uint64_t global_draws, reply& r) {
  if (global_draws > g.rng_draws) {
    g.rng.discard(global_draws - g.rng_draws);
    g.rng_draws = global_draws;
  }
  const std::uint64_t slots = std::max<std::uint64_t>(1, (a.len + a.stride - 1) / a.stride);
  const std::uint64_t count = a.count ? a.count : slots;
  pretouch_stack();
  g.sig = 0;
  g.drawn = 0;
  getrusage(RUSAGE_SELF, &g.ru0);
  if (sigsetjmp(g.jb, 1) == 0) {
    g.armed = 1;
    access_loop(a, slots, count);
  }
  g.armed = 0;
  getrusage(RUSAGE_SELF, &g.ru1);
  r.minflt = minflt_delta();
  r.sig = g.sig;
  r.sig_addr = g.sig ? g.cur : 0;
  r.draws = g.drawn;
  g.rng_draws += g.drawn;
}

reply run_op(const op& o, std::uint64_t draws) {
  reply r{};
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, mmap_op>) {
          syscall_window(r, [&] {
            return mmap(reinterpret_cast<void*>(b.addr), b.len, static_cast<int>(b.prot),
                        linux_mmap_flags(b.flags), -1, 0) == MAP_FAILED ? -1L : 0L;
          });
        } else if constexpr (std::is_same_v<T, munmap_op>) {
          syscall_window(r, [&] { return static_cast<long>(munmap(reinterpret_cast<void*>(b.addr), b.len)); });
        } else if constexpr (std::is_same_v<T, mprotect_op>) {
          syscall_window(r, [&] {
            return static_cast<long>(mprotect(reinterpret_cast<void*>(b.addr), b.len, static_cast<int>(b.prot)));
          });
        } else if constexpr (std::is_same_v<T, madvise_op>) {
          const int adv = linux_advice(b.advice);
          if (adv < 0) return set_problem(r, "madvise advice without a Linux value");
          syscall_window(r, [&] { return static_cast<long>(madvise(reinterpret_cast<void*>(b.addr), b.len, adv)); });
        } else if constexpr (std::is_same_v<T, access_op>) {
          do_access(b, draws, r);
        } else if constexpr (is_prctl_op<T>) {
          const int option = linux_prctl(b);
          if (option < 0) return set_problem(r, "prctl option without a Linux value");
          const unsigned long value = b.value;
          syscall_window(r, [&] { return static_cast<long>(prctl(option, value, 0, 0, 0)); });
        } else {
          set_problem(r, "op not handled by the worker");
        }
      },
      o.body);
  return r;
}

// Ops run where mmsim runs them (the op's cpu, else the process's home CPU): which CPU faulted
// a page decides, on Linux, in which per-CPU LRU batch the new folio waits, and so whether an
// munmap on another CPU frees it at once (pgfree) or later.
void pin(std::int32_t cpu) {
  static std::int32_t current = -1;
  if (cpu < 0 || cpu == current) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) == 0) current = cpu;
}

// The trace format describes an ordinary process; kreplay runs as root. CAP_SYS_RAWIO would
// let mmap below vm.mmap_min_addr succeed (security/commoncap.c cap_mmap_addr) where the
// trace expects EPERM, so the workers drop it (inherited by every fork). The controller keeps
// its capabilities: it needs CAP_SYS_ADMIN for PFNs and kpageflags.
std::string drop_rawio() {
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &h, d) != 0) return std::string("capget: ") + strerror(errno);
  const unsigned word = CAP_SYS_RAWIO / 32, bit = 1u << (CAP_SYS_RAWIO % 32);
  d[word].effective &= ~bit;
  d[word].permitted &= ~bit;
  d[word].inheritable &= ~bit;
  if (syscall(SYS_capset, &h, d) != 0) return std::string("capset: ") + strerror(errno);
  return {};
}

void install_handlers() {
  stack_t ss{};
  ss.ss_sp = g.altstack;
  ss.ss_size = sizeof g.altstack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
  // Children of a worker are reaped by the kernel; nobody waits for a trace process.
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace

[[noreturn]] void worker_main(const worker_setup& s, int sock) {
  g_trace = s.trace;
  g_spans = s.spans;
  g.rng.seed(s.trace->seed);
  g.rng_draws = 0;
  install_handlers();
  reply hello{};
  hello.ready = 1;
  if (std::string c = collision(s.touched); !c.empty()) set_problem(hello, c);
  if (std::string c = drop_rawio(); !c.empty()) set_problem(hello, c);
  if (s.thp_disable && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0)
    set_problem(hello, std::string("prctl(PR_SET_THP_DISABLE): ") + strerror(errno));
  self_prefault();
  if (!send_reply(sock, hello)) _exit(1);
  for (;;) {
    command c;
    int fd = -1;
    if (!recv_command(sock, c, &fd)) _exit(0);  // the controller is gone
    if (c.kind == cmd_kind::exit) _exit(0);
    if (fd >= 0 && c.kind != cmd_kind::fork) close(fd);
    pin(c.cpu);
    reply r{};
    if (c.op_index >= g_trace->ops.size()) {
      set_problem(r, "op index out of range");
    } else if (c.kind == cmd_kind::fork) {
      if (fd < 0) {
        set_problem(r, "fork without a channel for the child");
      } else {
        const pid_t child = fork();
        if (child == 0) {
          close(sock);
          sock = fd;
          self_prefault();
          reply ready{};
          ready.ready = 1;
          if (!send_reply(sock, ready)) _exit(1);
          continue;  // the child now serves its own trace pid
        }
        close(fd);
        if (child < 0) r.err = errno;
        else self_prefault();  // the parent's own pages are CoW-shared with the child now
        r.child_pid = child > 0 ? child : 0;
      }
    } else {
      r = run_op(g_trace->ops[c.op_index], c.rng_draws);
    }
    if (!send_reply(sock, r)) _exit(0);
  }
}

}  // namespace kreplay
