// Shadow mode (mm-semantics.md M160, M161): the driving scheme decides, the shadow schemes see
// the same rmap events, and at every decision site each one is asked what it would have
// answered and scored against the ground truth the caller computed from the page tables.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mm/mapcount/scheme.hpp"

namespace mmsim::mm::mapcount {

/// Where Linux asks "mapped shared?" (M41). The answer and the truth differ per site:
enum class decision_site : std::uint8_t {
  khugepaged_shared_pte,  // page_shared_for_collapse(f, idx); truth: the page is shared
  cow_reuse,              // can_reuse_large_anon_folio(f, refcount); truth: one MM maps f and
                          // refcount == mapcount (so "true" = reuse is safe)
  folio_mapped_shared,    // folio_maybe_mapped_shared(f): smaps, MADV_PAGEOUT/COLD/FREE, ...
};
inline constexpr unsigned nr_decision_sites = 3;
const char* site_name(decision_site s);

/// One (scheme, site) score. A false positive answered true while the truth was false.
struct shadow_row {
  std::string scheme;
  std::string site;
  std::uint64_t asked = 0;
  std::uint64_t agree = 0;
  std::uint64_t false_positive = 0;
  std::uint64_t false_negative = 0;
};

class shadow_set {
 public:
  /// Builds the schemes named in `names` (registry names; the single name "all" means every
  /// registered scheme but the driver) with the same `truth`. `driver` (may be null) is scored
  /// too but never fed events: the kernel already feeds it. A name equal to the driver's is
  /// skipped for that reason; duplicates are ignored. Throws std::invalid_argument for a name
  /// not in the registry (check first with unknown_names()).
  shadow_set(const precise_counts& truth, std::span<const std::string> names,
             const scheme* driver = nullptr);
  shadow_set(const shadow_set&) = delete;
  shadow_set& operator=(const shadow_set&) = delete;
  ~shadow_set();

  /// "" if every name is known, else a message naming the unknown ones and the known ones.
  static std::string unknown_names(std::span<const std::string> names);

  // Events, forwarded to every shadow (never to the driver).
  void add(const folio_key& f, unsigned first, unsigned n, rmap_level lvl, std::uint32_t mm);
  void remove(const folio_key& f, unsigned first, unsigned n, rmap_level lvl, std::uint32_t mm);
  void dup(const folio_key& f, unsigned first, unsigned n, rmap_level lvl, std::uint32_t child);
  void folio_freed(const folio_key& f);
  void folio_split(const folio_key& f, unsigned new_order);

  /// Asks the driver and every shadow its answer at `site` and scores it against `truth`.
  /// `idx` is used by khugepaged_shared_pte, `refcount` by cow_reuse.
  void record(decision_site site, const folio_key& f, unsigned idx, bool truth, long refcount);

  /// Every (scheme, site) pair, asked or not, sorted by scheme name then site name.
  std::vector<shadow_row> report() const;
  /// The shadows in registry order (for invariant checks and cost ledgers).
  std::span<const std::unique_ptr<scheme>> shadows() const { return shadows_; }

 private:
  struct score {
    std::uint64_t asked = 0, agree = 0, false_positive = 0, false_negative = 0;
  };
  void score_one(const scheme& s, std::vector<score>& sc, decision_site site, const folio_key& f,
                 unsigned idx, bool truth, long refcount);

  const scheme* driver_;
  std::vector<std::unique_ptr<scheme>> shadows_;
  std::vector<std::vector<score>> scores_;  // [shadow][site]
  std::vector<score> driver_scores_;        // [site]
};

}  // namespace mmsim::mm::mapcount
