#include "mm/vmstat.hpp"

namespace mmsim::mm {
namespace {
constexpr const char* event_names[] = {
#define VM_EVENT(e, name, desc) name,
#include "mm/vm_event_item.def"
};
constexpr const char* event_descs[] = {
#define VM_EVENT(e, name, desc) desc,
#include "mm/vm_event_item.def"
};
constexpr const char* stat_names[] = {
#define VM_STAT(e, name, desc) name,
#include "mm/vm_event_item.def"
};
constexpr const char* stat_descs[] = {
#define VM_STAT(e, name, desc) desc,
#include "mm/vm_event_item.def"
};
}  // namespace

std::optional<vmstat_ref> vmstat_lookup(std::string_view name) {
  for (unsigned i = 0; i < NR_VM_EVENT_ITEMS; ++i)
    if (name == event_names[i]) return vmstat_ref{true, i};
  for (unsigned i = 0; i < NR_VM_NODE_STAT_ITEMS; ++i)
    if (name == stat_names[i]) return vmstat_ref{false, i};
  return std::nullopt;
}
const char* vm_event_name(vm_event_item e) { return event_names[e]; }
const char* node_stat_name(node_stat_item i) { return stat_names[i]; }
const char* vm_event_desc(vm_event_item e) { return event_descs[e]; }
const char* node_stat_desc(node_stat_item i) { return stat_descs[i]; }

}  // namespace mmsim::mm
