// A minimal swap device (Linux: mm/swapfile.c, mm/swap_state.c, mm/vmscan.c as reached from
// MADV_PAGEOUT, mm/memory.c do_swap_page), enough that swap PTEs exist for khugepaged's
// max_ptes_swap and that paged-out data comes back intact.
// Differs from Linux: no swap cache (a swap-in always makes a private, exclusive copy), no
// THP swap-out (a large folio is split first: thp_swpout_fallback), unlimited swap space.
#include "mm/kernel.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;

std::uint64_t kernel::get_swap_slot(std::uint64_t token) {
  std::uint64_t off;
  if (!free_swap_slots_.empty()) {
    off = free_swap_slots_.back();
    free_swap_slots_.pop_back();
  } else {
    off = swap_map_.size();
    swap_map_.emplace_back();
  }
  swap_map_[off] = swap_slot{token, 1};
  vmstat_.mod_node_page_state(NR_SWAP_SLOTS, 1);
  return off;
}

void kernel::swap_duplicate(std::uint64_t offset) { ++swap_map_[offset].count; }

void kernel::swap_free(std::uint64_t offset) {
  MM_BUG_ON(swap_map_[offset].count == 0, "freeing a free swap slot");
  if (--swap_map_[offset].count == 0) {
    free_swap_slots_.push_back(offset);
    vmstat_.mod_node_page_state(NR_SWAP_SLOTS, -1);
  }
}

// Linux: do_swap_page(). The page comes back as a new exclusive order-0 folio; it is mapped
// writable only for a write fault (a later write reuses it through PageAnonExclusive).
vm_fault_t kernel::do_swap_page(vm_fault& vmf) {
  const pteval_t orig = vmf.orig_pte;
  const std::uint64_t off = pte_swp_offset(orig);
  auto f = folio_alloc(0, false, vmf.cpu);
  if (!f) return VM_FAULT_OOM;
  mem_.word(f->pfn) = swap_map_[off].token;
  led_.charge(vmf.cpu, arch::cost::copy, prof_.copy_4k_cycles);  // the read from swap
  vmstat_.count_vm_event(PSWPIN);
  fault_kind_ = fault_kind::swap_in;
  vm_area_struct& vma = *vmf.vma;
  if (!vma.anon_vma) vma.anon_vma = next_anon_vma_++;
  pteval_t entry = mk_pte(f->pfn, vma);
  if ((vmf.flags & FAULT_FLAG_WRITE) && (vma.vm_flags & VM_WRITE)) entry = pte_mkwrite(pte_mkdirty(entry));
  folio_add_new_anon_rmap(*f, vma, vmf.address, *vmf.mm, vmf.cpu);
  add_mm_counter(*vmf.mm, MM_ANONPAGES, 1);
  add_mm_counter(*vmf.mm, MM_SWAPENTS, -1);
  swap_free(off);
  set_pte(vmf.pte, entry, vmf.cpu);
  return 0;
}

// Reclaims the exclusive order-0 page mapped at `pte`: content to swap, a swap entry in its
// place, the page freed. Returns false if the page is not a candidate.
bool kernel::pageout_one(mm_struct& mm, pteval_t* pte, vaddr_t addr, unsigned cpu) {
  const pteval_t e = *pte;
  const pfn_t pfn = pte_pfn(e);
  const folio f = page_folio(pfn);
  if (folio_order(f) != 0 || folio_ref_count(f) != 1) return false;
  const std::uint64_t off = get_swap_slot(mem_.word(pfn));
  *pte = swp_entry_to_pte(off, page_anon_exclusive(pfn));
  flush_tlb_page(mm, addr, cpu);
  folio_remove_rmap_ptes(f, pfn, 1, mm, cpu);
  add_mm_counter(mm, MM_ANONPAGES, -1);
  add_mm_counter(mm, MM_SWAPENTS, 1);
  vmstat_.count_vm_event(PSWPOUT);
  led_.charge(cpu, arch::cost::copy, prof_.copy_4k_cycles);  // the write to swap
  folio_put(f, cpu);
  return true;
}

// Linux: madvise_cold_or_pageout_pte_range() + reclaim_pages() for MADV_PAGEOUT. Folios that
// other mms map are skipped (a "mapped shared?" decision site, M41); large folios are split.
long kernel::madvise_pageout(mm_struct& mm, vm_area_struct& vma, vaddr_t start, vaddr_t end,
                             unsigned cpu) {
  (void)vma;
  split_huge_pmd_address(mm, start, cpu);
  split_huge_pmd_address(mm, end, cpu);
  for (vaddr_t a = start; a < end; a += arch::PAGE_SIZE) {
    pteval_t* pmd = pmd_offset_map(mm, a);
    if (!pmd || *pmd == 0) {
      a = (a | (arch::PMD_SIZE - 1));  // no table: skip the 2M range
      continue;
    }
    if (pmd_leaf(*pmd)) {
      if (pte_special(*pmd)) {
        a = (a | (arch::PMD_SIZE - 1));
        continue;
      }
      const folio f = page_folio(pte_pfn(*pmd));
      const bool shared = scheme_->folio_maybe_mapped_shared(key(f));
      if (shadows_) shadows_->record(mapcount::decision_site::folio_mapped_shared, key(f), 0, folio_mapped_shared(f), folio_ref_count(f));
      if (shared) {
        a = (a | (arch::PMD_SIZE - 1));
        continue;
      }
      __split_huge_pmd(mm, pmd, a & ~(arch::PMD_SIZE - 1), cpu);
    }
    pteval_t* pte = pte_offset_map(mm, a);
    if (!pte || !pte_present(*pte) || pte_special(*pte) || !pte_hw_present(*pte)) continue;
    const folio f = page_folio(pte_pfn(*pte));
    const bool shared = scheme_->folio_maybe_mapped_shared(key(f));
    if (shadows_) shadows_->record(mapcount::decision_site::folio_mapped_shared, key(f), 0, folio_mapped_shared(f), folio_ref_count(f));
    if (shared) continue;
    if (folio_order(f) > 0) {
      if (folio_order(f) == arch::HPAGE_PMD_ORDER) vmstat_.count_vm_event(THP_SWPOUT_FALLBACK);
      ++mthp_.swpout_fallback[folio_order(f)];
      if (!split_folio(f, cpu)) continue;
    }
    pageout_one(mm, pte, a, cpu);
  }
  return 0;
}

}  // namespace mmsim::mm
