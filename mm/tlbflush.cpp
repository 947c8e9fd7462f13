// TLB maintenance (Linux: arch/x86/mm/tlb.c flush_tlb_mm_range). The initiating CPU flushes
// locally with INVLPG per page, or the whole PCID above tlb_single_page_flush_ceiling pages;
// every other CPU in mm_cpumask gets an IPI and does the same. Costs are charged on both sides.
// Differs from Linux: no lazy-TLB skipping (every CPU that ran the mm is flushed), no
// INVLPGB; PCIDs are never recycled, so other mms' entries survive any flush.
#include "mm/kernel.hpp"

namespace mmsim::mm {

using arch::cost;

void kernel::flush_tlb_mm_range(mm_struct& mm, vaddr_t start, vaddr_t end, unsigned cpu,
                                bool freed_tables) {
  (void)freed_tables;  // only matters for lazy-TLB CPUs, which are not modelled
  const std::uint64_t pages = (end - start + arch::PAGE_SIZE - 1) >> arch::PAGE_SHIFT;
  const bool full = pages > knobs_.tlb_single_page_flush_ceiling;
  auto flush_on = [&](unsigned c) {
    auto& m = hw_.cpus[c];
    const arch::cycles_t begin = now(c);
    if (full) {
      m.flush_pcid(mm.pcid());
      led_.charge(c, cost::flush, prof_.flush_all_cycles);
    } else {
      for (vaddr_t a = start; a < end; a += arch::PAGE_SIZE) m.invlpg(mm.pcid(), a);
      led_.charge(c, cost::flush, prof_.invlpg_cycles * pages);
    }
    if (tracer_) [[unlikely]]
      tracer_->emit({"tlb_flush", c, begin, now(c), start,
                     std::string(c == cpu ? "local " : "shootdown ") +
                         (full ? "full" : std::to_string(pages) + " pages")});
  };
  if (mm.cpumask & (1ull << cpu)) {
    flush_on(cpu);
    vmstat_.count_vm_events(full ? NR_TLB_LOCAL_FLUSH_ALL : NR_TLB_LOCAL_FLUSH_ONE,
                            full ? 1 : pages);
  }
  const std::uint64_t others = mm.cpumask & ~(1ull << cpu);
  if (!others) return;
  vmstat_.count_vm_event(NR_TLB_REMOTE_FLUSH);
  for (unsigned c = 0; c < hw_.nr_cpus(); ++c) {
    if (!(others & (1ull << c))) continue;
    led_.charge(cpu, cost::ipi, prof_.ipi_send_cycles);
    led_.charge(c, cost::ipi, prof_.ipi_receive_cycles);
    vmstat_.count_vm_event(NR_TLB_REMOTE_FLUSH_RECEIVED);
    flush_on(c);
  }
}

void kernel::flush_tlb_page(mm_struct& mm, vaddr_t addr, unsigned cpu) {
  flush_tlb_mm_range(mm, addr, addr + arch::PAGE_SIZE, cpu, false);
}

}  // namespace mmsim::mm
