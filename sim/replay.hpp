// Replay: turns a trace's ops into calls on the simulated kernel (mm/) and hardware (arch/),
// records what happened (signals, errnos, expectation results, invariant violations), and
// snapshots counters at marks. It decides nothing about memory management itself.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "arch/machine.hpp"
#include "mm/kernel.hpp"
#include "sim/reference.hpp"
#include "sim/trace/ops.hpp"

namespace mmsim::sim {

/// A trace whose configuration the simulator cannot build (bad cpu_model, --set value, ...).
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct replay_options {
  bool check_invariants = false;
  /// Receives kernel and op trace events (--timeline); null: none.
  mm::trace_sink* timeline = nullptr;
  /// --set overrides, applied after the trace's own kernel knobs.
  std::vector<std::pair<std::string, std::string>> overrides;
};

struct expectation_result {
  std::size_t op = 0;
  std::string field;
  std::string expected, actual;
  bool pass = false;
};

struct op_event {
  std::size_t op = 0;
  int pid = 0;
  std::string what;  // "SIGSEGV", "EINVAL", "OOM", "data mismatch", ...
  std::uint64_t addr = 0;
  std::string detail;
};

struct mark_snapshot {
  std::string label;
  std::size_t op = 0;
  mm::vm_counters vmstat;
};

struct process_summary {
  int pid = 0;
  mm::kernel::smaps_stats smaps;
  std::int64_t vm_pte = 0;
};

struct replay_result {
  std::vector<expectation_result> expectations;
  std::vector<op_event> signals;  // user accesses answered with a signal
  std::vector<op_event> errors;   // syscalls that failed with an errno
  std::vector<op_event> violations;  // invariants or data integrity: the simulator is wrong
  std::vector<mark_snapshot> marks;
  std::vector<process_summary> processes;  // live at the end
  mm::vm_counters vmstat;                  // at the end
  std::uint64_t invariant_checks = 0;
  std::uint64_t ops_run = 0;
  bool stopped_early = false;

  std::size_t failed_expectations() const;
};

class replayer {
 public:
  /// Throws config_error on a configuration the simulator cannot build.
  replayer(const trace::trace& t, replay_options opt);
  ~replayer();

  replay_result run();

  const arch::machine& hw() const { return *hw_; }
  const mm::kernel& kernel() const { return *kernel_; }
  const mm::kernel_knobs& knobs() const { return knobs_; }
  const trace::trace& trace() const { return trace_; }

 private:
  struct expect_ctx;
  void run_op(const trace::op& o);
  void run_op_body(const trace::op& o);
  void do_access(const trace::op& o, const trace::access_op& a);
  bool touch(const trace::op& o, mm::task_struct& t, unsigned cpu, arch::vaddr_t va,
             arch::access_kind kind);
  void syscall_result(const trace::op& o, const char* name, long ret, bool on_success);
  void check_expect(const trace::op& o, const trace::expect_op& e);
  void record_errno_expectation(const trace::op& o, long ret);
  unsigned cpu_for(const trace::op& o);
  void after_op(const trace::op& o);

  const trace::trace& trace_;
  replay_options opt_;
  mm::kernel_knobs knobs_;
  std::unique_ptr<arch::machine> hw_;
  std::unique_ptr<mm::kernel> kernel_;
  std::unique_ptr<reference_model> ref_;
  std::mt19937_64 rng_;
  std::uint64_t token_seq_ = 0;
  replay_result res_;
};

/// Runs a whole trace. Convenience for tests and tools.
replay_result replay_trace(const trace::trace& t, replay_options opt = {});

}  // namespace mmsim::sim
