// Reverse-map accounting (Linux: mm/rmap.c). Each call keeps the core's precise counts (per-page
// _mapcount, the entire mapcount, NR_ANON_MAPPED, NR_ANON_THPS, PageAnonExclusive) and reports
// the same event to the driving mapcount scheme and the shadows, so schemes see exactly the
// kernel's rmap calls (mm-semantics.md M160).
// Differs from Linux: anon_vma is an identity only; rmap walks scan the page tables.
#include "mm/kernel.hpp"

namespace mmsim::mm {

using mapcount::rmap_level;

void kernel::charge_rmap(unsigned cpu, std::uint64_t before) {
  led_.charge(cpu, arch::cost::fault, (scheme_->stats().atomics - before) * prof_.rmap_atomic_cycles);
}

// A page counts as mapped for NR_ANON_MAPPED while a PTE or the folio's PMD maps it (M7, M8).
bool kernel::page_mapped_for_stats(pfn_t pfn, long entire) const {
  return map_.peek(pfn)._mapcount > 0 || entire > 0;
}

void kernel::folio_add_new_anon_rmap(folio f, vm_area_struct& vma, vaddr_t addr, mm_struct& mm,
                                     unsigned cpu) {
  (void)vma;
  const auto before = scheme_->stats().atomics;
  const unsigned nr = 1u << folio_order(f);
  map_[f.pfn].set(PG_anon);
  for (unsigned i = 0; i < nr; ++i) {
    page& p = map_[f.pfn + i];
    MM_BUG_ON(p._mapcount != 0, "new anon folio already mapped");
    p._mapcount = 1;
    p.set(PG_anon_exclusive);  // RMAP_EXCLUSIVE: a new anon mapping is exclusive (M36)
  }
  vmstat_.mod_node_page_state(NR_ANON_MAPPED, nr);
  scheme_->add(key(f), 0, nr, rmap_level::pte, mm.mm_id);
  if (shadows_) shadows_->add(key(f), 0, nr, rmap_level::pte, mm.mm_id);
  charge_rmap(cpu, before);
  if (nr > 1) {
    ++mthp_.nr_anon[folio_order(f)];
    large_meta(f).index_va = addr;
    deferred_split_folio(f, false);  // 6.12+: every new large anon folio is queued
  }
}

void kernel::folio_add_new_anon_rmap_pmd(folio f, vaddr_t haddr, mm_struct& mm, unsigned cpu) {
  const auto before = scheme_->stats().atomics;
  const unsigned nr = 1u << folio_order(f);
  map_[f.pfn].set(PG_anon);
  map_[f.pfn].set(PG_anon_exclusive);  // for a PMD mapping only the head's flag counts (M36)
  auto& meta = large_meta(f);
  MM_BUG_ON(meta.entire_mapcount != 0, "new THP already mapped");
  meta.entire_mapcount = 1;
  meta.index_va = haddr;
  ++mthp_.nr_anon[meta.order];
  vmstat_.mod_node_page_state(NR_ANON_MAPPED, nr);
  vmstat_.mod_node_page_state(NR_ANON_THPS, 1);
  scheme_->add(key(f), 0, 1, rmap_level::pmd, mm.mm_id);
  if (shadows_) shadows_->add(key(f), 0, 1, rmap_level::pmd, mm.mm_id);
  charge_rmap(cpu, before);
  deferred_split_folio(f, false);
}

// Existing folio, new PTE mappings (a PMD split, a swap-in, a remap after folio split).
void kernel::folio_add_anon_rmap_ptes(folio f, pfn_t first, unsigned nr, mm_struct& mm,
                                      bool exclusive, unsigned cpu) {
  const auto before = scheme_->stats().atomics;
  const bool large = folio_order(f) > 0;
  const long entire = large ? large_meta(f).entire_mapcount : 0;
  long newly = 0;
  for (unsigned i = 0; i < nr; ++i) {
    page& p = map_[first + i];
    if (!page_mapped_for_stats(first + i, entire)) ++newly;
    p._mapcount = p._mapcount + 1;
    if (exclusive) p.set(PG_anon_exclusive);
  }
  map_[f.pfn].set(PG_anon);
  vmstat_.mod_node_page_state(NR_ANON_MAPPED, newly);
  scheme_->add(key(f), static_cast<unsigned>(first - f.pfn), nr, rmap_level::pte, mm.mm_id);
  if (shadows_) shadows_->add(key(f), static_cast<unsigned>(first - f.pfn), nr, rmap_level::pte, mm.mm_id);
  charge_rmap(cpu, before);
}

void kernel::folio_try_dup_anon_rmap_ptes(folio f, pfn_t first, unsigned nr, mm_struct& dst,
                                          unsigned cpu) {
  const auto before = scheme_->stats().atomics;
  for (unsigned i = 0; i < nr; ++i) {
    page& p = map_[first + i];
    MM_BUG_ON(p._mapcount == 0, "dup of an unmapped page");
    p._mapcount = p._mapcount + 1;
    p.clear(PG_anon_exclusive);  // shared with the child now (M36)
  }
  scheme_->dup(key(f), static_cast<unsigned>(first - f.pfn), nr, rmap_level::pte, dst.mm_id);
  if (shadows_) shadows_->dup(key(f), static_cast<unsigned>(first - f.pfn), nr, rmap_level::pte, dst.mm_id);
  charge_rmap(cpu, before);
}

void kernel::folio_try_dup_anon_rmap_pmd(folio f, mm_struct& dst, unsigned cpu) {
  const auto before = scheme_->stats().atomics;
  auto& meta = large_meta(f);
  MM_BUG_ON(meta.entire_mapcount == 0, "dup of an unmapped THP");
  ++meta.entire_mapcount;
  map_[f.pfn].clear(PG_anon_exclusive);
  scheme_->dup(key(f), 0, 1, rmap_level::pmd, dst.mm_id);
  if (shadows_) shadows_->dup(key(f), 0, 1, rmap_level::pmd, dst.mm_id);
  charge_rmap(cpu, before);
}

void kernel::folio_remove_rmap_ptes(folio f, pfn_t first, unsigned nr, mm_struct& mm,
                                    unsigned cpu) {
  const auto before = scheme_->stats().atomics;
  const bool large = folio_order(f) > 0;
  const long entire = large ? large_meta(f).entire_mapcount : 0;
  long unmapped = 0;
  for (unsigned i = 0; i < nr; ++i) {
    page& p = map_[first + i];
    MM_BUG_ON(p._mapcount == 0, "removing a mapping that does not exist");
    p._mapcount = p._mapcount - 1;
    if (!page_mapped_for_stats(first + i, entire)) ++unmapped;
  }
  vmstat_.mod_node_page_state(NR_ANON_MAPPED, -unmapped);
  scheme_->remove(key(f), static_cast<unsigned>(first - f.pfn), nr, rmap_level::pte, mm.mm_id);
  if (shadows_) shadows_->remove(key(f), static_cast<unsigned>(first - f.pfn), nr, rmap_level::pte, mm.mm_id);
  charge_rmap(cpu, before);
  // Partially mapped: some pages just became unmapped while others stay mapped (M9, M63).
  if (large && unmapped > 0 && folio_mapped(f)) deferred_split_folio(f, true);
}

void kernel::folio_remove_rmap_pmd(folio f, mm_struct& mm, unsigned cpu) {
  const auto before = scheme_->stats().atomics;
  auto& meta = large_meta(f);
  MM_BUG_ON(meta.entire_mapcount == 0, "removing a PMD mapping that does not exist");
  --meta.entire_mapcount;
  const unsigned nr = 1u << meta.order;
  bool partially = false;
  if (meta.entire_mapcount == 0) {
    long still = 0;
    for (unsigned i = 0; i < nr; ++i)
      if (map_.peek(f.pfn + i)._mapcount > 0) ++still;
    vmstat_.mod_node_page_state(NR_ANON_MAPPED, -(static_cast<long>(nr) - still));
    vmstat_.mod_node_page_state(NR_ANON_THPS, -1);
    partially = still > 0 && still < static_cast<long>(nr);
  }
  scheme_->remove(key(f), 0, 1, rmap_level::pmd, mm.mm_id);
  if (shadows_) shadows_->remove(key(f), 0, 1, rmap_level::pmd, mm.mm_id);
  charge_rmap(cpu, before);
  if (partially) deferred_split_folio(f, true);
}

bool kernel::folio_mapped(folio f) const {
  const unsigned order = folio_order(f);
  if (order && large_meta(f).entire_mapcount > 0) return true;
  for (unsigned i = 0; i < (1u << order); ++i)
    if (map_.peek(f.pfn + i)._mapcount > 0) return true;
  return false;
}

}  // namespace mmsim::mm
