// Contract: a mapcount scheme sees exactly the kernel's rmap events (add, remove, dup of a run
// of pages of one folio at one level, by one mm) and answers the questions Linux asks of a
// folio. It keeps its own state; the core's precise per-page counts (struct page _mapcount and
// the entire mapcount) are always maintained separately, so a scheme may be approximate and be
// compared against the truth. Callers never branch on the scheme (mm-semantics.md M160).
#pragma once

#include <cstdint>
#include <optional>

#include "arch/types.hpp"

namespace mmsim::mm::mapcount {

enum class rmap_level : std::uint8_t { pte, pmd, pud };

/// The folio an event or question is about: its head frame and order.
struct folio_key {
  arch::pfn_t head;
  unsigned order;
  unsigned nr_pages() const { return 1u << order; }
};

/// Read access to the core's precise counts, for schemes that answer from them.
class precise_counts {
 public:
  virtual ~precise_counts() = default;
  virtual long page_pte_mapcount(arch::pfn_t pfn) const = 0;  // PTEs mapping this page
  virtual long entire_mapcount(const folio_key& f) const = 0;  // PMD/PUD leaves mapping f
};

struct scheme_stats {
  std::uint64_t events = 0;   // rmap calls seen
  std::uint64_t atomics = 0;  // atomic RMWs the scheme's Linux counterpart performs
};

class scheme {
 public:
  virtual ~scheme() = default;
  virtual const char* name() const = 0;

  // Events. `first` is the page index in the folio, `n` pages (n = 1 for pmd/pud).
  virtual void add(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
                   std::uint32_t mm_id) = 0;
  virtual void remove(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
                      std::uint32_t mm_id) = 0;
  /// fork: the child mm gains the mappings the parent has.
  virtual void dup(const folio_key& f, unsigned first, unsigned n, rmap_level lvl,
                   std::uint32_t child_mm_id) {
    add(f, first, n, lvl, child_mm_id);
  }
  /// The folio was freed: forget it.
  virtual void folio_freed(const folio_key& f) = 0;
  /// A large folio is split into folios of `new_order` (Linux __folio_split). As in Linux, its
  /// mappings were first replaced by migration entries (remove events), so the folio is
  /// unmapped here; the remaps after the split arrive as add events on the new folios.
  virtual void folio_split(const folio_key& f, unsigned new_order) = 0;

  // Questions.
  virtual long folio_mapcount(const folio_key& f) const = 0;
  /// nullopt when the scheme keeps no per-page count (CONFIG_NO_PAGE_MAPCOUNT-like).
  virtual std::optional<long> page_mapcount(const folio_key& f, unsigned idx) const = 0;
  virtual bool folio_maybe_mapped_shared(const folio_key& f) const = 0;
  /// khugepaged's per-PTE question (M79/M87): <= 6.9 asked page_mapcount(page) > 1, 6.10+
  /// asks folio_maybe_mapped_shared() (folio_likely_mapped_shared() in 6.10-6.14).
  virtual bool page_shared_for_collapse(const folio_key& f, unsigned /*idx*/) const {
    return folio_maybe_mapped_shared(f);
  }
  /// Write fault on a read-only PTE of a large anon folio (M20): may the page be reused in
  /// place? Only 6.15+ (mm_id) ever says yes; `refcount` is the folio's refcount.
  virtual bool can_reuse_large_anon_folio(const folio_key& f, long refcount) const {
    (void)f;
    (void)refcount;
    return false;
  }
  /// Bytes of metadata Linux would spend on this folio's mapcounts under this scheme.
  virtual unsigned metadata_bytes(unsigned order) const = 0;

  const scheme_stats& stats() const { return stats_; }

 protected:
  scheme_stats stats_;
};

}  // namespace mmsim::mm::mapcount
