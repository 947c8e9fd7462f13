// Scheme `legacy` (Linux 6.3-6.9) and the per-page mapcount state that every later Linux scheme
// still keeps (mm-semantics.md M6, M22): a PTE count per page, the entire mapcount and the
// nr_pages_mapped word of each large folio. `page_counts` is that state on its own, so `large`,
// `mm_id` and the injection schemes reuse it instead of copying it.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "mm/mapcount/scheme.hpp"

namespace mmsim::mm::mapcount {

std::unique_ptr<scheme> make_legacy(const precise_counts& truth);

/// Per-page PTE counts + entire mapcount + nr_pages_mapped, updated as Linux's __folio_add_rmap /
/// __folio_remove_rmap do (M7-M9). Values are logical (0 = unmapped), as M0 advises. With
/// `per_page == false` (CONFIG_NO_PAGE_MAPCOUNT, M21) large folios keep only the entire mapcount;
/// small folios always keep their own count, since that is the folio's only mapcount.
class page_counts {
 public:
  /// Bit 23 of nr_pages_mapped: set while the folio has a PMD/PUD mapping (6.2 COMPOUND_MAPPED,
  /// 6.3+ ENTIRELY_MAPPED). The low 23 bits count pages with at least one PTE mapping.
  static constexpr std::uint32_t ENTIRELY_MAPPED = 0x800000;
  static constexpr std::uint32_t FOLIO_PAGES_MAPPED = ENTIRELY_MAPPED - 1;

  /// With `truth`, small folios are answered from the kernel's struct page _mapcount instead
  /// of a table of their own: a small folio's only counter is that one field in every Linux
  /// scheme, so every scheme would keep the same number (and the table cost ~40 host bytes per
  /// mapped page).
  explicit page_counts(bool per_page = true, const precise_counts* truth = nullptr)
      : per_page_(per_page), truth_(truth) {}

  /// Both return the atomic RMWs Linux performs on these fields for the call: one per page of a
  /// PTE batch plus one nr_pages_mapped add when some page changed state (M7); for a PMD/PUD one
  /// on entire_mapcount plus one nr_pages_mapped add when it changed state (M8); M9 mirrors.
  unsigned add(const folio_key& f, unsigned first, unsigned n, rmap_level lvl);
  unsigned remove(const folio_key& f, unsigned first, unsigned n, rmap_level lvl);
  void forget(const folio_key& f);

  long pte_count(const folio_key& f, unsigned idx) const;
  long entire(const folio_key& f) const;
  /// The raw word, ENTIRELY_MAPPED bit included (M6). 0 for small folios.
  std::uint32_t nr_pages_mapped(const folio_key& f) const;
  /// The page's own PTE count plus, for a large folio, the entire mapcount (M10). Exact.
  long page_mapcount(const folio_key& f, unsigned idx) const;
  /// entire + sum of per-page counts (M10 folio_total_mapcount). The loop is skipped when no page
  /// is PTE-mapped, as in Linux. Needs per-page state for large folios.
  long total(const folio_key& f) const;

 private:
  struct large_state {
    unsigned order = 0;
    long entire = 0;
    std::uint32_t nr_pages_mapped = 0;
    std::vector<std::int32_t> pte;  // empty unless per_page_; 4 bytes, as struct page _mapcount
  };
  const large_state* find(const folio_key& f) const;
  large_state& get(const folio_key& f);
  void drop_if_unmapped(const folio_key& f, const large_state& s);

  bool per_page_;
  const precise_counts* truth_;
  // Small folios: pfn -> PTE count. Large folios: head pfn -> state. Entries are erased when the
  // folio becomes unmapped so the tables hold only mapped folios.
  std::unordered_map<arch::pfn_t, long> small_;
  std::unordered_map<arch::pfn_t, large_state> large_;
};

}  // namespace mmsim::mm::mapcount
