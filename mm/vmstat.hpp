// vmstat: event counters and gauges with /proc/vmstat names. Counting is an array increment at
// the place where the event happens (count_vm_event), never a string lookup.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mmsim::mm {

enum vm_event_item : unsigned {
#define VM_EVENT(e, name, desc) e,
#include "mm/vm_event_item.def"
  NR_VM_EVENT_ITEMS
};
enum node_stat_item : unsigned {
#define VM_STAT(e, name, desc) e,
#include "mm/vm_event_item.def"
  NR_VM_NODE_STAT_ITEMS
};

/// One vmstat item, addressed uniformly for reports and expectations.
struct vmstat_ref {
  bool is_event;
  unsigned index;
};

struct vm_counters {
  std::array<std::uint64_t, NR_VM_EVENT_ITEMS> events{};
  std::array<std::int64_t, NR_VM_NODE_STAT_ITEMS> stats{};

  void count_vm_event(vm_event_item e) { ++events[e]; }
  void count_vm_events(vm_event_item e, std::uint64_t n) { events[e] += n; }
  void mod_node_page_state(node_stat_item i, std::int64_t delta) { stats[i] += delta; }
  std::int64_t value(vmstat_ref r) const {
    return r.is_event ? static_cast<std::int64_t>(events[r.index]) : stats[r.index];
  }
};

/// Per-size THP statistics (Linux: /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/
/// stats/*), indexed by folio order.
struct mthp_stats {
  static constexpr unsigned NR_ORDERS = 10;
  std::array<std::uint64_t, NR_ORDERS> anon_fault_alloc{}, anon_fault_fallback{}, split{},
      split_failed{}, split_deferred{}, swpout_fallback{};
  std::array<std::int64_t, NR_ORDERS> nr_anon{}, nr_anon_partially_mapped{};
};

std::optional<vmstat_ref> vmstat_lookup(std::string_view name);
const char* vm_event_name(vm_event_item e);
const char* node_stat_name(node_stat_item i);
const char* vm_event_desc(vm_event_item e);
const char* node_stat_desc(node_stat_item i);

}  // namespace mmsim::mm
