// The anonymous fault path (Linux 6.18: mm/memory.c). See mm/kernel.hpp for the split of
// memory.c into memory_zap.cpp and memory_fork.cpp.
// Differs from Linux: no swap, no NUMA hinting, no file or shared faults yet; THP and mTHP
// fault paths arrive with the THP issue (the PMD level is always a table here).
#include "mm/kernel.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;
using arch::cost;

// Linux: vma->vm_page_prot. A private mapping's base protection is read-only even when the
// VMA is writable; fault paths add write permission explicitly (protection_map, PAGE_COPY).
pteval_t kernel::mk_pte(pfn_t pfn, const vm_area_struct& vma) const {
  const bool r = vma.vm_flags & VM_READ, x = vma.vm_flags & VM_EXEC;
  const bool w_shared = (vma.vm_flags & VM_WRITE) && (vma.vm_flags & VM_SHARED);
  return pfn_pte(pfn, user_prot(r || (vma.vm_flags & VM_WRITE), w_shared, x));
}

// Linux: handle_mm_fault() -> __handle_mm_fault(): the PMD level first (THP), then PTEs (M47).
vm_fault_t kernel::handle_mm_fault(vm_area_struct& vma, mm_struct& mm, vaddr_t address,
                                   unsigned flags, unsigned cpu) {
  vmstat_.count_vm_event(PGFAULT);
  led_.charge(cpu, cost::fault, prof_.fault_path_cycles);
  vm_fault vmf{&mm, &vma, arch::page_align_down(address), flags, cpu};
  pteval_t* pmd = pmd_alloc_map(mm, vmf.address, cpu);
  if (!pmd) return VM_FAULT_OOM;
  if (*pmd == 0 && thp_vma_allowable_orders(vma, mm, 1ull << arch::HPAGE_PMD_ORDER, true) &&
      thp_vma_suitable_order(vma, vmf.address, arch::HPAGE_PMD_ORDER)) {
    khugepaged_enter_vma(mm, vma);
    const vm_fault_t r = do_huge_pmd_anonymous_page(vmf, pmd);
    if (!(r & VM_FAULT_FALLBACK)) return r;
  } else if (pmd_leaf(*pmd)) {
    if ((flags & FAULT_FLAG_WRITE) && !pte_write(*pmd)) {
      const vm_fault_t r = do_huge_pmd_wp_page(vmf, pmd);
      if (!(r & VM_FAULT_FALLBACK)) return r;
    } else {
      pteval_t e = pte_mkyoung(*pmd);  // huge_pmd_set_accessed
      if (flags & FAULT_FLAG_WRITE) e = pte_mkdirty(e);
      if (e != *pmd) set_pte(pmd, e, cpu);
      return 0;
    }
  }
  vmf.pte = pte_alloc_map(mm, pmd, vmf.address, cpu);
  if (!vmf.pte) return VM_FAULT_OOM;
  return handle_pte_fault(vmf);
}

// Linux: handle_pte_fault().
vm_fault_t kernel::handle_pte_fault(vm_fault& vmf) {
  vmf.orig_pte = *vmf.pte;
  if (pte_none(vmf.orig_pte)) return do_anonymous_page(vmf);
  if (is_swap_pte(vmf.orig_pte)) return do_swap_page(vmf);
  MM_BUG_ON(pte_protnone(vmf.orig_pte), "NUMA hinting fault without NUMA balancing");
  pteval_t entry = vmf.orig_pte;
  if (vmf.flags & FAULT_FLAG_WRITE) {
    if (!pte_write(entry)) return do_wp_page(vmf);
    entry = pte_mkdirty(entry);
  }
  entry = pte_mkyoung(entry);
  // ptep_set_access_flags: only an upgrade, so no flush is owed; an unchanged entry means the
  // fault was spurious (another CPU fixed it, or a stale TLB entry), and on x86 the #PF itself
  // already dropped the stale translation.
  if (entry != vmf.orig_pte) set_pte(vmf.pte, entry, vmf.cpu);
  return 0;
}

// Linux: alloc_anon_folio() (M55): the largest allowed mTHP order whose whole aligned range of
// PTEs is still none, falling back order by order; order 0 when nothing else fits.
std::optional<folio> kernel::alloc_anon_folio(vm_fault& vmf) {
  std::uint64_t orders = 0;
  for (unsigned o = MIN_MTHP_ORDER; o < arch::HPAGE_PMD_ORDER; ++o) orders |= 1ull << o;
  orders = thp_vma_allowable_orders(*vmf.vma, *vmf.mm, orders, true);
  for (unsigned o = arch::HPAGE_PMD_ORDER; o-- > MIN_MTHP_ORDER;) {
    if (!(orders & (1ull << o)) || !thp_vma_suitable_order(*vmf.vma, vmf.address, o)) continue;
    const unsigned nr = 1u << o;
    const vaddr_t start = vmf.address & ~((arch::PAGE_SIZE << o) - 1);
    const pteval_t* first = vmf.pte - ((vmf.address - start) >> arch::PAGE_SHIFT);
    bool all_none = true;
    for (unsigned i = 0; i < nr && all_none; ++i) all_none = pte_none(first[i]);
    if (!all_none) continue;
    if (auto f = folio_alloc(o, true, vmf.cpu)) {
      ++mthp_.anon_fault_alloc[o];
      return f;
    }
    ++mthp_.anon_fault_fallback[o];
  }
  return folio_alloc(0, true, vmf.cpu);
}

// Linux: do_anonymous_page(). A read maps the shared zero page; a write allocates a zeroed
// folio (order 0 or an mTHP), exclusive to this mm, and maps all of it at once.
vm_fault_t kernel::do_anonymous_page(vm_fault& vmf) {
  vm_area_struct& vma = *vmf.vma;
  if (!(vmf.flags & FAULT_FLAG_WRITE)) {
    const pteval_t entry = mk_pte(zero_pfn_, vma) | _PAGE_SPECIAL;
    set_pte(vmf.pte, entry, vmf.cpu);
    fault_kind_ = fault_kind::zero_page;
    return 0;
  }
  if (!vma.anon_vma) vma.anon_vma = next_anon_vma_++;  // anon_vma_prepare
  auto f = alloc_anon_folio(vmf);
  if (!f) return VM_FAULT_OOM;
  const unsigned nr = 1u << folio_order(*f);
  fault_kind_ = nr > 1 ? fault_kind::anon_mthp : fault_kind::anon;
  const vaddr_t start = vmf.address & ~((arch::PAGE_SIZE * nr) - 1);
  pteval_t* first = vmf.pte - ((vmf.address - start) >> arch::PAGE_SHIFT);
  folio_get(*f, nr - 1);  // one reference per PTE mapping (M33)
  folio_add_new_anon_rmap(*f, vma, start, *vmf.mm, vmf.cpu);
  add_mm_counter(*vmf.mm, MM_ANONPAGES, nr);
  for (unsigned i = 0; i < nr; ++i) {
    pteval_t entry = mk_pte(f->pfn + i, vma);
    if (vma.vm_flags & VM_WRITE) entry = pte_mkwrite(pte_mkdirty(entry));
    first[i] = entry;
  }
  led_.charge(vmf.cpu, cost::fault, prof_.pte_update_cycles * nr);
  return 0;
}

// Linux: wp_page_reuse(). Upgrading permissions owes no TLB flush.
void kernel::wp_page_reuse(vm_fault& vmf, folio f) {
  (void)f;
  fault_kind_ = fault_kind::wp_reuse;
  const pteval_t entry = pte_mkwrite(pte_mkdirty(pte_mkyoung(vmf.orig_pte)));
  set_pte(vmf.pte, entry, vmf.cpu);
}

// Linux: do_wp_page() for private anonymous memory (M69).
vm_fault_t kernel::do_wp_page(vm_fault& vmf) {
  const pfn_t pfn = pte_pfn(vmf.orig_pte);
  if (pte_special(vmf.orig_pte)) {
    MM_BUG_ON(pfn != zero_pfn_, "special PTE other than the zero page");
    return wp_page_copy(vmf, std::nullopt);
  }
  const folio f = page_folio(pfn);
  MM_BUG_ON(!folio_test_anon(f), "write fault on a non-anonymous folio");
  if (page_anon_exclusive(pfn)) {
    wp_page_reuse(vmf, f);
    return 0;
  }
  // wp_can_reuse_anon_folio(): a small folio whose only reference is this mapping may be
  // reused; it becomes exclusive to this mm again (folio_move_anon_rmap + PAE). A large folio
  // is reused only where the scheme allows it (6.15+, M20).
  bool reuse = false;
  if (folio_order(f) == 0) {
    reuse = folio_ref_count(f) == 1;
  } else {
    reuse = scheme_->can_reuse_large_anon_folio(key(f), folio_ref_count(f));
    if (shadows_) {
      long total = large_meta(f).entire_mapcount;
      for (unsigned i = 0; i < (1u << folio_order(f)); ++i) total += map_.peek(f.pfn + i)._mapcount;
      shadows_->record(mapcount::decision_site::cow_reuse, key(f), static_cast<unsigned>(pfn - f.pfn),
                       !folio_mapped_shared(f) && folio_ref_count(f) == total, folio_ref_count(f));
    }
  }
  if (reuse) {
    map_[pfn].set(PG_anon_exclusive);
    wp_page_reuse(vmf, f);
    return 0;
  }
  return wp_page_copy(vmf, f);
}

// Linux: wp_page_copy(). Copies (or zero-fills, for the zero page) into a new exclusive folio
// and replaces the old translation, flushing it first (ptep_clear_flush).
vm_fault_t kernel::wp_page_copy(vm_fault& vmf, std::optional<folio> old) {
  vm_area_struct& vma = *vmf.vma;
  if (!vma.anon_vma) vma.anon_vma = next_anon_vma_++;
  auto nf = folio_alloc(0, !old, vmf.cpu);
  if (!nf) return VM_FAULT_OOM;
  fault_kind_ = old ? fault_kind::cow_copy : fault_kind::cow_zero_page;
  const pfn_t old_pfn = pte_pfn(vmf.orig_pte);
  if (old) {
    mem_.word(nf->pfn) = mem_.word(old_pfn);
    led_.charge(vmf.cpu, cost::copy, prof_.copy_4k_cycles);
  }
  pteval_t entry = pte_mkwrite(pte_mkdirty(mk_pte(nf->pfn, vma)));
  *vmf.pte = 0;
  flush_tlb_page(*vmf.mm, vmf.address, vmf.cpu);
  folio_add_new_anon_rmap(*nf, vma, vmf.address, *vmf.mm, vmf.cpu);
  set_pte(vmf.pte, entry, vmf.cpu);
  if (old) {
    folio_remove_rmap_ptes(*old, old_pfn, 1, *vmf.mm, vmf.cpu);
    folio_put(*old, vmf.cpu);
  } else {
    add_mm_counter(*vmf.mm, MM_ANONPAGES, 1);
  }
  return 0;
}

}  // namespace mmsim::mm
