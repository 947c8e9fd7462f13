// Folio lifetime: allocation from the buddy allocator, references, and freeing on the last
// put (Linux: mm/page_alloc.c, mm/swap.c folio_put). Also page-table page allocation.
#include <algorithm>

#include "mm/kernel.hpp"

namespace mmsim::mm {

using arch::cost;

std::optional<folio> kernel::folio_alloc(unsigned order, bool zero, unsigned cpu) {
  auto pfn = buddy_.alloc(order);
  if (!pfn) return std::nullopt;
  const pfn_t nr = pfn_t{1} << order;
  vmstat_.count_vm_events(PGALLOC_NORMAL, nr);
  vmstat_.mod_node_page_state(NR_FREE_PAGES, -static_cast<std::int64_t>(nr));
  led_.charge(cpu, cost::alloc, prof_.page_alloc_cycles);
  page& head = map_[*pfn];
  head = page{};
  head._refcount = 1;
  if (order) {
    std::uint32_t idx;
    if (!free_large_.empty()) {
      idx = free_large_.back();
      free_large_.pop_back();
    } else {
      idx = static_cast<std::uint32_t>(large_.size());
      large_.emplace_back();
    }
    large_[idx] = large_folio_meta{};
    large_[idx].order = order;
    head.set(PG_head);
    for (pfn_t i = 1; i < nr; ++i) {
      page& t = map_[*pfn + i];
      t = page{};
      t.set(PG_tail);
      t._refcount = i == 1 ? idx : static_cast<std::uint32_t>(i);
    }
  }
  if (zero) {
    for (pfn_t i = 0; i < nr; ++i) mem_.word(*pfn + i) = 0;
    led_.charge(cpu, cost::zeroing, prof_.zero_4k_cycles * nr);
  }
  ++nr_folios_;
  return folio{*pfn};
}

void kernel::folio_put(folio f, unsigned cpu, long n) {
  page& p = map_[f.pfn];
  MM_BUG_ON(p._refcount < n, "folio_put below zero");
  p._refcount -= static_cast<std::uint32_t>(n);
  if (p._refcount == 0) free_folio(f, cpu);
}

void kernel::free_folio(folio f, unsigned cpu) {
  const unsigned order = folio_order(f);
  const pfn_t nr = pfn_t{1} << order;
  scheme_->folio_freed(key(f));
  if (shadows_) shadows_->folio_freed(key(f));
  if (order) {
    if (large_meta(f).partially_mapped) --mthp_.nr_anon_partially_mapped[order];
    if (map_.peek(f.pfn).test(PG_anon)) --mthp_.nr_anon[order];
    if (large_meta(f).on_deferred_list)
      deferred_split_queue_.erase(
          std::find(deferred_split_queue_.begin(), deferred_split_queue_.end(), f));
    free_large_.push_back(map_[f.pfn + 1]._refcount);
    for (pfn_t i = 1; i < nr; ++i) map_[f.pfn + i] = page{};
  }
  map_[f.pfn] = page{};
  buddy_.free(f.pfn, order);
  vmstat_.count_vm_events(PGFREE, nr);
  vmstat_.mod_node_page_state(NR_FREE_PAGES, static_cast<std::int64_t>(nr));
  led_.charge(cpu, cost::alloc, prof_.page_free_cycles);
  --nr_folios_;
}

folio kernel::page_folio(pfn_t pfn) const {
  const page& p = map_.peek(pfn);
  if (!p.test(PG_tail)) return folio{pfn};
  if (map_.peek(pfn - 1).test(PG_head)) return folio{pfn - 1};
  return folio{pfn - p._refcount};
}

unsigned kernel::folio_order(folio f) const {
  if (!map_.peek(f.pfn).test(PG_head)) return 0;
  return large_[map_.peek(f.pfn + 1)._refcount].order;
}

long kernel::entire_mapcount(const mapcount::folio_key& f) const {
  if (!f.order) return 0;
  return large_[map_.peek(f.head + 1)._refcount].entire_mapcount;
}

std::optional<pfn_t> kernel::alloc_pgtable_page(mm_struct& mm, unsigned cpu) {
  auto pfn = buddy_.alloc(0);
  if (!pfn) return std::nullopt;
  vmstat_.count_vm_event(PGALLOC_NORMAL);
  vmstat_.mod_node_page_state(NR_FREE_PAGES, -1);
  vmstat_.mod_node_page_state(NR_PAGETABLE, 1);
  led_.charge(cpu, cost::alloc, prof_.page_alloc_cycles);
  led_.charge(cpu, cost::zeroing, prof_.zero_4k_cycles);
  page& p = map_[*pfn];
  p = page{};
  p._refcount = 1;
  p.set(PG_table);
  mem_.make_table(*pfn);
  mm.pgtables_bytes += arch::PAGE_SIZE;
  return pfn;
}

void kernel::free_pgtable_page(mm_struct& mm, pfn_t pfn) {
  mem_.release_table(pfn);
  map_[pfn] = page{};
  buddy_.free(pfn, 0);
  vmstat_.count_vm_event(PGFREE);
  vmstat_.mod_node_page_state(NR_FREE_PAGES, 1);
  vmstat_.mod_node_page_state(NR_PAGETABLE, -1);
  mm.pgtables_bytes -= arch::PAGE_SIZE;
}

}  // namespace mmsim::mm
