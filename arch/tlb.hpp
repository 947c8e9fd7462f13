// One set-associative TLB structure for one page size, with LRU replacement. Entries are tagged
// by ASID (x86 PCID / arm64 ASID) and virtual page number. A structure with 0 entries models a
// CPU that has none: every lookup misses, fills are dropped.
//
// Host-speed note: a direct-mapped hint table remembers which way last held a tag, so even a
// 64-way fully associative structure answers a hit with one probe. The hint never changes what
// hits: a hint is trusted only after the tag is compared.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/profile.hpp"
#include "arch/types.hpp"

namespace mmsim::arch {

enum tlb_perm : std::uint8_t {
  TLB_WRITE = 1u << 0,  // writes allowed
  TLB_DIRTY = 1u << 1,  // the leaf's D bit was set when the entry was filled
  TLB_EXEC = 1u << 2,
  TLB_USER = 1u << 3,
};

struct tlb_entry {
  pfn_t pfn = 0;  // first 4K frame of the page this entry maps
  std::uint32_t lru = 0;
  std::uint8_t perm = 0;
};

struct tlb_stats {
  std::uint64_t hits = 0, misses = 0, fills = 0, evictions = 0, invalidations = 0;
};

class tlb_array {
 public:
  tlb_array(tlb_geometry g, unsigned page_shift);

  /// The entry translating `va` in address space `asid`, or nullptr. Counts a hit or a miss.
  tlb_entry* lookup(std::uint16_t asid, vaddr_t va) {
    if (sets_ == 0) [[unlikely]] {
      ++stats_.misses;
      return nullptr;
    }
    const std::uint64_t t = tag(asid, va);
    const std::uint32_t h = hint_[hint_slot(t)];
    if (h < tags_.size() && tags_[h] == t) [[likely]] {
      ++stats_.hits;
      entries_[h].lru = ++clock_;
      return &entries_[h];
    }
    return lookup_slow(t);
  }
  /// Looks without counting or touching LRU (invariant checks, tests).
  const tlb_entry* probe(std::uint16_t asid, vaddr_t va) const;
  void fill(std::uint16_t asid, vaddr_t va, pfn_t pfn, std::uint8_t perm);
  /// Drops the entry for `va` (INVLPG / INVPCID individual address / TLBI VAE1).
  void invalidate_page(std::uint16_t asid, vaddr_t va);
  void invalidate_asid(std::uint16_t asid);
  void invalidate_all();

  unsigned page_shift() const { return page_shift_; }
  unsigned capacity() const { return static_cast<unsigned>(tags_.size()); }
  const tlb_stats& stats() const { return stats_; }

  /// Visits every valid entry as (asid, va of the page, entry).
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < tags_.size(); ++i)
      if (tags_[i] != INVALID)
        f(static_cast<std::uint16_t>(tags_[i] & 0xffff), (tags_[i] >> 16) << page_shift_, entries_[i]);
  }

 private:
  static constexpr std::uint64_t INVALID = ~std::uint64_t{0};
  std::uint64_t tag(std::uint16_t asid, vaddr_t va) const {
    return ((va >> page_shift_) << 16) | asid;
  }
  unsigned set_of(std::uint64_t t) const { return static_cast<unsigned>((t >> 16) % sets_); }
  std::size_t hint_slot(std::uint64_t t) const {
    return static_cast<std::size_t>((t * 0x9E3779B97F4A7C15ull) >> hint_shift_);
  }
  tlb_entry* lookup_slow(std::uint64_t t);
  int find(std::uint64_t t) const;

  unsigned page_shift_;
  unsigned sets_ = 0, ways_ = 0;
  unsigned hint_shift_ = 63;
  std::uint32_t clock_ = 0;
  std::vector<std::uint64_t> tags_;
  std::vector<tlb_entry> entries_;
  std::vector<std::uint32_t> hint_;
  tlb_stats stats_;
};

}  // namespace mmsim::arch
