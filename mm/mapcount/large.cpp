// Contract: scheme `large` models Linux 6.10-6.14 (mm-semantics.md M11-M13). It keeps
// everything `legacy` keeps (per-page PTE counts, entire mapcount, nr_pages_mapped; M11 says
// they are all still maintained) plus each large folio's _large_mapcount, the total of its PTE
// and PMD/PUD mappings, so folio_mapcount() is O(1). "Shared?" is folio_likely_mapped_shared()
// exactly as M12 gives it, including its false negatives for folios partially mapped in every
// MM (M13); khugepaged asks that folio-level question for every PTE (M87), which is the
// interface's default page_shared_for_collapse().
// Deliberately left out: statistics and deferred-split queueing (core), hugetlb folios (M12 step
// 1 would answer mapcount > 1 for them; folio_key cannot tell them apart), counter overflow.
// CoW reuse of PTE-mapped large folios does not exist before 6.15 (M20): the default "no" stays.
#include "mm/mapcount/large.hpp"

#include <unordered_map>

#include "mm/bug.hpp"
#include "mm/mapcount/legacy.hpp"

namespace mmsim::mm::mapcount {
namespace {

class large final : public scheme {
 public:
  explicit large(const precise_counts& t) : counts_(true, &t) {}
  const char* name() const override { return "large"; }

  void add(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
           std::uint32_t) override {
    ++stats_.events;
    stats_.atomics += counts_.add(f, first, n, lvl);
    if (f.order == 0) return;
    large_mapcount_[f.head] += mappings(n, lvl);
    ++stats_.atomics;  // atomic_add on _large_mapcount: n for a PTE batch, 1 for a PMD (M11)
  }
  void remove(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
              std::uint32_t) override {
    ++stats_.events;
    stats_.atomics += counts_.remove(f, first, n, lvl);
    if (f.order == 0) return;
    auto it = large_mapcount_.find(f.head);
    MM_BUG_ON(it == large_mapcount_.end(), "removing a mapping of an unmapped large folio");
    if ((it->second -= mappings(n, lvl)) == 0) large_mapcount_.erase(it);
    ++stats_.atomics;
  }
  void folio_freed(const folio_key& f) override { forget(f); }
  // The folio arrives unmapped (scheme.hpp), so there is nothing to redistribute.
  void folio_split(const folio_key& f, unsigned) override { forget(f); }

  long folio_mapcount(const folio_key& f) const override {
    return f.order ? total(f) : counts_.total(f);
  }
  std::optional<long> page_mapcount(const folio_key& f, unsigned idx) const override {
    return counts_.page_mapcount(f, idx);
  }
  // folio_likely_mapped_shared(), M12 step by step.
  bool folio_maybe_mapped_shared(const folio_key& f) const override {
    if (f.order == 0) return counts_.total(f) > 1;                        // step 1
    const long t = total(f);
    if (t <= 1) return false;                                             // step 2
    if (counts_.entire(f) > 0 || t > long(f.nr_pages())) return true;     // step 3
    return counts_.pte_count(f, 0) >= 2;  // step 4: page 0's own PTE count, not page_mapcount
  }
  // 4 bytes of _mapcount per page; a large folio adds entire, nr_pages_mapped, large_mapcount.
  unsigned metadata_bytes(unsigned order) const override {
    return 4u * (1u << order) + (order ? 12u : 0u);
  }

 private:
  static long mappings(unsigned n, rmap_level lvl) { return lvl == rmap_level::pte ? n : 1; }
  long total(const folio_key& f) const {
    auto it = large_mapcount_.find(f.head);
    return it == large_mapcount_.end() ? 0 : it->second;
  }
  void forget(const folio_key& f) {
    counts_.forget(f);
    large_mapcount_.erase(f.head);
  }

  page_counts counts_;
  std::unordered_map<arch::pfn_t, long> large_mapcount_;  // large folios only, erased at 0
};

}  // namespace

std::unique_ptr<scheme> make_large(const precise_counts& t) { return std::make_unique<large>(t); }

}  // namespace mmsim::mm::mapcount
