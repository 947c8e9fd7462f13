// Page-table pages: allocation on demand (Linux: __pte_alloc, __pmd_alloc, ...), lookups, and
// freeing of tables no VMA needs any more (Linux: free_pgtables / free_pgd_range). Tables are
// real 4 KiB frames from the buddy allocator holding 512 entries in the arch's format.
#include "mm/kernel.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;
using arch::pt_level;

pt_level kernel::top_level() const {
  return static_cast<pt_level>(paging_levels(hw_.va_bits) - 1);
}

void kernel::set_pte(pteval_t* slot, pteval_t v, unsigned cpu) {
  *slot = v;
  led_.charge(cpu, arch::cost::fault, prof_.pte_update_cycles);
}

pteval_t* kernel::pte_offset_map(const mm_struct& mm, vaddr_t addr) const {
  pfn_t table = mm.pgd;
  for (auto l = static_cast<int>(top_level()); l > 0; --l) {
    const pteval_t e = mem_.table(table)[pt_index(addr, static_cast<pt_level>(l))];
    if (!pte_present(e) || (e & _PAGE_PSE)) return nullptr;
    table = pte_pfn(e);
  }
  return &mem_.table(table)[pt_index(addr, pt_level::pte)];
}

pteval_t* kernel::pte_alloc_map(mm_struct& mm, vaddr_t addr, unsigned cpu) {
  return pte_alloc_map(mm, pmd_alloc_map(mm, addr, cpu), addr, cpu);
}

pteval_t* kernel::pte_alloc_map(mm_struct& mm, pteval_t* pmd, vaddr_t addr, unsigned cpu) {
  if (!pmd) return nullptr;
  if (*pmd == 0) {
    auto t = alloc_pgtable_page(mm, cpu);
    if (!t) return nullptr;
    *pmd = pfn_pte(*t, _PAGE_TABLE);
  }
  MM_BUG_ON(*pmd & _PAGE_PSE, "huge leaf where a PTE table is needed");
  return &mem_.table(pte_pfn(*pmd))[pt_index(addr, pt_level::pte)];
}

// `table` holds entries of `level`, the first covering `base`. Descends into child tables that
// intersect [start, end) and frees those lying entirely inside [floor, ceiling): Linux's
// free_pgd_range rule, so a table shared with a neighbouring VMA stays.
void kernel::free_table_range(mm_struct& mm, pfn_t table, pt_level level, vaddr_t base,
                              vaddr_t floor, vaddr_t ceiling, vaddr_t start, vaddr_t end) {
  if (level == pt_level::pte) return;
  const std::uint64_t span = arch::level_size(level);
  const auto child = static_cast<pt_level>(static_cast<unsigned>(level) - 1);
  auto& t = mem_.table(table);
  for (unsigned i = 0; i < arch::PTRS_PER_TABLE; ++i) {
    const vaddr_t lo = base + i * span, hi = lo + span;
    if (hi <= start || lo >= end) continue;
    pteval_t& e = t[i];
    if (!pte_present(e) || (e & _PAGE_PSE)) continue;
    const pfn_t sub = pte_pfn(e);
    free_table_range(mm, sub, child, lo, floor, ceiling, start, end);
    if (lo >= floor && hi <= ceiling) {
      for (pteval_t x : mem_.table(sub)) MM_BUG_ON(x != 0, "freeing a page table that still maps");
      free_pgtable_page(mm, sub);
      e = 0;
    }
  }
}

void kernel::free_pgtables(mm_struct& mm, vaddr_t floor, vaddr_t ceiling, vaddr_t start,
                           vaddr_t end) {
  free_table_range(mm, mm.pgd, top_level(), 0, floor, ceiling, start, end);
}

void kernel::free_pgd(mm_struct& mm) {
  free_table_range(mm, mm.pgd, top_level(), 0, 0, ~vaddr_t{0}, 0, ~vaddr_t{0});
  free_pgtable_page(mm, mm.pgd);
  mm.pgd = 0;
}

}  // namespace mmsim::mm
