// madvise (Linux: mm/madvise.c). DONTNEED zaps the range (the next touch sees zeroes);
// POPULATE_READ/WRITE fault it in as GUP would; HUGEPAGE/NOHUGEPAGE change the VMA flags
// (splitting and merging VMAs); PAGEOUT reclaims to swap; COLLAPSE is in mm/khugepaged.cpp.
// Like Linux, a hole inside the range does not stop the advice on the mapped parts, but the
// call then fails with ENOMEM.
// Differs from Linux: PT_RECLAIM is not modelled, so DONTNEED leaves empty PTE tables.
#include "mm/kernel.hpp"
#include "mm/mman.hpp"

namespace mmsim::mm {

using arch::PAGE_SIZE;

// Linux: madvise_update_vma() over every VMA in [start, end). Returns -ENOMEM for a hole.
long kernel::madvise_update_vma_flags(mm_struct& mm, vaddr_t start, vaddr_t end,
                                      std::uint64_t set, std::uint64_t clear, unsigned cpu) {
  split_vma_at(mm, start, cpu);
  split_vma_at(mm, end, cpu);
  bool hole = false;
  vaddr_t cursor = start;
  for (auto it = mm.mmap.lower_bound(start); it != mm.mmap.end() && it->first < end; ++it) {
    vm_area_struct& vma = it->second;
    if (vma.vm_start > cursor) hole = true;
    vma.vm_flags = (vma.vm_flags & ~clear) | set;
    led_.charge(cpu, arch::cost::syscall, prof_.vma_op_cycles);
    if (set & VM_HUGEPAGE) khugepaged_enter_vma(mm, vma);
    cursor = vma.vm_end;
  }
  if (cursor < end || mm.mmap.lower_bound(start) == mm.mmap.end()) hole = true;
  try_merge_around(mm, start, end);
  return hole ? -E_NOMEM : 0;
}

long kernel::sys_madvise(task_struct& t, unsigned cpu, std::uint64_t start, std::uint64_t len,
                         int advice) {
  led_.charge(cpu, arch::cost::syscall, prof_.syscall_cycles);
  mm_struct& mm = *t.mm;
  if (advice != MADV_DONTNEED && advice != MADV_POPULATE_READ && advice != MADV_POPULATE_WRITE &&
      advice != MADV_HUGEPAGE && advice != MADV_NOHUGEPAGE && advice != MADV_COLLAPSE &&
      advice != MADV_PAGEOUT)
    return -E_INVAL;
  if (!arch::page_aligned(start)) return -E_INVAL;
  const std::uint64_t rounded = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  if (len && rounded == 0) return -E_INVAL;
  const vaddr_t end = start + rounded;
  if (end < start) return -E_INVAL;
  if (end == start) return 0;

  switch (advice) {
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE: return mm_populate(mm, start, end, advice == MADV_POPULATE_WRITE, cpu);
    case MADV_HUGEPAGE: return madvise_update_vma_flags(mm, start, end, VM_HUGEPAGE, VM_NOHUGEPAGE, cpu);
    case MADV_NOHUGEPAGE: return madvise_update_vma_flags(mm, start, end, VM_NOHUGEPAGE, VM_HUGEPAGE, cpu);
    case MADV_COLLAPSE: return madvise_collapse(mm, start, end, cpu);
    default: break;
  }

  // DONTNEED and PAGEOUT: walk the VMAs overlapping the range; remember holes.
  bool hole = false;
  vaddr_t cursor = start;
  mmu_gather tlb{&mm, cpu};
  auto it = mm.mmap.upper_bound(start);
  if (it != mm.mmap.begin() && std::prev(it)->second.vm_end > start) --it;
  for (; it != mm.mmap.end() && it->second.vm_start < end; ++it) {
    vm_area_struct& vma = it->second;
    if (vma.vm_start > cursor) hole = true;
    const vaddr_t s = std::max(start, vma.vm_start), e = std::min(end, vma.vm_end);
    if (advice == MADV_DONTNEED) zap_page_range(mm, s, e, tlb);
    else madvise_pageout(mm, vma, s, e, cpu);
    cursor = e;
  }
  if (cursor < end) hole = true;
  tlb_finish_mmu(tlb);
  return hole ? -E_NOMEM : 0;
}

}  // namespace mmsim::mm
