// Tearing down mappings (Linux: mm/memory.c zap_pte_range and friends, mm/mmu_gather.c).
// Entries are cleared and their rmap removed as the walk goes; the TLB is flushed once for the
// gathered range, and only then are the folios' references dropped, so no CPU can reach a
// freed frame through a stale translation.
#include "mm/kernel.hpp"
#include "mm/pagewalk.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;


void kernel::zap_page_range(mm_struct& mm, vaddr_t start, vaddr_t end, mmu_gather& tlb) {
  auto zap_ptes = [&](arch::pt_table& t, unsigned first, unsigned last, vaddr_t va) {
    for (unsigned i = first; i < last; ++i, va += arch::PAGE_SIZE) {
      const pteval_t e = t[i];
      if (pte_none(e)) continue;
      t[i] = 0;
      tlb.start = std::min(tlb.start, va);
      tlb.end = std::max(tlb.end, va + arch::PAGE_SIZE);
      if (!pte_present(e) || pte_special(e)) continue;
      const pfn_t pfn = pte_pfn(e);
      const folio f = page_folio(pfn);
      folio_remove_rmap_ptes(f, pfn, 1, mm, tlb.cpu);
      add_mm_counter(mm, MM_ANONPAGES, -1);
      tlb.pending.push_back(f);
    }
    led_.charge(tlb.cpu, arch::cost::fault, prof_.pte_update_cycles * (last - first));
  };
  auto no_huge = [&](pteval_t&, arch::pt_level, vaddr_t) {
    MM_BUG_ON(true, "huge leaf found while zapping; THP zap not modelled yet");
  };
  walk_page_range(mem_, mm.pgd, top_level(), 0, start, end, zap_ptes, no_huge);
}

// Linux: tlb_finish_mmu(): flush, then free what was unmapped.
void kernel::tlb_finish_mmu(mmu_gather& tlb) {
  if (tlb.end > tlb.start) flush_tlb_mm_range(*tlb.mm, tlb.start, tlb.end, tlb.cpu, tlb.freed_tables);
  for (folio f : tlb.pending) folio_put(f, tlb.cpu);
  tlb.pending.clear();
}

}  // namespace mmsim::mm
