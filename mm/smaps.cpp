// smaps-style accounting over a range (Linux: fs/proc/task_mmu.c smaps_pte_entry /
// smaps_account). The zero page is not a "normal page" and counts for nothing; Pss splits
// each page by its precise mapcount with PSS_SHIFT fixed-point precision, as Linux does.
#include "mm/kernel.hpp"
#include "mm/pagewalk.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;

kernel::smaps_stats kernel::smaps_range(const mm_struct& mm, vaddr_t start, vaddr_t end) const {
  constexpr unsigned PSS_SHIFT = 12;
  smaps_stats s;
  std::uint64_t pss = 0;  // bytes << PSS_SHIFT: room for 2^40 pages
  auto leaves = [&](const arch::pt_table& t, unsigned first, unsigned last, vaddr_t) {
    for (unsigned i = first; i < last; ++i) {
      const pteval_t e = t[i];
      if (!pte_present(e) || pte_special(e)) continue;
      const pfn_t pfn = pte_pfn(e);
      const folio f = page_folio(pfn);
      const long mapcount = page_pte_mapcount(pfn) + entire_mapcount(key(f));
      s.rss += arch::PAGE_SIZE;
      if (folio_test_anon(f)) s.anonymous += arch::PAGE_SIZE;
      if (mapcount >= 2) pss += (arch::PAGE_SIZE << PSS_SHIFT) / static_cast<std::uint64_t>(mapcount);
      else pss += arch::PAGE_SIZE << PSS_SHIFT;
    }
  };
  // Linux: smaps_pmd_entry(). Only the part of the PMD inside [start, end) is summed.
  auto huge = [&](pteval_t& e, arch::pt_level, vaddr_t haddr) {
    if (pte_special(e)) return;
    const folio f = page_folio(pte_pfn(e));
    const long entire = entire_mapcount(key(f));
    const vaddr_t lo = std::max(start, haddr), hi = std::min(end, haddr + arch::PMD_SIZE);
    for (vaddr_t a = lo; a < hi; a += arch::PAGE_SIZE) {
      const long mapcount = page_pte_mapcount(f.pfn + ((a - haddr) >> arch::PAGE_SHIFT)) + entire;
      pss += mapcount >= 2 ? (arch::PAGE_SIZE << PSS_SHIFT) / static_cast<std::uint64_t>(mapcount)
                           : arch::PAGE_SIZE << PSS_SHIFT;
    }
    s.rss += hi - lo;
    s.anonymous += hi - lo;
    s.anon_huge += hi - lo;
  };
  walk_page_range(mem_, mm.pgd, top_level(), 0, start, end, leaves, huge);
  s.pss = static_cast<std::uint64_t>(pss >> PSS_SHIFT);
  return s;
}

}  // namespace mmsim::mm

namespace mmsim::mm {

bool kernel::folio_mapped_shared(folio f) const {
  const pfn_t first = f.pfn, last = f.pfn + (pfn_t{1} << folio_order(f));
  unsigned mms = 0;
  for (auto& [id, mm] : mms_) {
    bool maps = false;
    auto leaves = [&](const arch::pt_table& t, unsigned a, unsigned z, vaddr_t) {
      for (unsigned i = a; i < z && !maps; ++i) {
        const pteval_t e = t[i];
        maps = pte_present(e) && !pte_special(e) && pte_pfn(e) >= first && pte_pfn(e) < last;
      }
    };
    auto huge = [&](pteval_t& e, arch::pt_level, vaddr_t) {
      maps = maps || (pte_pfn(e) >= first && pte_pfn(e) < last);
    };
    for (auto& [start, vma] : mm->mmap) {
      if (maps) break;
      walk_page_range(mem_, mm->pgd, top_level(), 0, vma.vm_start, vma.vm_end, leaves, huge);
    }
    if (maps && ++mms >= 2) return true;
  }
  return false;
}

}  // namespace mmsim::mm
