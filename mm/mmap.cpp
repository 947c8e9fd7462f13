// VMAs and address-space lifetime (Linux: mm/mmap.c, mm/vma.c). VMAs live in an ordered map
// keyed by vm_start; they split where an operation's range cuts them and merge again with
// compatible neighbours, as vma_merge does.
// Differs from Linux: only MAP_FIXED private anonymous mappings; no stack guard gaps.
#include "mm/kernel.hpp"
#include "mm/mman.hpp"

namespace mmsim::mm {

using arch::PAGE_SIZE;

std::uint64_t kernel::task_size() const {
  // TASK_SIZE_MAX: the top of the user half minus a guard page.
  return (1ull << (arch::x86_64::paging_levels(hw_.va_bits) == 5 ? 56 : 47)) - PAGE_SIZE;
}

const vm_area_struct* kernel::find_vma(const mm_struct& mm, vaddr_t addr) const {
  auto it = mm.mmap.upper_bound(addr);
  if (it == mm.mmap.begin()) return nullptr;
  --it;
  return addr < it->second.vm_end ? &it->second : nullptr;
}

mm_struct* kernel::mm_alloc(unsigned cpu) {
  std::uint32_t id = 1;
  for (auto& [used, m] : mms_) {
    if (used != id) break;
    ++id;
  }
  auto mm = std::make_unique<mm_struct>();
  mm->mm_id = id;
  auto pgd = alloc_pgtable_page(*mm, cpu);
  if (!pgd) return nullptr;
  mm->pgd = *pgd;
  mm_struct* raw = mm.get();
  mms_.emplace(id, std::move(mm));
  return raw;
}

void kernel::exit_mmap(mm_struct& mm, unsigned cpu) {
  mmu_gather tlb{&mm, cpu};
  for (auto& [start, vma] : mm.mmap) zap_page_range(mm, vma.vm_start, vma.vm_end, tlb);
  mm.mmap.clear();
  // fullmm: every translation of this PCID goes, on every CPU that ran it, so the id can be
  // handed to a new mm.
  tlb.start = 0;
  tlb.end = task_size();
  tlb.freed_tables = true;
  free_pgd(mm);
  tlb_finish_mmu(tlb);
}

void kernel::mmput(mm_struct* mm, unsigned cpu) {
  if (--mm->users > 0) return;
  khugepaged_exit(*mm);
  exit_mmap(*mm, cpu);
  if (mm->huge_zero_page) folio_put(*huge_zero_folio_, cpu);  // never reaches 0: the pin stays
  mms_.erase(mm->mm_id);
}

// Linux: __split_vma(). A huge PMD the new boundary cuts is split first
// (vma_adjust_trans_huge), so no PMD leaf ever straddles two VMAs.
void kernel::split_vma_at(mm_struct& mm, vaddr_t addr, unsigned cpu) {
  auto it = mm.mmap.upper_bound(addr);
  if (it == mm.mmap.begin()) return;
  vm_area_struct& vma = std::prev(it)->second;
  if (addr <= vma.vm_start || addr >= vma.vm_end) return;
  split_huge_pmd_address(mm, addr, cpu);
  vm_area_struct tail = vma;
  tail.vm_start = addr;
  tail.vm_pgoff = vma.vm_pgoff + ((addr - vma.vm_start) >> arch::PAGE_SHIFT);
  vma.vm_end = addr;
  mm.mmap.emplace(addr, tail);
}

namespace {
bool can_merge(const vm_area_struct& a, const vm_area_struct& b) {
  return a.vm_end == b.vm_start && a.vm_flags == b.vm_flags &&
         a.vm_pgoff + a.pages() == b.vm_pgoff &&
         (a.anon_vma == b.anon_vma || !a.anon_vma || !b.anon_vma);
}
}  // namespace

void kernel::try_merge_around(mm_struct& mm, vaddr_t start, vaddr_t end) {
  // Merge every adjacent compatible pair touching [start, end], left to right.
  auto it = mm.mmap.lower_bound(start);
  if (it != mm.mmap.begin()) --it;
  while (it != mm.mmap.end() && it->second.vm_start <= end) {
    auto next = std::next(it);
    if (next == mm.mmap.end()) break;
    if (can_merge(it->second, next->second)) {
      it->second.vm_end = next->second.vm_end;
      if (!it->second.anon_vma) it->second.anon_vma = next->second.anon_vma;
      mm.mmap.erase(next);
      continue;
    }
    it = next;
  }
}

long kernel::do_munmap(mm_struct& mm, vaddr_t start, std::uint64_t len, unsigned cpu) {
  if (!arch::page_aligned(start) || start > task_size() || len > task_size() - start)
    return -E_INVAL;
  len = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  if (len == 0) return -E_INVAL;
  const vaddr_t end = start + len;
  split_vma_at(mm, start, cpu);
  split_vma_at(mm, end, cpu);
  mmu_gather tlb{&mm, cpu};
  bool any = false;
  for (auto it = mm.mmap.lower_bound(start); it != mm.mmap.end() && it->first < end;) {
    zap_page_range(mm, it->second.vm_start, it->second.vm_end, tlb);
    it = mm.mmap.erase(it);
    led_.charge(cpu, arch::cost::syscall, prof_.vma_op_cycles);
    any = true;
  }
  if (any) {
    auto next = mm.mmap.lower_bound(end);
    const vaddr_t ceiling = next == mm.mmap.end() ? ~vaddr_t{0} : next->second.vm_start;
    auto prev = mm.mmap.lower_bound(start);
    const vaddr_t floor = prev == mm.mmap.begin() ? 0 : std::prev(prev)->second.vm_end;
    free_pgtables(mm, floor, ceiling, start, end);
    tlb.freed_tables = true;
  }
  tlb_finish_mmu(tlb);
  return 0;
}

long kernel::sys_munmap(task_struct& t, unsigned cpu, std::uint64_t addr, std::uint64_t len) {
  led_.charge(cpu, arch::cost::syscall, prof_.syscall_cycles);
  return do_munmap(*t.mm, addr, len, cpu);
}

long kernel::sys_mmap(task_struct& t, unsigned cpu, std::uint64_t addr, std::uint64_t len,
                      unsigned prot, unsigned flags) {
  led_.charge(cpu, arch::cost::syscall, prof_.syscall_cycles);
  mm_struct& mm = *t.mm;
  if (len == 0) return -E_INVAL;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return -E_INVAL;
  const std::uint64_t rounded = (len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  if (rounded == 0 || rounded > task_size()) return -E_NOMEM;
  const unsigned type = flags & (MAP_SHARED | MAP_PRIVATE);
  if (type != MAP_SHARED && type != MAP_PRIVATE) return -E_INVAL;
  if (type != MAP_PRIVATE || !(flags & MAP_ANONYMOUS) || !(flags & MAP_FIXED)) return -E_INVAL;
  if (!arch::page_aligned(addr)) return -E_INVAL;
  if (addr > task_size() - rounded) return -E_NOMEM;
  if (addr < knobs_.mmap_min_addr) return -E_PERM;
  do_munmap(mm, addr, rounded, cpu);  // MAP_FIXED replaces what was there
  vm_area_struct vma;
  vma.vm_start = addr;
  vma.vm_end = addr + rounded;
  vma.vm_flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT;
  if (prot & PROT_READ) vma.vm_flags |= VM_READ;
  if (prot & PROT_WRITE) vma.vm_flags |= VM_WRITE;
  if (prot & PROT_EXEC) vma.vm_flags |= VM_EXEC;
  vma.vm_pgoff = addr >> arch::PAGE_SHIFT;
  mm.mmap.emplace(addr, vma);
  led_.charge(cpu, arch::cost::syscall, prof_.vma_op_cycles);
  try_merge_around(mm, addr, addr + rounded);
  khugepaged_enter_vma(mm, *find_vma(mm, addr));  // Linux: __mmap_region -> khugepaged_enter_vma
  if (flags & MAP_POPULATE) mm_populate(mm, addr, addr + rounded, prot & PROT_WRITE, cpu);
  return static_cast<long>(addr);
}

// Linux: faultin_page_range: fault in what a GUP walk would, with no trap (the kernel walks
// the tables itself). Errors follow madvise_populate (6.9+): no VMA or no memory is ENOMEM,
// an inaccessible VMA or a write to a read-only one EINVAL, a fault ending in a signal EFAULT.
long kernel::mm_populate(mm_struct& mm, vaddr_t start, vaddr_t end, bool write, unsigned cpu) {
  for (vaddr_t a = start; a < end; a += PAGE_SIZE) {
    auto it = mm.mmap.upper_bound(a);
    if (it == mm.mmap.begin()) return -E_NOMEM;
    vm_area_struct& vma = std::prev(it)->second;
    if (a >= vma.vm_end) return -E_NOMEM;
    if (!(vma.vm_flags & (VM_READ | VM_WRITE | VM_EXEC))) return -E_INVAL;
    if (write && !(vma.vm_flags & VM_WRITE)) return -E_INVAL;
    // follow_page(): a PMD leaf answers for its whole 2M, so a populated THP costs no fault.
    const leaf_info leaf = follow_page(mm, a);
    if (leaf.present && !arch::x86_64::pte_protnone(leaf.entry) &&
        (!write || arch::x86_64::pte_write(leaf.entry))) {
      if (leaf.level == arch::pt_level::pmd) a |= arch::PMD_SIZE - 1;  // the loop steps past it
      continue;
    }
    const vm_fault_t r = handle_mm_fault(vma, mm, a, write ? FAULT_FLAG_WRITE | FAULT_FLAG_REMOTE
                                                           : FAULT_FLAG_REMOTE, cpu);
    if (r & VM_FAULT_OOM) return -E_NOMEM;
    if (r & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)) return -E_FAULT;
  }
  return 0;
}

}  // namespace mmsim::mm
