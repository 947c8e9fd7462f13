// Contract: scheme `legacy` models Linux 6.3-6.9 (mm-semantics.md M6-M10). It keeps its own
// per-page PTE counts, each large folio's entire mapcount and nr_pages_mapped (low 23 bits =
// pages with a PTE mapping, bit 0x800000 = PMD/PUD-mapped), and answers every count exactly.
// "Shared?" is the 6.4-6.9 estimate folio_estimated_sharers() > 1, i.e. page 0's page_mapcount
// > 1, so it misses sharing of the other pages (M10); khugepaged's per-PTE test is the exact
// page_mapcount(page) > 1 of that era (M87).
// Deliberately left out: the NR_ANON_MAPPED/NR_*_PMDMAPPED statistics and deferred-split
// queueing (the core keeps those), hugetlb (no hugetlb flag in folio_key; PUD leaves are counted
// like PMD leaves, as entire mappings), 32-bit counter widths and overflow, the 6.2
// COMPOUND_MAPPED spelling and DoubleMap (<= 6.1, M5).
#include "mm/mapcount/legacy.hpp"

#include <string>

#include "mm/bug.hpp"

namespace mmsim::mm::mapcount {

namespace {

// Looks a large folio up in either constness of the table. A leftover entry of another order
// means a folio was freed or split while still mapped: the event stream broke M160.
template <class table>
auto* find_large(table& t, const folio_key& f) {
  auto it = t.find(f.head);
  decltype(&it->second) s = it == t.end() ? nullptr : &it->second;
  MM_BUG_ON(s && s->order != f.order,
            "mapcount state of pfn " + std::to_string(f.head) + " has a different order");
  return s;
}

}  // namespace

const page_counts::large_state* page_counts::find(const folio_key& f) const {
  return find_large(large_, f);
}

page_counts::large_state& page_counts::get(const folio_key& f) {
  if (large_state* s = find_large(large_, f)) return *s;
  large_state& s = large_[f.head];
  s.order = f.order;
  if (per_page_) s.pte.assign(f.nr_pages(), 0);
  return s;
}

void page_counts::drop_if_unmapped(const folio_key& f, const large_state& s) {
  if (s.entire == 0 && s.nr_pages_mapped == 0) large_.erase(f.head);
}

unsigned page_counts::add(const folio_key& f, unsigned first, unsigned n, rmap_level lvl) {
  MM_BUG_ON(n == 0 || first + n > f.nr_pages(), "rmap run outside the folio");
  if (f.order == 0) {
    MM_BUG_ON(lvl != rmap_level::pte, "a small folio can only be PTE-mapped");
    if (!truth_) ++small_[f.head];
    return 1;  // atomic_inc_and_test(&folio->_mapcount)
  }
  if (lvl == rmap_level::pte && !per_page_) return 0;  // M21: PTE maps touch only large_mapcount
  large_state& s = get(f);
  if (lvl != rmap_level::pte) {
    // M8: entire_mapcount += 1; the first entire mapping sets ENTIRELY_MAPPED (M21: only with
    // per-page state, nr_pages_mapped does not exist otherwise).
    if (++s.entire > 1 || !per_page_) return 1;
    s.nr_pages_mapped += ENTIRELY_MAPPED;
    return 2;
  }
  unsigned newly = 0;  // pages that went from 0 to 1 PTE mapping ("first" in M7)
  for (unsigned i = first; i < first + n; ++i) newly += s.pte[i]++ == 0;
  if (newly == 0) return n;
  s.nr_pages_mapped += newly;
  return n + 1;
}

unsigned page_counts::remove(const folio_key& f, unsigned first, unsigned n, rmap_level lvl) {
  MM_BUG_ON(n == 0 || first + n > f.nr_pages(), "rmap run outside the folio");
  if (f.order == 0) {
    if (truth_) return 1;
    auto it = small_.find(f.head);
    MM_BUG_ON(it == small_.end(), "removing a mapping of an unmapped small folio");
    if (--it->second == 0) small_.erase(it);
    return 1;
  }
  if (lvl == rmap_level::pte && !per_page_) return 0;
  large_state* found = find_large(large_, f);
  MM_BUG_ON(!found, "removing a mapping of an unmapped large folio");
  large_state& s = *found;
  unsigned atomics = 0;
  if (lvl != rmap_level::pte) {
    MM_BUG_ON(s.entire == 0, "removing an entire mapping that does not exist");
    atomics = 1;
    if (--s.entire == 0 && per_page_) {
      s.nr_pages_mapped -= ENTIRELY_MAPPED;
      atomics = 2;
    }
  } else {
    unsigned gone = 0;  // pages that lost their last PTE mapping ("last" in M9)
    for (unsigned i = first; i < first + n; ++i) {
      MM_BUG_ON(s.pte[i] == 0, "removing a PTE mapping that does not exist");
      gone += --s.pte[i] == 0;
    }
    s.nr_pages_mapped -= gone;
    atomics = n + (gone ? 1 : 0);
  }
  drop_if_unmapped(f, s);
  return atomics;
}

void page_counts::forget(const folio_key& f) {
  if (f.order == 0) small_.erase(f.head);
  else large_.erase(f.head);
}

long page_counts::pte_count(const folio_key& f, unsigned idx) const {
  if (f.order == 0) {
    if (truth_) return truth_->page_pte_mapcount(f.head);
    auto it = small_.find(f.head);
    return it == small_.end() ? 0 : it->second;
  }
  MM_BUG_ON(!per_page_, "no per-page counts without PAGE_MAPCOUNT");
  const large_state* s = find(f);
  return s ? s->pte[idx] : 0;
}

long page_counts::entire(const folio_key& f) const {
  if (f.order == 0) return 0;
  const large_state* s = find(f);
  return s ? s->entire : 0;
}

std::uint32_t page_counts::nr_pages_mapped(const folio_key& f) const {
  if (f.order == 0) return 0;
  const large_state* s = find(f);
  return s ? s->nr_pages_mapped : 0;
}

long page_counts::page_mapcount(const folio_key& f, unsigned idx) const {
  return pte_count(f, idx) + entire(f);
}

long page_counts::total(const folio_key& f) const {
  if (f.order == 0) return pte_count(f, 0);
  MM_BUG_ON(!per_page_, "no per-page counts to sum without PAGE_MAPCOUNT");
  const large_state* s = find(f);
  if (!s) return 0;
  long sum = s->entire;
  if ((s->nr_pages_mapped & FOLIO_PAGES_MAPPED) == 0) return sum;  // no PTE maps: O(1)
  for (std::int32_t c : s->pte) sum += c;
  return sum;
}

namespace {

class legacy final : public scheme {
 public:
  explicit legacy(const precise_counts& t) : counts_(true, &t) {}
  const char* name() const override { return "legacy"; }

  void add(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
           std::uint32_t) override {
    ++stats_.events;
    stats_.atomics += counts_.add(f, first, n, lvl);
  }
  void remove(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
              std::uint32_t) override {
    ++stats_.events;
    stats_.atomics += counts_.remove(f, first, n, lvl);
  }
  void folio_freed(const folio_key& f) override { counts_.forget(f); }
  // The folio arrives unmapped (scheme.hpp), so there is nothing to redistribute.
  void folio_split(const folio_key& f, unsigned) override { counts_.forget(f); }

  long folio_mapcount(const folio_key& f) const override { return counts_.total(f); }
  std::optional<long> page_mapcount(const folio_key& f, unsigned idx) const override {
    return counts_.page_mapcount(f, idx);
  }
  // folio_estimated_sharers(): only page 0 is looked at, entire mapcount included (M10, §8.1).
  bool folio_maybe_mapped_shared(const folio_key& f) const override {
    return counts_.page_mapcount(f, 0) > 1;
  }
  // <= 6.9 khugepaged asked about the page under each PTE, exactly (M87).
  bool page_shared_for_collapse(const folio_key& f, unsigned idx) const override {
    return counts_.page_mapcount(f, idx) > 1;
  }
  // 4 bytes of _mapcount per page; a large folio adds entire_mapcount and nr_pages_mapped.
  unsigned metadata_bytes(unsigned order) const override {
    return 4u * (1u << order) + (order ? 8u : 0u);
  }

 private:
  page_counts counts_;
};

}  // namespace

std::unique_ptr<scheme> make_legacy(const precise_counts& t) { return std::make_unique<legacy>(t); }

}  // namespace mmsim::mm::mapcount
