// Folio split and the deferred-split queue (Linux: mm/huge_memory.c deferred_split_folio,
// deferred_split_scan, __folio_split; M63-M65). A large anon folio that becomes partially
// mapped is queued; under memory pressure (here: when an allocation fails) the shrinker splits
// it into order-0 folios and the pages nobody maps are freed.
// Differs from Linux: the "underused" shrinker path (M64) is not modelled (inert at the default
// max_ptes_none = 511); splits always go to order 0.
#include <algorithm>

#include "mm/kernel.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;

void kernel::deferred_split_folio(folio f, bool partially_mapped) {
  const unsigned order = folio_order(f);
  if (order <= 1) return;  // order-0/1 folios are never queued (M64)
  auto& meta = large_meta(f);
  if (partially_mapped && !meta.partially_mapped) {
    meta.partially_mapped = true;
    if (order == arch::HPAGE_PMD_ORDER) vmstat_.count_vm_event(THP_DEFERRED_SPLIT_PAGE);
    ++mthp_.split_deferred[order];
    ++mthp_.nr_anon_partially_mapped[order];
  }
  if (!meta.on_deferred_list) {
    meta.on_deferred_list = true;
    deferred_split_queue_.push_back(f);
  }
}

// Linux: split_folio() -> __folio_split() for an anonymous folio. As in Linux, the folio's
// mappings are first replaced (PMDs split, rmap removed) and restored on the new folios, so the
// mapcount schemes see remove events, the split, and add events. The anon rmap property (every
// mm maps page i of the folio at index_va + i) finds every mapping without an anon_vma walk.
bool kernel::split_folio(folio f, unsigned cpu) {
  const unsigned order = folio_order(f);
  const unsigned nr = 1u << order;
  const vaddr_t va0 = large_meta(f).index_va;
  long mapcount = large_meta(f).entire_mapcount;
  for (unsigned i = 0; i < nr; ++i) mapcount += map_.peek(f.pfn + i)._mapcount;
  if (folio_ref_count(f) != mapcount) {  // an extra reference pins it (M35)
    vmstat_.count_vm_event(THP_SPLIT_PAGE_FAILED);
    ++mthp_.split_failed[order];
    return false;
  }
  // Freeze: PMD mappings become PTE mappings, then every PTE mapping is removed from the
  // schemes' view. The page tables themselves keep pointing at the same frames.
  struct run {
    std::uint32_t mm_id;
    unsigned first, n;
  };
  std::vector<run> runs;
  for (auto& [id, mm] : mms_) {
    if (pteval_t* pmd = pmd_offset_map(*mm, va0); pmd && pmd_leaf(*pmd) && !pte_special(*pmd) &&
                                                   page_folio(pte_pfn(*pmd)) == f)
      __split_huge_pmd(*mm, pmd, va0 & ~(arch::PMD_SIZE - 1), cpu);
    bool any = false;
    for (unsigned i = 0; i < nr; ++i) {
      const pteval_t* pte = pte_offset_map(*mm, va0 + i * arch::PAGE_SIZE);
      const bool maps = pte && pte_present(*pte) && !pte_special(*pte) && pte_pfn(*pte) == f.pfn + i;
      if (!maps) continue;
      any = true;
      if (!runs.empty() && runs.back().mm_id == id && runs.back().first + runs.back().n == i) ++runs.back().n;
      else runs.push_back({id, i, 1});
    }
    if (any) flush_tlb_mm_range(*mm, va0, va0 + nr * arch::PAGE_SIZE, cpu, false);
  }
  const auto k = key(f);
  for (auto& r : runs) {
    scheme_->remove(k, r.first, r.n, mapcount::rmap_level::pte, r.mm_id);
    if (shadows_) shadows_->remove(k, r.first, r.n, mapcount::rmap_level::pte, r.mm_id);
  }
  scheme_->folio_split(k, 0);
  if (shadows_) shadows_->folio_split(k, 0);
  auto& meta = large_meta(f);
  if (meta.on_deferred_list)
    deferred_split_queue_.erase(std::find(deferred_split_queue_.begin(), deferred_split_queue_.end(), f));
  if (meta.partially_mapped) --mthp_.nr_anon_partially_mapped[order];
  if (map_.peek(f.pfn).test(PG_anon)) --mthp_.nr_anon[order];
  free_large_.push_back(map_[f.pfn + 1]._refcount);
  const bool anon = map_.peek(f.pfn).test(PG_anon);
  --nr_folios_;
  for (unsigned i = 0; i < nr; ++i) {
    page& p = map_[f.pfn + i];
    const std::uint32_t mc = p._mapcount;
    const bool pae = p.test(PG_anon_exclusive);
    p = page{};
    p._mapcount = mc;
    if (anon) p.set(PG_anon);
    if (pae) p.set(PG_anon_exclusive);
    if (mc == 0) {  // nobody maps this page any more: it goes back to the allocator
      buddy_.free(f.pfn + i, 0);
      p = page{};
      vmstat_.count_vm_event(PGFREE);
      vmstat_.mod_node_page_state(NR_FREE_PAGES, 1);
      continue;
    }
    p._refcount = mc;
    ++nr_folios_;
  }
  for (auto& r : runs)
    for (unsigned i = r.first; i < r.first + r.n; ++i) {
      scheme_->add({f.pfn + i, 0}, 0, 1, mapcount::rmap_level::pte, r.mm_id);
      if (shadows_) shadows_->add({f.pfn + i, 0}, 0, 1, mapcount::rmap_level::pte, r.mm_id);
    }
  vmstat_.count_vm_event(THP_SPLIT_PAGE);
  ++mthp_.split[order];
  return true;
}

// Linux: deferred_split_scan(): split the partially mapped folios on the queue; returns the
// number of pages freed.
std::uint64_t kernel::deferred_split_scan(unsigned cpu) {
  const auto free_before = buddy_.nr_free_pages();
  std::vector<folio> queue = deferred_split_queue_;
  for (folio f : queue) {
    auto& meta = large_meta(f);
    if (!meta.partially_mapped) continue;
    split_folio(f, cpu);
  }
  return buddy_.nr_free_pages() - free_before;
}

}  // namespace mmsim::mm
