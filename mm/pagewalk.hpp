// Range walks over a page-table tree (Linux: the pgd/p4d/pud/pmd/pte_range loops). Missing
// tables are skipped a whole table's span at a time, so sparse ranges cost what they hold.
#pragma once

#include "arch/phys_mem.hpp"
#include "arch/x86_64/pgtable.hpp"

namespace mmsim::mm {

/// For each existing PTE table overlapping [start, end): pte_fn(table, first, last, va_first),
/// entries [first, last). For each huge leaf (PS set) at a higher level: huge_fn(entry, level,
/// va_of_entry). `table` holds entries of `level`, the first one covering `base`.
template <class PteFn, class HugeFn>
void walk_page_range(arch::phys_mem& mem, arch::pfn_t table, arch::pt_level level,
                     arch::vaddr_t base, arch::vaddr_t start, arch::vaddr_t end, PteFn&& pte_fn,
                     HugeFn&& huge_fn) {
  using namespace arch::x86_64;
  const std::uint64_t span = arch::level_size(level);
  const unsigned first = start > base ? static_cast<unsigned>((start - base) / span) : 0;
  const arch::vaddr_t table_end = base + span * arch::PTRS_PER_TABLE;
  const unsigned last = end >= table_end || end < base
                            ? arch::PTRS_PER_TABLE
                            : static_cast<unsigned>((end - base + span - 1) / span);
  auto& t = mem.table(table);
  if (level == arch::pt_level::pte) {
    if (first < last) pte_fn(t, first, last, base + first * span);
    return;
  }
  const auto child = static_cast<arch::pt_level>(static_cast<unsigned>(level) - 1);
  for (unsigned i = first; i < last; ++i) {
    pteval_t& e = t[i];
    if (!pte_present(e)) continue;
    const arch::vaddr_t lo = base + i * span;
    if (e & _PAGE_PSE) {
      huge_fn(e, level, lo);
      continue;
    }
    walk_page_range(mem, pte_pfn(e), child, lo, start, end, pte_fn, huge_fn);
  }
}

}  // namespace mmsim::mm
