// The one knob table: every kernel knob a trace or --set may name, with its Linux path, default,
// allowed values and help. Defaults are written once, in mm/knobs.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mmsim::mm {

enum class thp_mode { always, madvise, never };

/// Resolved kernel configuration. Field names follow the sysfs/procfs leaf names.
struct kernel_knobs {
  thp_mode thp_enabled;
  unsigned thp_use_zero_page;
  std::string mapcount;                     // mm/mapcount: name of the driving scheme
  unsigned tlb_single_page_flush_ceiling;   // arch/x86/mm/tlb.c (debugfs)
};

struct knob_row {
  const char* name;     // Linux path below /sys/kernel/mm/ or /proc/sys/vm/, or mm/... (sim only)
  const char* allowed;  // human-readable domain
  const char* default_value;
  const char* help;
  /// Parses `value` into `k`; returns an empty string or the reason the value is invalid.
  std::string (*set)(kernel_knobs& k, std::string_view value);
  std::string (*get)(const kernel_knobs& k);
};

std::span<const knob_row> knob_table();
const knob_row* find_knob(std::string_view name);
kernel_knobs default_knobs();
/// Empty string on success; otherwise a message naming the knob and the allowed values.
std::string set_knob(kernel_knobs& k, std::string_view name, std::string_view value);

}  // namespace mmsim::mm
