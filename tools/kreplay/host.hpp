// Can this host replay this trace as written? Checks the machine (arch, root, kpageflags), the
// trace's features, and every kernel knob mmsim resolves for the trace against the host's
// sysfs/procfs value. A knob that differs is a reason to skip, never to run with other
// settings; with --set-global the host is changed for the run and restored afterwards.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "sim/trace/ops.hpp"

namespace kreplay {

struct host_options {
  bool set_global = false;
  /// transparent_hugepage/enabled=never on a madvise/always host: apply it per process with
  /// prctl(PR_SET_THP_DISABLE) instead of skipping (exact while the trace has no
  /// MADV_COLLAPSE, which that prctl turns into EINVAL; see host.cpp).
  bool thp_never_via_prctl = false;
};

struct sysfs_write {
  std::string knob, path, original, wanted;
};

struct host_plan {
  std::string skip;  // non-empty: do not run, and this is why
  std::vector<std::pair<std::string, std::string>> knobs;  // knob -> value the run uses
  std::vector<std::string> ignored;                         // trace settings without effect here
  std::vector<std::string> notes;
  std::vector<sysfs_write> writes;  // --set-global: what must change for the run
  bool thp_disable = false;
};

host_plan plan_host(const mmsim::sim::trace::trace& t, const host_options& opt);

/// Applies host_plan::writes and restores the original values when destroyed.
class global_settings {
 public:
  explicit global_settings(std::vector<sysfs_write> w) : writes_(std::move(w)) {}
  ~global_settings();
  global_settings(const global_settings&) = delete;
  global_settings& operator=(const global_settings&) = delete;
  /// Empty on success; otherwise the first write that failed (and nothing stays changed).
  std::string apply();

 private:
  std::vector<sysfs_write> writes_;
  std::size_t applied_ = 0;
};

/// "6.18.44-..." from uname.
std::string kernel_release();

}  // namespace kreplay
