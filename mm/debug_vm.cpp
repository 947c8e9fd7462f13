// The invariant checker (Linux's VM_BUG_ON family, run as a whole-system audit). Every count
// the model caches is recomputed from a walk of every page table and compared: mapcounts, the
// scheme's answers, refcounts, RSS, VmPTE, NR_ANON_MAPPED, the allocator's view of each mapped
// frame, and every TLB entry against the tables it claims to cache (mm-semantics.md M42).
#include <set>
#include <sstream>

#include "arch/hex.hpp"
#include "mm/kernel.hpp"
#include "mm/pagewalk.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;
using arch::hex;

namespace {
}  // namespace

void kernel::check_mm(const mm_struct& mm, std::map<pfn_t, long>& pte_maps,
                      std::map<pfn_t, long>& pmd_maps, std::map<std::uint64_t, long>& swap_refs,
                      std::vector<std::string>& bad) const {
  const std::string who = "mm " + std::to_string(mm.mm_id) + ": ";
  std::int64_t anon = 0, tables = 0;
  // Tables: count them and require each to intersect a VMA (free_pgtables left none behind).
  auto walk_tables = [&](auto& self, pfn_t table, arch::pt_level level, vaddr_t base) -> void {
    ++tables;
    if (map_.peek(table).test(PG_table) == false) bad.push_back(who + "table frame without PG_table");
    if (level == arch::pt_level::pte) return;
    const std::uint64_t span = arch::level_size(level);
    const auto child = static_cast<arch::pt_level>(static_cast<unsigned>(level) - 1);
    const auto& t = mem_.table(table);
    for (unsigned i = 0; i < arch::PTRS_PER_TABLE; ++i) {
      const pteval_t e = t[i];
      if (!pte_present(e) || (e & _PAGE_PSE)) continue;
      const vaddr_t lo = base + i * span, hi = lo + span;
      auto it = mm.mmap.lower_bound(hi);
      bool used = it != mm.mmap.begin() && std::prev(it)->second.vm_end > lo;
      if (!used) bad.push_back(who + "page table for " + hex(lo) + " covers no VMA");
      self(self, pte_pfn(e), child, lo);
    }
  };
  walk_tables(walk_tables, mm.pgd, top_level(), 0);
  tables += static_cast<std::int64_t>(mm.deposited.size());  // deposited under PMD leaves (M61)
  std::int64_t swapents = 0, pmd_leaves = 0;

  auto leaves = [&](const arch::pt_table& t, unsigned first, unsigned last, vaddr_t va) {
    for (unsigned i = first; i < last; ++i, va += arch::PAGE_SIZE) {
      const pteval_t e = t[i];
      if (pte_none(e)) continue;
      const vm_area_struct* vma = find_vma(mm, va);
      if (!vma) bad.push_back(who + "entry at " + hex(va) + " outside every VMA");
      if (is_swap_pte(e)) {
        ++swapents;
        ++swap_refs[pte_swp_offset(e)];
        continue;
      }
      const pfn_t pfn = pte_pfn(e);
      if (pte_special(e)) {
        if (pfn != zero_pfn_) bad.push_back(who + "special entry at " + hex(va) + " not the zero page");
        if (pte_write(e)) bad.push_back(who + "writable zero-page entry at " + hex(va));
        continue;
      }
      if (pfn >= mem_.nr_frames() || buddy_.is_free(pfn)) {
        bad.push_back(who + "entry at " + hex(va) + " maps free frame " + hex(pfn));
        continue;
      }
      if (map_.peek(pfn).test(PG_table) || map_.peek(pfn).test(PG_reserved))
        bad.push_back(who + "entry at " + hex(va) + " maps a kernel frame");
      if (pte_write(e) && !page_anon_exclusive(pfn))
        bad.push_back(who + "writable entry at " + hex(va) + " to a page not exclusive to it");
      ++pte_maps[pfn];
      ++anon;
    }
  };
  auto huge = [&](pteval_t& e, arch::pt_level level, vaddr_t va) {
    ++pmd_leaves;
    if (level != arch::pt_level::pmd) bad.push_back(who + "PUD leaf at " + hex(va));
    if (!mm.deposited.count(va)) bad.push_back(who + "PMD leaf at " + hex(va) + " without a deposited table");
    const vm_area_struct* vma = find_vma(mm, va);
    if (!vma || va < vma->vm_start || va + arch::PMD_SIZE > vma->vm_end)
      bad.push_back(who + "PMD leaf at " + hex(va) + " not inside one VMA");
    const pfn_t pfn = pte_pfn(e);
    if (pte_special(e)) {
      if (!is_huge_zero_pfn(pfn)) bad.push_back(who + "special PMD at " + hex(va) + " not the huge zero page");
      if (pte_write(e)) bad.push_back(who + "writable huge zero PMD at " + hex(va));
      return;
    }
    const folio f = page_folio(pfn);
    if (f.pfn != pfn || folio_order(f) != arch::HPAGE_PMD_ORDER)
      bad.push_back(who + "PMD at " + hex(va) + " does not map a whole PMD-order folio");
    if (buddy_.is_free(pfn)) bad.push_back(who + "PMD at " + hex(va) + " maps a free block");
    if (pte_write(e) && !page_anon_exclusive(pfn))
      bad.push_back(who + "writable PMD at " + hex(va) + " to a folio not exclusive to it");
    ++pmd_maps[f.pfn];
    anon += arch::HPAGE_PMD_NR;
  };
  walk_page_range(mem_, mm.pgd, top_level(), 0, 0, ~vaddr_t{0}, leaves, huge);

  if (static_cast<std::int64_t>(mm.deposited.size()) != pmd_leaves)
    bad.push_back(who + std::to_string(mm.deposited.size()) + " deposited tables for " +
                  std::to_string(pmd_leaves) + " PMD leaves");
  if (mm.rss_stat[MM_SWAPENTS] != swapents)
    bad.push_back(who + "MM_SWAPENTS " + std::to_string(mm.rss_stat[MM_SWAPENTS]) + " but " +
                  std::to_string(swapents) + " swap entries");
  if (mm.rss_stat[MM_ANONPAGES] != anon)
    bad.push_back(who + "MM_ANONPAGES " + std::to_string(mm.rss_stat[MM_ANONPAGES]) +
                  " but page tables map " + std::to_string(anon));
  if (mm.pgtables_bytes != tables * static_cast<std::int64_t>(arch::PAGE_SIZE))
    bad.push_back(who + "VmPTE " + std::to_string(mm.pgtables_bytes) + " but " +
                  std::to_string(tables) + " tables exist");
}

void kernel::check_tlbs(std::vector<std::string>& bad) const {
  std::map<std::uint16_t, const mm_struct*> by_pcid;
  for (auto& [id, mm] : mms_) by_pcid[mm->pcid()] = mm.get();
  for (unsigned c = 0; c < hw_.nr_cpus(); ++c) {
    for (auto size : {arch::pt_level::pte, arch::pt_level::pmd, arch::pt_level::pud}) {
      hw_.cpus[c].tlb(size).for_each([&](std::uint16_t pcid, vaddr_t va, const arch::tlb_entry& te) {
        const std::string where = "cpu " + std::to_string(c) + " TLB(" + arch::level_name(size) +
                                  ") pcid " + std::to_string(pcid) + " " + hex(va) + ": ";
        auto it = by_pcid.find(pcid);
        if (it == by_pcid.end()) {
          bad.push_back(where + "entry of an address space that no longer exists");
          return;
        }
        const leaf_info l = follow_page(*it->second, va);
        if (!l.present || !pte_hw_present(l.entry)) {
          bad.push_back(where + "cached translation with no present page-table entry");
          return;
        }
        if (l.level != size) bad.push_back(where + "cached at the wrong page size");
        if (l.pfn != te.pfn) bad.push_back(where + "maps frame " + hex(te.pfn) + ", tables say " + hex(l.pfn));
        if ((te.perm & arch::TLB_WRITE) && !pte_write(l.entry))
          bad.push_back(where + "writable in the TLB, read-only in the tables");
        if ((te.perm & arch::TLB_EXEC) && !pte_exec(l.entry))
          bad.push_back(where + "executable in the TLB, not in the tables");
      });
    }
  }
}

std::vector<std::string> kernel::check_invariants() const {
  std::vector<std::string> bad;
  std::map<pfn_t, long> pte_maps, pmd_maps;
  std::map<std::uint64_t, long> swap_refs;
  for (auto& [id, mm] : mms_) check_mm(*mm, pte_maps, pmd_maps, swap_refs, bad);

  std::set<pfn_t> folios;
  for (auto& [pfn, n] : pte_maps) folios.insert(page_folio(pfn).pfn);
  for (auto& [pfn, n] : pmd_maps) folios.insert(pfn);
  std::int64_t anon_mapped = 0;
  for (pfn_t head : folios) {
    const folio f{head};
    const auto k = key(f);
    long total = 0;
    for (unsigned i = 0; i < k.nr_pages(); ++i) {
      auto it = pte_maps.find(head + i);
      const long walked = it == pte_maps.end() ? 0 : it->second;
      total += walked;
      if (page_pte_mapcount(head + i) != walked)
        bad.push_back("page " + hex(head + i) + ": _mapcount " +
                      std::to_string(page_pte_mapcount(head + i)) + " but " +
                      std::to_string(walked) + " PTEs map it");
      if (walked) ++anon_mapped;
      if (page_anon_exclusive(head + i) && walked > 1)
        bad.push_back("page " + hex(head + i) + ": PageAnonExclusive but mapped " +
                      std::to_string(walked) + " times");
    }
    const long pmds = pmd_maps.count(head) ? pmd_maps[head] : 0;
    if (entire_mapcount(k) != pmds)
      bad.push_back("folio " + hex(head) + ": entire mapcount " + std::to_string(entire_mapcount(k)) +
                    " but " + std::to_string(pmds) + " PMDs map it");
    if (pmds) anon_mapped += k.nr_pages() - [&] {
      long already = 0;
      for (unsigned i = 0; i < k.nr_pages(); ++i) already += pte_maps.count(head + i) ? 1 : 0;
      return already;
    }();
    total += pmds;
    if (scheme_->folio_mapcount(k) != total)
      bad.push_back("folio " + hex(head) + ": scheme " + scheme_->name() + " says mapcount " +
                    std::to_string(scheme_->folio_mapcount(k)) + ", page tables say " +
                    std::to_string(total));
    // No GUP pins, page cache or swap cache exist: every reference is a mapping (M32).
    if (folio_ref_count(f) != total)
      bad.push_back("folio " + hex(head) + ": refcount " + std::to_string(folio_ref_count(f)) +
                    " but mapcount " + std::to_string(total));
  }
  if (folios.size() != nr_folios_)
    bad.push_back(std::to_string(nr_folios_) + " folios allocated but " +
                  std::to_string(folios.size()) + " mapped: a folio leaked or was freed twice");
  if (vmstat_.stats[NR_ANON_MAPPED] != anon_mapped)
    bad.push_back("nr_anon_pages " + std::to_string(vmstat_.stats[NR_ANON_MAPPED]) + " but " +
                  std::to_string(anon_mapped) + " pages are mapped");
  for (auto& [off, refs] : swap_refs)
    if (off >= swap_map_.size() || swap_map_[off].count != refs)
      bad.push_back("swap slot " + std::to_string(off) + ": " + std::to_string(refs) +
                    " entries but swap count " + (off < swap_map_.size() ? std::to_string(swap_map_[off].count) : "none"));
  std::int64_t slots_used = 0;
  for (auto& sl : swap_map_) slots_used += sl.count ? 1 : 0;
  if (slots_used != static_cast<std::int64_t>(swap_refs.size()))
    bad.push_back(std::to_string(slots_used) + " swap slots in use but " + std::to_string(swap_refs.size()) + " referenced");
  std::int64_t thps = 0;
  for (auto& [pfn, n] : pmd_maps) thps += n > 0 ? 1 : 0;
  if (vmstat_.stats[NR_ANON_THPS] != thps)
    bad.push_back("nr_anon_transparent_hugepages " + std::to_string(vmstat_.stats[NR_ANON_THPS]) + " but " +
                  std::to_string(thps) + " THPs are PMD-mapped");
  std::array<std::int64_t, mthp_stats::NR_ORDERS> nr_anon{}, partial{};
  for (pfn_t head : folios) {
    const unsigned o = folio_order(folio{head});
    if (o < 2 || !map_.peek(head).test(PG_anon)) continue;
    ++nr_anon[o];
    if (large_meta(folio{head}).partially_mapped) ++partial[o];
  }
  for (unsigned o = 2; o < mthp_stats::NR_ORDERS; ++o) {
    if (mthp_.nr_anon[o] != nr_anon[o])
      bad.push_back("hugepages order " + std::to_string(o) + ": stats/nr_anon " + std::to_string(mthp_.nr_anon[o]) +
                    " but " + std::to_string(nr_anon[o]) + " such folios exist");
    if (mthp_.nr_anon_partially_mapped[o] != partial[o])
      bad.push_back("hugepages order " + std::to_string(o) + ": stats/nr_anon_partially_mapped " +
                    std::to_string(mthp_.nr_anon_partially_mapped[o]) + " but " + std::to_string(partial[o]));
  }
  for (folio q : deferred_split_queue_)
    if (!large_meta(q).on_deferred_list) bad.push_back("folio " + hex(q.pfn) + " queued but not flagged");
  if (vmstat_.stats[NR_FREE_PAGES] != static_cast<std::int64_t>(buddy_.nr_free_pages()))
    bad.push_back("nr_free_pages disagrees with the buddy allocator");
  check_tlbs(bad);
  return bad;
}

}  // namespace mmsim::mm
