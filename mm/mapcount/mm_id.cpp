// Contract: scheme `mm_id` models Linux 6.15+ with CONFIG_MM_ID and PAGE_MAPCOUNT=y, the default
// and the 6.18 oracle's config (mm-semantics.md M14-M20, M22): every large folio keeps
// _large_mapcount, two (mm id, count) slots and the maybe-shared bit, updated by the exact
// algorithm of M16/M17 (a third MM is untracked; the bit is re-evaluated on removal only when a
// slot frees or the MM had no slot), AND the legacy per-page counts, entire mapcount and
// nr_pages_mapped, which 6.15+ still maintains for statistics and smaps (M22).
// folio_maybe_mapped_shared() is M18 (never a false negative; false positives after a third MM,
// M19); CoW reuse of a PTE-mapped large anon folio is M20.
// Scheme `mm_id_nopagemapcount` (constructor flag) is CONFIG_NO_PAGE_MAPCOUNT (M21): no per-page
// counts or nr_pages_mapped for large folios, so page_mapcount() is unavailable for them.
// Deliberately left out: the swap-cache test of M20 (a swap-cached folio holds nr_pages extra
// references, so refcount == large_mapcount already fails), 32-bit slot widths and the per-MM
// count overflow handling, hugetlb (never tracked by MM id), statistics and deferred split.
//
// Atomics counted per event on a large folio (small folios: one _mapcount RMW per call):
//   PTE batch of n pages: n per-page RMWs + 1 nr_pages_mapped add if some page changed state
//                         (M7/M9) + 1 for the bit spinlock (M16)
//   PMD/PUD:              1 entire_mapcount RMW + 1 nr_pages_mapped add if it changed state
//                         (M8/M9) + 1 for the bit spinlock
//   nopagemapcount:       PTE batch 1 (lock); PMD 1 (entire) + 1 (lock)    (M21, §1.10 table)
// Inside the lock Linux reads and sets _large_mapcount and the slot counts with plain
// read/set pairs, not RMWs, and releases the lock with a non-atomic unlock, so neither is
// counted; this matches the §1.10 table ("n + <=1 + 1 (bit lock)").
#include "mm/mapcount/mm_id.hpp"

#include <unordered_map>

#include "mm/bug.hpp"
#include "mm/mapcount/legacy.hpp"

namespace mmsim::mm::mapcount {

long mm_id_owners::add(long diff, std::uint32_t mm) {
  const long before = large_mapcount_;  // step 1
  large_mapcount_ += diff;
  if (id_[0] == mm) {  // step 2
    count_[0] += diff;
  } else if (id_[1] == mm) {
    count_[1] += diff;
  } else if (id_[0] == MM_ID_DUMMY) {  // step 3: others may already map the folio
    id_[0] = mm;
    count_[0] = diff;
    if (before != 0) shared_ = true;
  } else if (id_[1] == MM_ID_DUMMY) {  // step 4: slot 0 belongs to another MM
    id_[1] = mm;
    count_[1] = diff;
    shared_ = true;
  }
  // Step 5: both slots held by other MMs; `mm` stays untracked. The bit was set when the second
  // slot was taken, so nothing changes.
  return large_mapcount_;
}

long mm_id_owners::sub(long diff, std::uint32_t mm) {
  large_mapcount_ -= diff;  // step 1
  MM_BUG_ON(large_mapcount_ < 0, "large_mapcount below zero");
  for (unsigned i = 0; i < 2; ++i) {
    if (id_[i] != mm) continue;
    count_[i] -= diff;
    // Still mapped by this MM: the bit is deliberately not re-evaluated (M17 step 2).
    if (count_[i] > 0) return large_mapcount_;
    // <= 0 is legitimate when `mm` mapped pages while untracked and unmaps them after taking a
    // slot (M17): clamp to free.
    id_[i] = MM_ID_DUMMY;
    count_[i] = 0;
    break;
  }
  // Step 3: if one slot accounts for every mapping, no other MM can map the folio.
  if (count_[0] == large_mapcount_ || count_[1] == large_mapcount_) shared_ = false;
  return large_mapcount_;
}

namespace {

class mm_id_scheme final : public scheme {
 public:
  mm_id_scheme(bool page_mapcount, const precise_counts& t)
      : page_mapcount_(page_mapcount), counts_(page_mapcount, &t) {}
  const char* name() const override {
    return page_mapcount_ ? "mm_id" : "mm_id_nopagemapcount";
  }

  void add(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
           std::uint32_t mm) override {
    ++stats_.events;
    stats_.atomics += counts_.add(f, first, n, lvl);
    if (f.order == 0) return;
    MM_BUG_ON(mm == mm_id_owners::MM_ID_DUMMY || mm > mm_id_owners::MM_ID_MAX,
              "mm id outside [1, 2^31-1] (M15)");
    owners_[f.head].add(mappings(n, lvl), mm);
    ++stats_.atomics;  // bit spinlock
  }
  void remove(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
              std::uint32_t mm) override {
    ++stats_.events;
    stats_.atomics += counts_.remove(f, first, n, lvl);
    if (f.order == 0) return;
    auto it = owners_.find(f.head);
    MM_BUG_ON(it == owners_.end(), "removing a mapping of an unmapped large folio");
    ++stats_.atomics;  // bit spinlock
    if (it->second.sub(mappings(n, lvl), mm) != 0) return;
    // M42.4: an unmapped folio has both slots free and the bit clear. Erasing it then loses
    // nothing, so the table holds only mapped folios.
    MM_BUG_ON(it->second.maybe_shared_bit() || it->second.slot_id(0) || it->second.slot_id(1),
              "unmapped large folio still has MM-id state");
    owners_.erase(it);
  }
  void folio_freed(const folio_key& f) override { forget(f); }
  // The folio arrives unmapped (scheme.hpp); its new folios start with free slots, as Linux's
  // split leaves them.
  void folio_split(const folio_key& f, unsigned) override { forget(f); }

  long folio_mapcount(const folio_key& f) const override {
    if (f.order == 0) return counts_.total(f);
    const mm_id_owners* o = find(f);
    return o ? o->large_mapcount() : 0;
  }
  std::optional<long> page_mapcount(const folio_key& f, unsigned idx) const override {
    // A small folio's _mapcount is its only counter and exists in every config (M21).
    if (f.order && !page_mapcount_) return std::nullopt;
    return counts_.page_mapcount(f, idx);
  }
  bool folio_maybe_mapped_shared(const folio_key& f) const override {  // M18
    if (f.order == 0) return counts_.total(f) > 1;
    const mm_id_owners* o = find(f);
    return o && o->maybe_mapped_shared();
  }
  bool can_reuse_large_anon_folio(const folio_key& f, long refcount) const override {  // M20
    if (f.order == 0) return false;
    const mm_id_owners* o = find(f);
    if (!o) return false;
    // With a single mapping left Linux prefers to copy and let the large folio go.
    if (o->large_mapcount() <= 1) return false;
    // The bit itself, not M18: a clear bit means one MM holds every mapping.
    if (o->maybe_shared_bit()) return false;
    // Every reference is a mapping of that one MM (M32): nobody else can see the page.
    return refcount == o->large_mapcount();
  }
  // Large folio: large_mapcount 4 + entire 4 + 16 bytes of slots (ids and counts, lock and
  // shared bits inside them), plus nr_pages_mapped 4 and 4 bytes per page with PAGE_MAPCOUNT
  // (M14, §1.10). A small folio has only its _mapcount.
  unsigned metadata_bytes(unsigned order) const override {
    if (order == 0) return 4;
    return 24u + (page_mapcount_ ? 4u + 4u * (1u << order) : 0u);
  }

 private:
  static long mappings(unsigned n, rmap_level lvl) { return lvl == rmap_level::pte ? n : 1; }
  const mm_id_owners* find(const folio_key& f) const {
    auto it = owners_.find(f.head);
    return it == owners_.end() ? nullptr : &it->second;
  }
  void forget(const folio_key& f) {
    counts_.forget(f);
    owners_.erase(f.head);
  }

  bool page_mapcount_;
  page_counts counts_;  // per-page state only with PAGE_MAPCOUNT; small folios and entire always
  std::unordered_map<arch::pfn_t, mm_id_owners> owners_;  // large folios, erased when unmapped
};

}  // namespace

std::unique_ptr<scheme> make_mm_id(const precise_counts& t) {
  return std::make_unique<mm_id_scheme>(true, t);
}
std::unique_ptr<scheme> make_mm_id_nopagemapcount(const precise_counts& t) {
  return std::make_unique<mm_id_scheme>(false, t);
}

}  // namespace mmsim::mm::mapcount
