// The one knob table: every kernel knob a trace or --set may name, with its Linux path, default,
// allowed values and help. Defaults are written once, in mm/knobs.cpp.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mmsim::mm {

enum class thp_mode { always, madvise, never };
enum class mthp_mode { always, inherit, madvise, never };
enum class thp_defrag { always, defer, defer_madvise, madvise, never };
enum class huge_zero_wp_mode { allocate, split };

/// transparent_hugepage/khugepaged/* (M77).
struct khugepaged_knobs {
  unsigned pages_to_scan;
  unsigned scan_sleep_millisecs;
  unsigned alloc_sleep_millisecs;
  unsigned max_ptes_none;
  unsigned max_ptes_swap;
  unsigned max_ptes_shared;
  unsigned defrag;
};

inline constexpr unsigned MIN_MTHP_ORDER = 2, MAX_MTHP_ORDER = 9;  // anon: 16K .. 2M

/// Resolved kernel configuration. Field names follow the sysfs/procfs leaf names.
struct kernel_knobs {
  thp_mode thp_enabled;
  thp_defrag defrag;
  unsigned thp_use_zero_page;
  std::array<mthp_mode, MAX_MTHP_ORDER + 1> mthp_enabled;  // hugepages-<size>kB/enabled
  khugepaged_knobs khugepaged;
  huge_zero_wp_mode huge_zero_wp;           // mm/huge_zero_wp (simulator: kernel version)
  unsigned collapse_requires_writable;      // mm/collapse_requires_writable (<= 6.17: 1)
  unsigned mmap_min_addr;                   // vm/mmap_min_addr
  std::string mapcount;                     // mm/mapcount: name of the driving scheme
  std::string shadow;                       // mm/shadow: schemes run as shadows ("", "all", list)
  unsigned tlb_single_page_flush_ceiling;   // arch/x86/mm/tlb.c (debugfs)
};

struct knob_row {
  std::string name;     // Linux path below /sys/kernel/mm/ or /proc/sys/vm/, or mm/... (sim only)
  std::string allowed;  // human-readable domain
  std::string default_value;
  std::string help;
  /// Parses `value` into `k`; returns an empty string or the reason the value is invalid.
  std::string (*set)(kernel_knobs& k, std::string_view value, unsigned arg);
  std::string (*get)(const kernel_knobs& k, unsigned arg);
  unsigned arg = 0;  // row parameter (the order of a hugepages-<size>kB row)
};

std::span<const knob_row> knob_table();
const knob_row* find_knob(std::string_view name);
kernel_knobs default_knobs();
/// Empty string on success; otherwise a message naming the knob and the allowed values.
std::string set_knob(kernel_knobs& k, std::string_view name, std::string_view value);
std::string get_knob(const kernel_knobs& k, const knob_row& row);

}  // namespace mmsim::mm
