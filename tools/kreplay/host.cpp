#include "tools/kreplay/host.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>
#include <variant>

#include "mm/knobs.hpp"
#include "mm/mman.hpp"
#include "tools/kreplay/worker.hpp"

namespace kreplay {

using namespace mmsim::sim::trace;

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

namespace {

// A knob row's value in `k`, whichever shape mm/knobs.hpp's getter has (it gained a per-row
// argument for the hugepages-<size>kB rows).
template <class Row, class K>
std::string knob_value(const K& k, const Row& row) {
  if constexpr (requires { row.get(k); }) return row.get(k);
  else return row.get(k, row.arg);
}

std::string host_machine() {
  utsname u{};
  return uname(&u) == 0 ? u.machine : "unknown";
}

// Where Linux keeps a knob the trace names (trace-format.md "kernel").
std::string knob_path(const std::string& name) {
  if (name.starts_with("vm/")) return "/proc/sys/" + name;
  if (name.starts_with("x86/")) return "/sys/kernel/debug/" + name;  // debugfs
  return "/sys/kernel/mm/" + name;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  return s;
}

// A sysfs choice file reads "always [madvise] never": the bracketed word is the value.
bool read_knob(const std::string& path, std::string& value, std::string& why) {
  std::ifstream in(path);
  if (!in) {
    why = std::string("cannot read ") + path + ": " + std::strerror(errno);
    if (path.starts_with("/sys/kernel/debug/")) why += " (is debugfs mounted?)";
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  value = trim(s.str());
  const auto l = value.find('['), r = value.find(']');
  if (l != std::string::npos && r != std::string::npos && r > l) value = value.substr(l + 1, r - l - 1);
  return true;
}

bool write_file(const std::string& path, const std::string& v, std::string& why) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, v.data(), v.size()) != static_cast<ssize_t>(v.size())) {
    why = "cannot write '" + v + "' to " + path + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  close(fd);
  return true;
}

// Features of the trace kreplay cannot run, checked before anything starts.
std::string unsupported_op(const trace& t) {
  for (const op& o : t.ops) {
    const std::string at = "ops[" + std::to_string(o.index) + "]: ";
    const bool supported = std::visit(
        [&](const auto& b) {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, access_op>) return b.kind != access_kind::exec;
          else if constexpr (std::is_same_v<T, madvise_op>) return linux_advice(b.advice) >= 0;
          else if constexpr (is_prctl_op<T>) return linux_prctl(b) >= 0;
          else
            return std::is_same_v<T, mmap_op> || std::is_same_v<T, munmap_op> ||
                   std::is_same_v<T, mprotect_op> || std::is_same_v<T, fork_op> ||
                   std::is_same_v<T, exit_op> || std::is_same_v<T, expect_op> ||
                   std::is_same_v<T, mark_op>;
        },
        o.body);
    if (!supported) {
      if (const auto* a = std::get_if<access_op>(&o.body); a && a->kind == access_kind::exec)
        return at + "exec accesses are not replayed by kreplay yet (they would need code in trace memory)";
      if (std::visit([](const auto& b) { return requires { b.scans; b.pages; }; }, o.body))
        return at + "khugepaged: Linux runs it on its own schedule (scan_sleep_millisecs); kreplay cannot run it for a number of scans";
      return at + "this op is not replayed by kreplay yet";
    }
  }
  return {};
}

// A 5-level trace (va_bits 57) may map above 2^47, where a 4-level host has no user space;
// a 4-level trace's mmaps up there fail on both sides alike and are fine.
std::string address_problem(const trace& t) {
  if (t.machine.va_bits <= 48) return {};
  for (const op& o : t.ops)
    if (const auto* m = std::get_if<mmap_op>(&o.body); m && m->len && m->addr + m->len > TASK_SIZE)
      return "the trace has 5-level paging (va_bits 57) and maps above 2^47; kreplay supports 4-level hosts";
  return {};
}

// Knobs Linux has and mmsim does not model, at the value mmsim implicitly assumes. mTHP sizes
// other than PMD size would make Linux allocate folios mmsim never does.
void check_mthp(host_plan& p, const host_options& opt) {
  auto in_table = [](const std::string& knob) {
    for (const auto& row : mmsim::mm::knob_table())
      if (std::string(row.name) == knob) return true;
    return false;
  };
  const std::string dir = "/sys/kernel/mm/transparent_hugepage";
  DIR* d = opendir(dir.c_str());
  if (!d) return;  // an older kernel without mTHP: nothing to assume
  std::vector<std::string> sizes;
  while (dirent* e = readdir(d))
    if (std::strncmp(e->d_name, "hugepages-", 10) == 0) sizes.emplace_back(e->d_name);
  closedir(d);
  std::sort(sizes.begin(), sizes.end());
  for (const auto& s : sizes) {
    const std::string knob = "transparent_hugepage/" + s + "/enabled";
    if (in_table(knob)) continue;  // checked with the trace's value in plan_host
    const std::string want = s == "hugepages-2048kB" ? "inherit" : "never";
    std::string have, why;
    if (!read_knob(knob_path(knob), have, why)) continue;
    if (have == want) continue;
    if (opt.set_global) p.writes.push_back({knob, knob_path(knob), have, want});
    else if (p.skip.empty())
      p.skip = knob + " is '" + have + "' on this host; mmsim models only PMD-size THP (it assumes '" +
               want + "'); rerun with --set-global to change it for the run";
  }
}

// vm.mmap_min_addr is a build option (CONFIG_DEFAULT_MMAP_MIN_ADDR, 4096 on some kernels) that
// distros usually raise to 65536 with sysctl. A trace that maps between the host's value and
// mmsim's gets different answers; below both (or above both) the answers agree, so only that
// window forces a skip.
void check_mmap_min_addr(const trace& t, const mmsim::mm::kernel_knobs& k, host_plan& p,
                         const host_options& opt) {
  const std::string knob = "vm/mmap_min_addr", want = std::to_string(k.mmap_min_addr);
  std::string have, why;
  if (!read_knob(knob_path(knob), have, why)) return;
  std::uint64_t host = 0;
  try {
    host = std::stoull(have);
  } catch (...) {
    return;
  }
  const std::uint64_t lo = std::min<std::uint64_t>(host, k.mmap_min_addr);
  const std::uint64_t hi = std::max<std::uint64_t>(host, k.mmap_min_addr);
  bool ambiguous = false;
  for (const op& o : t.ops)
    if (const auto* m = std::get_if<mmap_op>(&o.body)) ambiguous = ambiguous || (m->addr >= lo && m->addr < hi);
  if (!ambiguous) return;
  if (opt.set_global) p.writes.push_back({knob, knob_path(knob), have, want});
  else if (p.skip.empty())
    p.skip = "the trace maps between " + std::to_string(lo) + " and " + std::to_string(hi) +
             ", where mmsim's vm.mmap_min_addr=" + want + " and the host's " + have +
             " (/proc/sys/vm/mmap_min_addr) disagree; rerun with --set-global to change it for the run";
}

// MADV_PAGEOUT reclaims anon pages only into swap: without a swap device Linux leaves them
// mapped (mm/vmscan.c reclaim_pages -> shrink_folio_list keeps anon folios it cannot swap),
// while mmsim always has one.
std::string swap_problem(const trace& t) {
  bool pageout = false;
  for (const op& o : t.ops)
    if (const auto* m = std::get_if<madvise_op>(&o.body)) pageout = pageout || linux_advice(m->advice) == 21;
  if (!pageout) return {};
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string key;
    long long kb = 0;
    if (f >> key >> kb && key == "SwapTotal:" && kb > 0) return {};
  }
  return "the trace pages anon memory out (MADV_PAGEOUT) and this host has no swap (SwapTotal 0 in /proc/meminfo)";
}

}  // namespace

host_plan plan_host(const trace& t, const host_options& opt) {
  host_plan p;
  auto skip = [&](const std::string& why) {
    if (p.skip.empty()) p.skip = why;
  };
  const std::string arch = host_machine();
  if (t.machine.arch != arch) skip("the trace is for " + t.machine.arch + ", this host is " + arch);
  if (geteuid() != 0)
    skip("not root: /proc/kpageflags and the PFNs in /proc/<pid>/pagemap need CAP_SYS_ADMIN");
  if (access("/proc/kpageflags", R_OK) != 0 || access("/proc/kpagecount", R_OK) != 0)
    skip(std::string("cannot read /proc/kpageflags or /proc/kpagecount: ") + std::strerror(errno));
  if (std::string s = unsupported_op(t); !s.empty()) skip(s);
  if (std::string s = address_problem(t); !s.empty()) skip(s);
  if (std::string s = swap_problem(t); !s.empty()) skip(s);

  p.ignored.push_back("machine.cpus=" + std::to_string(t.machine.cpus) + " (the host has " +
                      std::to_string(std::thread::hardware_concurrency()) +
                      " CPUs; each op is pinned to its trace CPU modulo the host's)");
  p.ignored.push_back("machine.memory=" + std::to_string(t.machine.memory) + " (the host's memory is used)");
  if (!t.machine.cpu_model.empty()) p.ignored.push_back("machine.cpu_model=" + t.machine.cpu_model);

  // The values mmsim would run with: the trace's knobs over mmsim's defaults.
  mmsim::mm::kernel_knobs k = mmsim::mm::default_knobs();
  std::vector<std::string> explicit_knobs;
  for (auto& [name, value] : t.kernel) {
    if (std::string err = mmsim::mm::set_knob(k, name, value); !err.empty()) skip("kernel." + err);
    explicit_knobs.push_back(name);
  }
  auto is_explicit = [&](const std::string& n) {
    return std::find(explicit_knobs.begin(), explicit_knobs.end(), n) != explicit_knobs.end();
  };
  for (const auto& row : mmsim::mm::knob_table()) {
    const std::string name = row.name, want = knob_value(k, row);
    const bool expl = is_explicit(name);
    // Which scheme drives (and which run as shadows) changes what mmsim measures, not what
    // Linux does.
    if (name == "mm/mapcount" || name == "mm/shadow") {
      if (expl) p.ignored.push_back("kernel." + name + "=" + want + " (simulator-only; Linux's behaviour does not depend on it)");
      continue;
    }
    if (name.starts_with("mm/")) {
      if (expl) skip("kernel." + name + "=" + want + " is simulator-only: Linux has no such knob, so the host cannot run the trace's configuration");
      continue;
    }
    if (name == "vm/mmap_min_addr") continue;  // only an address window matters: check_mmap_min_addr
    if (name.starts_with("x86/") && !expl) {
      p.ignored.push_back("kernel." + name + " (not set by the trace; it changes only TLB flush cost, which kreplay does not observe)");
      continue;
    }
    const std::string path = knob_path(name);
    std::string have, why;
    if (!read_knob(path, have, why)) {
      skip("kernel." + name + "=" + want + ": " + why);
      continue;
    }
    p.knobs.emplace_back(name, want);
    if (have == want) continue;
    const std::string whose = expl ? "the trace sets" : "mmsim's default (the trace does not set it) is";
    if (name == "transparent_hugepage/enabled" && want == "never" && opt.thp_never_via_prctl) {
      p.thp_disable = true;
      p.notes.push_back("transparent_hugepage/enabled=never applied per process with prctl(PR_SET_THP_DISABLE) (host: " + have + ")");
    } else if (opt.set_global) {
      p.writes.push_back({name, path, have, want});
    } else {
      skip("kernel." + name + ": " + whose + " '" + want + "', the host has '" + have + "' (" + path +
           "); rerun with --set-global to change it for the run, on a machine you own");
    }
  }
  check_mthp(p, opt);
  check_mmap_min_addr(t, k, p, opt);
  return p;
}

std::string global_settings::apply() {
  for (; applied_ < writes_.size(); ++applied_) {
    const auto& w = writes_[applied_];
    std::string why;
    std::cerr << "kreplay: --set-global: " << w.path << ": '" << w.original << "' -> '" << w.wanted
              << "' (restored at exit)\n";
    if (!write_file(w.path, w.wanted, why)) {
      while (applied_ > 0) {
        --applied_;
        write_file(writes_[applied_].path, writes_[applied_].original, why);
      }
      return why;
    }
  }
  return {};
}

global_settings::~global_settings() {
  std::string why;
  while (applied_ > 0) {
    --applied_;
    const auto& w = writes_[applied_];
    if (!write_file(w.path, w.original, why)) std::cerr << "kreplay: could not restore: " << why << "\n";
  }
}

}  // namespace kreplay
