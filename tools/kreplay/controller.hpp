// The controller: one real process per trace pid, driven op by op in trace order over the
// command channel, and every `expect` evaluated from outside the processes the way
// sim/expect.cpp evaluates it on the simulated kernel.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "sim/trace/ops.hpp"
#include "tools/kreplay/channel.hpp"
#include "tools/kreplay/host.hpp"
#include "tools/kreplay/observe.hpp"
#include "tools/kreplay/result.hpp"
#include "tools/kreplay/worker.hpp"

namespace kreplay {

struct run_options {
  int timeout_ms = 10000;  // a worker silent this long is killed and the run fails
  host_options host;
};

/// Replays `t` on this host. Never throws for a trace the reader accepted; a trace the host
/// cannot run comes back with `skipped` set, a broken-off run with `failed`.
run_result replay_on_host(const mmsim::sim::trace::trace& t, const run_options& opt);

class controller {
 public:
  controller(const mmsim::sim::trace::trace& t, run_options opt);
  ~controller();
  controller(const controller&) = delete;
  controller& operator=(const controller&) = delete;
  run_result run();

 private:
  struct proc {
    int tpid = 0;
    pid_t real = 0;
    int sock = -1;
    std::unique_ptr<pagemap_reader> pm;
  };
  /// Counter baselines at a mark (or at the start).
  struct snapshot {
    std::string label;
    std::uint64_t faults = 0;
    std::map<std::string, std::int64_t> global;  // /proc/vmstat and friends
    std::int64_t anon_pages = 0, anon_thps = 0;  // the trace's own, from its page tables
  };

  bool start_first_worker(bool thp_disable);
  void reserve_heap();
  std::int32_t host_cpu(const mmsim::sim::trace::op& o) const;
  void run_op(const mmsim::sim::trace::op& o);
  void do_fork(const mmsim::sim::trace::op& o, int child);
  void do_exit(const mmsim::sim::trace::op& o);
  void do_remote(const mmsim::sim::trace::op& o, const char* syscall);
  bool exchange(proc& p, const command& c, int fd, reply& r, std::size_t op);
  void fail(const std::string& why);
  void cleanup();
  void record_errno(const mmsim::sim::trace::op& o, int err, const char* syscall);
  snapshot take_snapshot(const std::string& label);
  void build_world(world& w);

  // tools/kreplay/expect.cpp
  void check_expect(const mmsim::sim::trace::op& o, const mmsim::sim::trace::expect_op& e);
  void check_pages(const mmsim::sim::trace::op& o, const mmsim::sim::trace::expect_op& e, proc& p);
  void check_vmstat(const mmsim::sim::trace::op& o, const mmsim::sim::trace::expect_op& e,
                    const std::map<std::string, std::int64_t>& now);
  void add(std::size_t op, const std::string& field, const std::string& want, const std::string& got,
           const std::string& source, bool noisy = false);

  const mmsim::sim::trace::trace& t_;
  run_options opt_;
  span_list spans_;
  std::map<int, proc> procs_;  // live trace processes by trace pid
  std::vector<int> host_cpus_;
  std::uint64_t faults_ = 0, draws_ = 0;
  bool need_world_counters_ = false;
  snapshot start_;
  std::vector<snapshot> marks_;
  kpage_reader kp_;
  run_result res_;
};

/// /proc/vmstat, plus the khugepaged sysfs counters and swap use mmsim names like vmstat items.
std::map<std::string, std::int64_t> read_global_counters();
/// Linux's name for an errno / signal value ("EINVAL", "SIGSEGV").
std::string errno_text(int err);
std::string signal_text(int sig);

}  // namespace kreplay
