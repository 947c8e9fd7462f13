// Transparent huge pages, anonymous (Linux 6.18: mm/huge_memory.c): PMD faults, the huge zero
// page, write faults on huge PMDs, PMD split, zap, fork and deposited page tables (M47-M68).
// Folio split and the deferred-split queue are in mm/huge_memory_split.cpp.
// Differs from Linux: no memcg (no charge failures), no compaction (an order-9 allocation
// fails when the buddy allocator has no free 2M block), no PUD THP, no file THP.
#include "mm/kernel.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;
using arch::cost;
using arch::HPAGE_PMD_NR;
using arch::PMD_SIZE;

// Linux: thp_vma_allowable_orders() / __thp_vma_allowable_orders() for anonymous VMAs (M43,
// M44). `orders` is a bit mask of candidate orders.
std::uint64_t kernel::thp_vma_allowable_orders(const vm_area_struct& vma, const mm_struct& mm,
                                               std::uint64_t orders, bool enforce_sysfs) const {
  if (mm.thp_disabled || (vma.vm_flags & VM_NOHUGEPAGE)) return 0;
  if (!enforce_sysfs) return orders;
  const bool advised = vma.vm_flags & VM_HUGEPAGE;
  const bool inherit_ok = knobs_.thp_enabled == thp_mode::always ||
                          (knobs_.thp_enabled == thp_mode::madvise && advised);
  std::uint64_t allowed = 0;
  for (unsigned o = MIN_MTHP_ORDER; o <= MAX_MTHP_ORDER; ++o) {
    if (!(orders & (1ull << o))) continue;
    const mthp_mode m = knobs_.mthp_enabled[o];
    if (m == mthp_mode::always || (m == mthp_mode::madvise && advised) ||
        (m == mthp_mode::inherit && inherit_ok))
      allowed |= 1ull << o;
  }
  return allowed;
}

// Linux: thp_vma_suitable_order(): the aligned folio range must lie inside the VMA (M45).
bool kernel::thp_vma_suitable_order(const vm_area_struct& vma, vaddr_t addr, unsigned order) const {
  const std::uint64_t size = arch::PAGE_SIZE << order;
  const vaddr_t haddr = addr & ~(size - 1);
  return haddr >= vma.vm_start && haddr + size <= vma.vm_end;
}

// Linux: vma_thp_gfp_mask() reduced to what mmsim models: may this allocation reclaim (here:
// run the deferred-split shrinker) before giving up? (M50)
bool kernel::thp_alloc_may_reclaim(const vm_area_struct& vma) const {
  const bool advised = vma.vm_flags & VM_HUGEPAGE;
  switch (knobs_.defrag) {
    case thp_defrag::always: return true;
    case thp_defrag::defer_madvise:
    case thp_defrag::madvise: return advised;
    case thp_defrag::defer:
    case thp_defrag::never: break;
  }
  return false;
}

pteval_t* kernel::pmd_offset_map(const mm_struct& mm, vaddr_t addr) const {
  pfn_t table = mm.pgd;
  for (auto l = static_cast<int>(top_level()); l > 1; --l) {
    const pteval_t e = mem_.table(table)[pt_index(addr, static_cast<arch::pt_level>(l))];
    if (!pte_present(e) || (e & _PAGE_PSE)) return nullptr;
    table = pte_pfn(e);
  }
  return &mem_.table(table)[pt_index(addr, arch::pt_level::pmd)];
}

pteval_t* kernel::pmd_alloc_map(mm_struct& mm, vaddr_t addr, unsigned cpu) {
  pfn_t table = mm.pgd;
  for (auto l = static_cast<int>(top_level()); l > 1; --l) {
    pteval_t& e = mem_.table(table)[pt_index(addr, static_cast<arch::pt_level>(l))];
    if (e == 0) {
      auto t = alloc_pgtable_page(mm, cpu);
      if (!t) return nullptr;
      e = pfn_pte(*t, _PAGE_TABLE);
    }
    table = pte_pfn(e);
  }
  return &mem_.table(table)[pt_index(addr, arch::pt_level::pmd)];
}

// A PMD leaf keeps a pre-allocated PTE table so that splitting it can never fail (M61).
void kernel::pgtable_trans_huge_deposit(mm_struct& mm, vaddr_t haddr, pfn_t table) {
  MM_BUG_ON(mm.deposited.count(haddr), "two tables deposited under one PMD");
  mm.deposited[haddr] = table;
}
pfn_t kernel::pgtable_trans_huge_withdraw(mm_struct& mm, vaddr_t haddr) {
  auto it = mm.deposited.find(haddr);
  MM_BUG_ON(it == mm.deposited.end(), "no table deposited under a PMD leaf");
  const pfn_t t = it->second;
  mm.deposited.erase(it);
  return t;
}

// Linux: mm_get_huge_zero_folio(). Allocated on first use; each mm that maps it holds one
// reference on top of the shrinker's (M33).
std::optional<folio> kernel::get_huge_zero_folio(mm_struct& mm, unsigned cpu) {
  if (!huge_zero_folio_) {
    auto f = folio_alloc(arch::HPAGE_PMD_ORDER, true, cpu);
    if (!f) {
      vmstat_.count_vm_event(THP_ZERO_PAGE_ALLOC_FAILED);
      return std::nullopt;
    }
    --nr_folios_;  // not an anonymous folio: kept out of the folio census
    map_[f->pfn].set(PG_reserved);
    vmstat_.count_vm_event(THP_ZERO_PAGE_ALLOC);
    huge_zero_folio_ = f;
  }
  if (!mm.huge_zero_page) {
    mm.huge_zero_page = true;
    folio_get(*huge_zero_folio_);
  }
  return huge_zero_folio_;
}

std::optional<folio> kernel::vma_alloc_anon_folio_pmd(vm_fault& vmf) {
  auto f = folio_alloc(arch::HPAGE_PMD_ORDER, true, vmf.cpu);
  if (!f && thp_alloc_may_reclaim(*vmf.vma) && deferred_split_scan(vmf.cpu))
    f = folio_alloc(arch::HPAGE_PMD_ORDER, true, vmf.cpu);
  if (!f) {
    vmstat_.count_vm_event(THP_FAULT_FALLBACK);
    ++mthp_.anon_fault_fallback[arch::HPAGE_PMD_ORDER];
    return std::nullopt;
  }
  return f;
}

// Linux: map_anon_folio_pmd_pf(). The deposited table must already be in place.
void kernel::map_anon_folio_pmd(vm_fault& vmf, pteval_t* pmd, folio f) {
  const vaddr_t haddr = vmf.address & ~(PMD_SIZE - 1);
  pteval_t entry = mk_pte(f.pfn, *vmf.vma) | _PAGE_PSE;
  if (vmf.vma->vm_flags & VM_WRITE) entry = pte_mkwrite(pte_mkdirty(entry));
  if (!vmf.vma->anon_vma) vmf.vma->anon_vma = next_anon_vma_++;
  folio_add_new_anon_rmap_pmd(f, haddr, *vmf.mm, vmf.cpu);
  add_mm_counter(*vmf.mm, MM_ANONPAGES, HPAGE_PMD_NR);
  set_pte(pmd, entry, vmf.cpu);
  vmstat_.count_vm_event(THP_FAULT_ALLOC);
  ++mthp_.anon_fault_alloc[arch::HPAGE_PMD_ORDER];
  fault_kind_ = fault_kind::anon_thp;
}

// Linux: do_huge_pmd_anonymous_page() (M48, M49).
vm_fault_t kernel::do_huge_pmd_anonymous_page(vm_fault& vmf, pteval_t* pmd) {
  const vaddr_t haddr = vmf.address & ~(PMD_SIZE - 1);
  mm_struct& mm = *vmf.mm;
  if (!(vmf.flags & FAULT_FLAG_WRITE) && knobs_.thp_use_zero_page) {
    auto table = alloc_pgtable_page(mm, vmf.cpu);
    if (!table) return VM_FAULT_OOM;
    auto zf = get_huge_zero_folio(mm, vmf.cpu);
    if (!zf) {
      free_pgtable_page(mm, *table);
      vmstat_.count_vm_event(THP_FAULT_FALLBACK);
      ++mthp_.anon_fault_fallback[arch::HPAGE_PMD_ORDER];
      return VM_FAULT_FALLBACK;
    }
    pgtable_trans_huge_deposit(mm, haddr, *table);
    set_pte(pmd, pte_wrprotect(mk_pte(zf->pfn, *vmf.vma)) | _PAGE_PSE | _PAGE_SPECIAL, vmf.cpu);
    fault_kind_ = fault_kind::huge_zero_page;
    return 0;
  }
  auto f = vma_alloc_anon_folio_pmd(vmf);
  if (!f) return VM_FAULT_FALLBACK;
  auto table = alloc_pgtable_page(mm, vmf.cpu);
  if (!table) {
    folio_put(*f, vmf.cpu);
    return VM_FAULT_OOM;
  }
  pgtable_trans_huge_deposit(mm, haddr, *table);
  map_anon_folio_pmd(vmf, pmd, *f);
  return 0;
}

// Linux: do_huge_zero_wp_pmd() (6.13+, M52): replace the huge zero PMD with a new THP, reusing
// the deposited table; split to 4K only if the allocation fails.
vm_fault_t kernel::do_huge_zero_wp_pmd(vm_fault& vmf, pteval_t* pmd) {
  const vaddr_t haddr = vmf.address & ~(PMD_SIZE - 1);
  auto f = vma_alloc_anon_folio_pmd(vmf);
  if (!f) {
    __split_huge_pmd(*vmf.mm, pmd, haddr, vmf.cpu);
    return VM_FAULT_FALLBACK;
  }
  *pmd = 0;  // pmdp_huge_clear_flush
  flush_tlb_mm_range(*vmf.mm, haddr, haddr + PMD_SIZE, vmf.cpu, false);
  map_anon_folio_pmd(vmf, pmd, *f);
  return 0;
}

// Linux: do_huge_pmd_wp_page() (M68): reuse when exclusive, otherwise split only this mm's PMD
// and let the PTE-level fault copy (or, 6.15+, reuse) the one 4K page.
vm_fault_t kernel::do_huge_pmd_wp_page(vm_fault& vmf, pteval_t* pmd) {
  const vaddr_t haddr = vmf.address & ~(PMD_SIZE - 1);
  const pteval_t orig = *pmd;
  if (pte_special(orig)) {
    if (knobs_.huge_zero_wp == huge_zero_wp_mode::allocate) return do_huge_zero_wp_pmd(vmf, pmd);
    __split_huge_pmd(*vmf.mm, pmd, haddr, vmf.cpu);  // <= 6.12: shatter to zero-page PTEs (M51)
    return VM_FAULT_FALLBACK;
  }
  const folio f = page_folio(pte_pfn(orig));
  if (!page_anon_exclusive(f.pfn) && folio_ref_count(f) == 1) map_[f.pfn].set(PG_anon_exclusive);
  if (page_anon_exclusive(f.pfn)) {
    set_pte(pmd, pte_mkwrite(pte_mkdirty(pte_mkyoung(orig))), vmf.cpu);
    fault_kind_ = fault_kind::thp_wp_reuse;
    return 0;
  }
  __split_huge_pmd(*vmf.mm, pmd, haddr, vmf.cpu);
  return VM_FAULT_FALLBACK;
}

// Linux: __split_huge_pmd_locked() (M58, M59). The PMD is made non-present and flushed before
// any PTE is written, so no CPU ever holds a 2M and a 4K translation for one address (M146).
void kernel::__split_huge_pmd(mm_struct& mm, pteval_t* pmd, vaddr_t haddr, unsigned cpu) {
  const pteval_t orig = *pmd;
  vmstat_.count_vm_event(THP_SPLIT_PMD);
  *pmd = 0;
  flush_tlb_mm_range(mm, haddr, haddr + PMD_SIZE, cpu, false);
  const pfn_t table = pgtable_trans_huge_withdraw(mm, haddr);
  auto& t = mem_.table(table);
  const pteval_t flags = (orig & ~PTE_PFN_MASK) & ~_PAGE_PSE;
  if (pte_special(orig)) {
    for (unsigned i = 0; i < HPAGE_PMD_NR; ++i) t[i] = pfn_pte(zero_pfn_, flags);
  } else {
    const folio f = page_folio(pte_pfn(orig));
    const bool exclusive = page_anon_exclusive(f.pfn);
    folio_get(f, HPAGE_PMD_NR - 1);
    folio_add_anon_rmap_ptes(f, f.pfn, HPAGE_PMD_NR, mm, exclusive, cpu);
    if (!exclusive)
      for (unsigned i = 0; i < HPAGE_PMD_NR; ++i) map_[f.pfn + i].clear(PG_anon_exclusive);
    for (unsigned i = 0; i < HPAGE_PMD_NR; ++i) t[i] = pfn_pte(f.pfn + i, flags);
    folio_remove_rmap_pmd(f, mm, cpu);
  }
  led_.charge(cpu, cost::fault, prof_.pte_update_cycles * HPAGE_PMD_NR);
  *pmd = pfn_pte(table, _PAGE_TABLE);
}

// Splits the PMD leaf covering `addr` if `addr` cuts it (VMA boundaries, partial ranges).
void kernel::split_huge_pmd_address(mm_struct& mm, vaddr_t addr, unsigned cpu) {
  if ((addr & (PMD_SIZE - 1)) == 0) return;
  pteval_t* pmd = pmd_offset_map(mm, addr);
  if (pmd && pmd_leaf(*pmd)) __split_huge_pmd(mm, pmd, addr & ~(PMD_SIZE - 1), cpu);
}

// Linux: zap_huge_pmd() (M62): a whole PMD goes at once, no split.
void kernel::zap_huge_pmd(mm_struct& mm, pteval_t* pmd, vaddr_t haddr, mmu_gather& tlb) {
  const pteval_t orig = *pmd;
  *pmd = 0;
  tlb.start = std::min(tlb.start, haddr);
  tlb.end = std::max(tlb.end, haddr + PMD_SIZE);
  free_pgtable_page(mm, pgtable_trans_huge_withdraw(mm, haddr));
  if (pte_special(orig)) return;
  const folio f = page_folio(pte_pfn(orig));
  folio_remove_rmap_pmd(f, mm, tlb.cpu);
  add_mm_counter(mm, MM_ANONPAGES, -static_cast<long>(HPAGE_PMD_NR));
  tlb.pending.push_back(f);
}

// Linux: copy_huge_pmd() (M66).
bool kernel::copy_huge_pmd(mm_struct& dst, pteval_t* src_pmd, vaddr_t haddr,
                           const vm_area_struct& vma, unsigned cpu) {
  pteval_t* dpmd = pmd_alloc_map(dst, haddr, cpu);
  auto table = dpmd ? alloc_pgtable_page(dst, cpu) : std::nullopt;
  if (!table) return false;
  pgtable_trans_huge_deposit(dst, haddr, *table);
  pteval_t e = *src_pmd;
  if (pte_special(e)) {
    get_huge_zero_folio(dst, cpu);
  } else {
    const folio f = page_folio(pte_pfn(e));
    folio_get(f);
    folio_try_dup_anon_rmap_pmd(f, dst, cpu);
    add_mm_counter(dst, MM_ANONPAGES, HPAGE_PMD_NR);
    if ((vma.vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE && pte_write(e)) {
      e = pte_wrprotect(e);
      *src_pmd = e;
    }
  }
  set_pte(dpmd, pte_mkold(e), cpu);
  return true;
}

}  // namespace mmsim::mm
