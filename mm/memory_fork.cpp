// Copying an address space at fork (Linux: kernel/fork.c dup_mmap, mm/memory.c
// copy_page_range / copy_present_ptes). Anonymous pages become shared: PageAnonExclusive is
// cleared, the child takes a reference and a mapping, and in CoW mappings both sides are
// write-protected. The parent's TLB is flushed once at the end (flush_tlb_mm).
// Differs from Linux: no GUP pins exist, so the eager-copy path for pinned pages never runs.
#include "mm/kernel.hpp"
#include "mm/pagewalk.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;

namespace {
bool is_cow_mapping(std::uint64_t flags) { return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE; }
}  // namespace

bool kernel::copy_page_range(mm_struct& dst, mm_struct& src, const vm_area_struct& vma,
                             unsigned cpu) {
  const bool cow = is_cow_mapping(vma.vm_flags);
  bool ok = true;
  auto copy_ptes = [&](arch::pt_table& t, unsigned first, unsigned last, vaddr_t va) {
    for (unsigned i = first; i < last && ok;) {
      const vaddr_t a = va + static_cast<vaddr_t>(i - first) * arch::PAGE_SIZE;
      pteval_t e = t[i];
      if (pte_none(e)) {
        ++i;
        continue;
      }
      pteval_t* d = pte_alloc_map(dst, a, cpu);
      if (!d) {
        ok = false;
        break;
      }
      if (is_swap_pte(e)) {  // copy_nonpresent_pte: the child shares the slot, nobody is exclusive
        swap_duplicate(pte_swp_offset(e));
        e &= ~_PAGE_SWP_EXCLUSIVE;
        t[i] = e;
        set_pte(d, e, cpu);
        add_mm_counter(dst, MM_SWAPENTS, 1);
        ++i;
        continue;
      }
      unsigned n = 1;
      if (!pte_special(e)) {
        // A batch: consecutive PTEs mapping consecutive pages of one folio (folio_pte_batch).
        const pfn_t pfn = pte_pfn(e);
        const folio f = page_folio(pfn);
        const pfn_t folio_end = f.pfn + (pfn_t{1} << folio_order(f));
        while (i + n < last && pfn + n < folio_end && pte_present(t[i + n]) && !pte_special(t[i + n]) &&
               pte_pfn(t[i + n]) == pfn + n && (n + (a >> arch::PAGE_SHIFT) % arch::PTRS_PER_TABLE) < arch::PTRS_PER_TABLE)
          ++n;
        folio_get(f, n);
        folio_try_dup_anon_rmap_ptes(f, pfn, n, dst, cpu);
        add_mm_counter(dst, MM_ANONPAGES, n);
      }
      for (unsigned k = 0; k < n; ++k) {
        pteval_t x = t[i + k];
        if (cow && pte_write(x)) {
          x = pte_wrprotect(x);
          t[i + k] = x;  // ptep_set_wrprotect on the parent
        }
        set_pte(d + k, pte_mkold(x), cpu);
      }
      i += n;
    }
  };
  auto huge = [&](pteval_t& pmd, arch::pt_level level, vaddr_t haddr) {
    MM_BUG_ON(level != arch::pt_level::pmd, "PUD leaves are not modelled");
    if (ok && !copy_huge_pmd(dst, &pmd, haddr, vma, cpu)) ok = false;
  };
  walk_page_range(mem_, src.pgd, top_level(), 0, vma.vm_start, vma.vm_end, copy_ptes, huge);
  return ok;
}

long kernel::dup_mmap(mm_struct& dst, mm_struct& src, unsigned cpu) {
  for (auto& [start, vma] : src.mmap) {
    vm_area_struct child = vma;
    // anon_vma_fork: the child gets its own anon_vma, linked to the parent's.
    if (vma.anon_vma) child.anon_vma = next_anon_vma_++;
    dst.mmap.emplace(start, child);
    led_.charge(cpu, arch::cost::syscall, prof_.vma_op_cycles);
    // vma_needs_copy: only VMAs with an anon_vma have anything to copy.
    if (vma.anon_vma && !copy_page_range(dst, src, vma, cpu)) {
      flush_tlb_mm_range(src, 0, task_size(), cpu, false);
      return -E_NOMEM;
    }
  }
  flush_tlb_mm_range(src, 0, task_size(), cpu, false);
  return 0;
}

}  // namespace mmsim::mm
