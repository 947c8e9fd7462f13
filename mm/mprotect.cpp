// mprotect (Linux: mm/mprotect.c do_mprotect_pkey, change_protection). VMAs are split at the
// range's ends, their flags changed, the PTEs rewritten, and the TLB flushed when a permission
// went away. Like Linux, a hole stops the walk with E_NOMEM after the VMAs before it changed.
#include "mm/kernel.hpp"
#include "mm/mman.hpp"
#include "mm/pagewalk.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;
using arch::PAGE_SIZE;

// Linux: change_pte_range(). In a private mapping an exclusive anonymous page may become
// writable at once (can_change_pte_writable: the write fault would reuse it anyway); anything
// else stays read-only and takes a write fault later.
void kernel::change_protection(mm_struct& mm, vm_area_struct& vma, vaddr_t start, vaddr_t end,
                               unsigned cpu) {
  const pteval_t base = mk_pte(0, vma);
  vaddr_t flush_start = ~vaddr_t{0}, flush_end = 0;
  auto change = [&](arch::pt_table& t, unsigned first, unsigned last, vaddr_t va) {
    for (unsigned i = first; i < last; ++i, va += PAGE_SIZE) {
      const pteval_t old = t[i];
      if (!pte_present(old)) continue;  // none or swap: nothing to change
      pteval_t e = pte_modify(old, base);
      if ((vma.vm_flags & VM_WRITE) && pte_hw_present(e) && !pte_special(e) &&
          page_anon_exclusive(pte_pfn(e)))
        e = pte_mkwrite(e);
      if (e == old) continue;
      t[i] = e;
      led_.charge(cpu, arch::cost::fault, prof_.pte_update_cycles);
      const bool lost = (pte_write(old) && !pte_write(e)) || (pte_hw_present(old) && !pte_hw_present(e)) ||
                        (pte_exec(old) && !pte_exec(e));
      if (lost) {
        flush_start = std::min(flush_start, va);
        flush_end = std::max(flush_end, va + PAGE_SIZE);
      }
    }
  };
  // Linux: change_huge_pmd(). Partly covered PMDs were split with the VMA boundaries.
  auto huge = [&](pteval_t& pmd, arch::pt_level, vaddr_t haddr) {
    const pteval_t old = pmd;
    pteval_t e = pte_modify(old, base) | _PAGE_PSE;
    if ((vma.vm_flags & VM_WRITE) && pte_hw_present(e) && !pte_special(e) && page_anon_exclusive(pte_pfn(e)))
      e = pte_mkwrite(e);
    if (e == old) return;
    pmd = e;
    if ((pte_write(old) && !pte_write(e)) || (pte_hw_present(old) && !pte_hw_present(e)) ||
        (pte_exec(old) && !pte_exec(e))) {
      flush_start = std::min(flush_start, haddr);
      flush_end = std::max(flush_end, haddr + arch::PMD_SIZE);
    }
  };
  walk_page_range(mem_, mm.pgd, top_level(), 0, start, end, change, huge);
  if (flush_end > flush_start) flush_tlb_mm_range(mm, flush_start, flush_end, cpu, false);
}

long kernel::sys_mprotect(task_struct& t, unsigned cpu, std::uint64_t start, std::uint64_t len,
                          unsigned prot) {
  led_.charge(cpu, arch::cost::syscall, prof_.syscall_cycles);
  mm_struct& mm = *t.mm;
  if (!arch::page_aligned(start)) return -E_INVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return -E_INVAL;
  if (len == 0) return 0;
  len = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  const vaddr_t end = start + len;
  if (len == 0 || end <= start) return -E_NOMEM;
  const vm_area_struct* first = find_vma(mm, start);
  if (!first) return -E_NOMEM;
  std::uint64_t newflags = 0;
  if (prot & PROT_READ) newflags |= VM_READ;
  if (prot & PROT_WRITE) newflags |= VM_WRITE;
  if (prot & PROT_EXEC) newflags |= VM_EXEC;
  split_vma_at(mm, start, cpu);
  long err = 0;
  vaddr_t nstart = start;
  while (nstart < end) {
    auto it = mm.mmap.find(nstart);
    if (it == mm.mmap.end()) {
      err = -E_NOMEM;
      break;
    }
    split_vma_at(mm, end, cpu);
    vm_area_struct& vma = it->second;
    vma.vm_flags = (vma.vm_flags & ~(VM_READ | VM_WRITE | VM_EXEC)) | newflags;
    led_.charge(cpu, arch::cost::syscall, prof_.vma_op_cycles);
    change_protection(mm, vma, vma.vm_start, vma.vm_end, cpu);
    nstart = vma.vm_end;
  }
  try_merge_around(mm, start, std::min(nstart, end));
  return err;
}

}  // namespace mmsim::mm
