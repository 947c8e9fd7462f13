// Reverse-map accounting (Linux: mm/rmap.c). Each call keeps the core's precise counts (per-page
// _mapcount, NR_ANON_MAPPED, PageAnonExclusive) and reports the same event to the mapcount
// scheme, so schemes see exactly the kernel's rmap calls (mm-semantics.md M160).
// Differs from Linux: anon_vma is an identity only; no rmap walks exist yet.
#include "mm/kernel.hpp"

namespace mmsim::mm {

using mapcount::rmap_level;

void kernel::charge_rmap(unsigned cpu, std::uint64_t before) {
  led_.charge(cpu, arch::cost::fault, (scheme_->stats().atomics - before) * prof_.rmap_atomic_cycles);
}

void kernel::folio_add_new_anon_rmap(folio f, vm_area_struct& vma, mm_struct& mm, unsigned cpu) {
  (void)vma;
  const auto before = scheme_->stats().atomics;
  const unsigned nr = 1u << folio_order(f);
  page& head = map_[f.pfn];
  head.set(PG_anon);
  for (unsigned i = 0; i < nr; ++i) {
    page& p = map_[f.pfn + i];
    MM_BUG_ON(p._mapcount != 0, "new anon folio already mapped");
    p._mapcount = 1;
    p.set(PG_anon_exclusive);  // RMAP_EXCLUSIVE: a new anon mapping is exclusive (M36)
  }
  vmstat_.mod_node_page_state(NR_ANON_MAPPED, nr);
  scheme_->add(key(f), 0, nr, rmap_level::pte, mm.mm_id);
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
  charge_rmap(cpu, before);
}

void kernel::folio_remove_rmap_ptes(folio f, pfn_t first, unsigned nr, mm_struct& mm,
                                    unsigned cpu) {
  const auto before = scheme_->stats().atomics;
  long unmapped = 0;
  for (unsigned i = 0; i < nr; ++i) {
    page& p = map_[first + i];
    MM_BUG_ON(p._mapcount == 0, "removing a mapping that does not exist");
    p._mapcount = p._mapcount - 1;
    if (p._mapcount == 0) ++unmapped;
  }
  vmstat_.mod_node_page_state(NR_ANON_MAPPED, -unmapped);
  scheme_->remove(key(f), static_cast<unsigned>(first - f.pfn), nr, rmap_level::pte, mm.mm_id);
  charge_rmap(cpu, before);
}

}  // namespace mmsim::mm
