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

// Linux: handle_mm_fault() -> __handle_mm_fault().
vm_fault_t kernel::handle_mm_fault(vm_area_struct& vma, mm_struct& mm, vaddr_t address,
                                   unsigned flags, unsigned cpu) {
  vmstat_.count_vm_event(PGFAULT);
  led_.charge(cpu, cost::fault, prof_.fault_path_cycles);
  vm_fault vmf{&mm, &vma, arch::page_align_down(address), flags, cpu};
  vmf.pte = pte_alloc_map(mm, vmf.address, cpu);
  if (!vmf.pte) return VM_FAULT_OOM;
  return handle_pte_fault(vmf);
}

// Linux: handle_pte_fault().
vm_fault_t kernel::handle_pte_fault(vm_fault& vmf) {
  vmf.orig_pte = *vmf.pte;
  if (pte_none(vmf.orig_pte)) return do_anonymous_page(vmf);
  MM_BUG_ON(!pte_present(vmf.orig_pte), "non-present, non-none PTE without swap support");
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

// Linux: do_anonymous_page(). A read maps the shared zero page; a write allocates a zeroed
// folio, exclusive to this mm.
vm_fault_t kernel::do_anonymous_page(vm_fault& vmf) {
  vm_area_struct& vma = *vmf.vma;
  if (!(vmf.flags & FAULT_FLAG_WRITE)) {
    const pteval_t entry = mk_pte(zero_pfn_, vma) | _PAGE_SPECIAL;
    set_pte(vmf.pte, entry, vmf.cpu);
    return 0;
  }
  if (!vma.anon_vma) vma.anon_vma = next_anon_vma_++;  // anon_vma_prepare
  auto f = folio_alloc(0, true, vmf.cpu);
  if (!f) return VM_FAULT_OOM;
  pteval_t entry = mk_pte(f->pfn, vma);
  if (vma.vm_flags & VM_WRITE) entry = pte_mkwrite(pte_mkdirty(entry));
  folio_add_new_anon_rmap(*f, vma, *vmf.mm, vmf.cpu);
  add_mm_counter(*vmf.mm, MM_ANONPAGES, 1);
  set_pte(vmf.pte, entry, vmf.cpu);
  return 0;
}

// Linux: wp_page_reuse(). Upgrading permissions owes no TLB flush.
void kernel::wp_page_reuse(vm_fault& vmf, folio f) {
  (void)f;
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
  // reused; it becomes exclusive to this mm again (folio_move_anon_rmap + PAE).
  if (folio_order(f) == 0 && folio_ref_count(f) == 1) {
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
  const pfn_t old_pfn = pte_pfn(vmf.orig_pte);
  if (old) {
    mem_.word(nf->pfn) = mem_.word(old_pfn);
    led_.charge(vmf.cpu, cost::copy, prof_.copy_4k_cycles);
  }
  pteval_t entry = pte_mkwrite(pte_mkdirty(mk_pte(nf->pfn, vma)));
  *vmf.pte = 0;
  flush_tlb_page(*vmf.mm, vmf.address, vmf.cpu);
  folio_add_new_anon_rmap(*nf, vma, *vmf.mm, vmf.cpu);
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
