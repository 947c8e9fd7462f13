// Contract: schemes `always_shared` and `never_shared` model no Linux version. They reproduce
// John Hubbard's black-box experiment of seed 003 (mm-semantics.md M31, M88): the shared/
// exclusive answer is replaced by a constant, everywhere it is asked (folio_maybe_mapped_shared,
// khugepaged's per-PTE test, and the "bit clear" condition of CoW reuse), for small and large
// folios alike, as pasting `true`/`false` into folio_likely_mapped_shared() did. Counts are kept
// exactly in the schemes' own per-page state (legacy's page_counts), so refcount checks and
// the mapcount invariants still hold (M31).
// CoW reuse otherwise follows M20: never_shared reuses a large folio whenever it has >= 2
// mappings and refcount == mapcount, which shows what a wrong "exclusive" costs (a write that
// another MM would see); always_shared never reuses.
// Deliberately left out: any cost model of its own. Atomics are those of the per-page state it
// keeps (legacy's, M7-M9); metadata is legacy's layout.
#include "mm/mapcount/inject.hpp"

#include "mm/mapcount/legacy.hpp"

namespace mmsim::mm::mapcount {
namespace {

class injected final : public scheme {
 public:
  injected(bool answer, const precise_counts& t) : answer_(answer), counts_(true, &t) {}
  const char* name() const override { return answer_ ? "always_shared" : "never_shared"; }

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
  void folio_split(const folio_key& f, unsigned) override { counts_.forget(f); }

  long folio_mapcount(const folio_key& f) const override { return counts_.total(f); }
  std::optional<long> page_mapcount(const folio_key& f, unsigned idx) const override {
    return counts_.page_mapcount(f, idx);
  }
  bool folio_maybe_mapped_shared(const folio_key&) const override { return answer_; }
  bool page_shared_for_collapse(const folio_key&, unsigned) const override { return answer_; }
  bool can_reuse_large_anon_folio(const folio_key& f, long refcount) const override {
    if (answer_ || f.order == 0) return false;
    const long total = counts_.total(f);
    return total >= 2 && refcount == total;
  }
  unsigned metadata_bytes(unsigned order) const override {
    return 4u * (1u << order) + (order ? 8u : 0u);
  }

 private:
  bool answer_;  // the constant every shared question gets
  page_counts counts_;
};

}  // namespace

std::unique_ptr<scheme> make_always_shared(const precise_counts& t) {
  return std::make_unique<injected>(true, t);
}
std::unique_ptr<scheme> make_never_shared(const precise_counts& t) {
  return std::make_unique<injected>(false, t);
}

}  // namespace mmsim::mm::mapcount
