// Tearing down mappings (Linux: mm/memory.c zap_pte_range and friends, mm/mmu_gather.c).
// Entries are cleared and their rmap removed as the walk goes; the TLB is flushed once for the
// gathered range, and only then are the folios' references dropped, so no CPU can reach a
// freed frame through a stale translation.
#include "mm/kernel.hpp"
#include "mm/pagewalk.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;


// Linux: unmap_page_range() -> zap_pmd_range() -> zap_pte_range(). A PMD leaf the range only
// partly covers is split first (M60); one it covers is zapped whole (M62). Runs of PTEs mapping
// consecutive pages of one folio are removed with one rmap call, as Linux batches them.
void kernel::zap_page_range(mm_struct& mm, vaddr_t start, vaddr_t end, mmu_gather& tlb) {
  split_huge_pmd_address(mm, start, tlb.cpu);
  split_huge_pmd_address(mm, end, tlb.cpu);
  auto zap_ptes = [&](arch::pt_table& t, unsigned first, unsigned last, vaddr_t va) {
    for (unsigned i = first; i < last;) {
      const pteval_t e = t[i];
      const vaddr_t a = va + static_cast<vaddr_t>(i - first) * arch::PAGE_SIZE;
      if (pte_none(e)) {
        ++i;
        continue;
      }
      tlb.start = std::min(tlb.start, a);
      if (is_swap_pte(e)) {
        t[i] = 0;
        swap_free(pte_swp_offset(e));
        add_mm_counter(mm, MM_SWAPENTS, -1);
        tlb.end = std::max(tlb.end, a + arch::PAGE_SIZE);
        ++i;
        continue;
      }
      t[i] = 0;
      if (pte_special(e)) {
        tlb.end = std::max(tlb.end, a + arch::PAGE_SIZE);
        ++i;
        continue;
      }
      const pfn_t pfn = pte_pfn(e);
      const folio f = page_folio(pfn);
      const pfn_t folio_end = f.pfn + (pfn_t{1} << folio_order(f));
      unsigned n = 1;
      while (i + n < last && pfn + n < folio_end && pte_present(t[i + n]) && !pte_special(t[i + n]) &&
             pte_pfn(t[i + n]) == pfn + n)
        t[i + n++] = 0;
      folio_remove_rmap_ptes(f, pfn, n, mm, tlb.cpu);
      add_mm_counter(mm, MM_ANONPAGES, -static_cast<long>(n));
      for (unsigned k = 0; k < n; ++k) tlb.pending.push_back(f);
      tlb.end = std::max(tlb.end, a + n * arch::PAGE_SIZE);
      i += n;
    }
    led_.charge(tlb.cpu, arch::cost::fault, prof_.pte_update_cycles * (last - first));
  };
  auto huge = [&](pteval_t& pmd, arch::pt_level level, vaddr_t haddr) {
    MM_BUG_ON(level != arch::pt_level::pmd, "PUD leaves are not modelled");
    zap_huge_pmd(mm, &pmd, haddr, tlb);
  };
  walk_page_range(mem_, mm.pgd, top_level(), 0, start, end, zap_ptes, huge);
}

// Linux: tlb_finish_mmu(): flush, then free what was unmapped.
void kernel::tlb_finish_mmu(mmu_gather& tlb) {
  if (tlb.end > tlb.start) flush_tlb_mm_range(*tlb.mm, tlb.start, tlb.end, tlb.cpu, tlb.freed_tables);
  for (folio f : tlb.pending) folio_put(f, tlb.cpu);
  tlb.pending.clear();
}

}  // namespace mmsim::mm
