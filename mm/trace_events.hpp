// Kernel trace events, named after Linux's tracepoints where one exists (page_fault_user,
// tlb_flush, mm_khugepaged_scan_pmd, mm_collapse_huge_page). A sink is attached only when the
// user asks for a timeline; with none attached every emit point costs one branch.
#pragma once

#include <string>

#include "arch/types.hpp"

namespace mmsim::mm {

struct trace_event {
  const char* name;           // tracepoint name
  unsigned cpu;
  arch::cycles_t begin, end;  // the CPU's simulated time: its ledger total, in cycles
  arch::vaddr_t addr = 0;
  std::string detail;         // what happened: fault kind, scan result, flush kind
};

class trace_sink {
 public:
  virtual ~trace_sink() = default;
  virtual void emit(const trace_event& e) = 0;
};

}  // namespace mmsim::mm
