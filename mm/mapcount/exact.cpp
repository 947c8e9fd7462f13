// Scheme `exact`: answers every question precisely. Per-page counts come from the core's
// struct page _mapcount; "mapped shared" is decided from the exact set of mms mapping each
// large folio, which this scheme tracks (a small folio maps at most once per mm, M2, so its
// mapcount answers the question). Metadata is what per-page counting costs in Linux: 4 bytes
// of _mapcount per page plus, for a large folio, the entire mapcount and nr_pages_mapped.
#include "mm/mapcount/exact.hpp"

#include <map>
#include <unordered_map>

namespace mmsim::mm::mapcount {
namespace {

class exact final : public scheme {
 public:
  explicit exact(const precise_counts& truth) : truth_(truth) {}
  const char* name() const override { return "exact"; }

  void add(const folio_key& f, unsigned, unsigned n, rmap_level lvl, std::uint32_t mm) override {
    ++stats_.events;
    stats_.atomics += lvl == rmap_level::pte ? n : 1;
    if (f.order) owners_[f.head][mm] += lvl == rmap_level::pte ? n : 1;
  }
  void remove(const folio_key& f, unsigned, unsigned n, rmap_level lvl,
              std::uint32_t mm) override {
    ++stats_.events;
    stats_.atomics += lvl == rmap_level::pte ? n : 1;
    if (!f.order) return;
    auto it = owners_.find(f.head);
    auto& per_mm = it->second;
    auto o = per_mm.find(mm);
    o->second -= lvl == rmap_level::pte ? n : 1;
    if (o->second == 0) per_mm.erase(o);
    if (per_mm.empty()) owners_.erase(it);
  }
  void folio_freed(const folio_key& f) override { owners_.erase(f.head); }
  void folio_split(const folio_key& f, unsigned) override { owners_.erase(f.head); }

  long folio_mapcount(const folio_key& f) const override {
    long total = truth_.entire_mapcount(f);
    for (unsigned i = 0; i < f.nr_pages(); ++i) total += truth_.page_pte_mapcount(f.head + i);
    return total;
  }
  std::optional<long> page_mapcount(const folio_key& f, unsigned idx) const override {
    return truth_.page_pte_mapcount(f.head + idx) + (f.order ? truth_.entire_mapcount(f) : 0);
  }
  bool folio_maybe_mapped_shared(const folio_key& f) const override {
    if (!f.order) return truth_.page_pte_mapcount(f.head) > 1;
    auto it = owners_.find(f.head);
    return it != owners_.end() && it->second.size() > 1;
  }
  // Reuse exactly when it is safe: one mm maps the folio and every reference is a mapping.
  bool can_reuse_large_anon_folio(const folio_key& f, long refcount) const override {
    auto it = owners_.find(f.head);
    return it != owners_.end() && it->second.size() == 1 && refcount == folio_mapcount(f);
  }
  unsigned metadata_bytes(unsigned order) const override {
    return 4u * (1u << order) + (order ? 8u : 0u);
  }

 private:
  const precise_counts& truth_;
  // Large folios only: head pfn -> (mm id -> mappings). Ordered maps keep runs deterministic.
  std::unordered_map<arch::pfn_t, std::map<std::uint32_t, long>> owners_;
};

}  // namespace

std::unique_ptr<scheme> make_exact(const precise_counts& truth) {
  return std::make_unique<exact>(truth);
}

}  // namespace mmsim::mm::mapcount
