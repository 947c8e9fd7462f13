// madvise (Linux: mm/madvise.c). DONTNEED zaps the range (the next touch sees zeroes);
// POPULATE_READ/WRITE fault it in as GUP would. Like Linux, a hole inside the range does not
// stop the advice on the mapped parts, but the call then fails with E_NOMEM.
// Differs from Linux: PT_RECLAIM is not modelled, so DONTNEED leaves empty PTE tables.
#include "mm/kernel.hpp"
#include "mm/mman.hpp"

namespace mmsim::mm {

using arch::PAGE_SIZE;

long kernel::sys_madvise(task_struct& t, unsigned cpu, std::uint64_t start, std::uint64_t len,
                         int advice) {
  led_.charge(cpu, arch::cost::syscall, prof_.syscall_cycles);
  mm_struct& mm = *t.mm;
  if (advice != MADV_DONTNEED && advice != MADV_POPULATE_READ && advice != MADV_POPULATE_WRITE)
    return -E_INVAL;
  if (!arch::page_aligned(start)) return -E_INVAL;
  const std::uint64_t rounded = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  if (len && rounded == 0) return -E_INVAL;
  const vaddr_t end = start + rounded;
  if (end < start) return -E_INVAL;
  if (end == start) return 0;

  if (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE)
    return mm_populate(mm, start, end, advice == MADV_POPULATE_WRITE, cpu);

  // MADV_DONTNEED: walk the VMAs overlapping the range; remember holes.
  bool hole = false;
  vaddr_t cursor = start;
  mmu_gather tlb{&mm, cpu};
  auto it = mm.mmap.upper_bound(start);
  if (it != mm.mmap.begin() && std::prev(it)->second.vm_end > start) --it;
  for (; it != mm.mmap.end() && it->second.vm_start < end; ++it) {
    const vm_area_struct& vma = it->second;
    if (vma.vm_start > cursor) hole = true;
    const vaddr_t s = std::max(start, vma.vm_start), e = std::min(end, vma.vm_end);
    zap_page_range(mm, s, e, tlb);
    cursor = e;
  }
  if (cursor < end) hole = true;
  tlb_finish_mmu(tlb);
  return hole ? -E_NOMEM : 0;
}

}  // namespace mmsim::mm
