// Buddy allocator (Linux: mm/page_alloc.c), orders 0..MAX_PAGE_ORDER. Blocks split and merge
// with their buddies, so fragmentation is real: an order-9 request fails when no aligned free
// 2M block is left, however much order-0 memory is free. Policy: lowest free block first, which
// keeps replay deterministic.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "arch/types.hpp"
#include "mm/hbitmap.hpp"

namespace mmsim::mm {

using arch::pfn_t;

inline constexpr unsigned MAX_PAGE_ORDER = 18;  // 1 GiB blocks of 4K pages

class buddy_allocator {
 public:
  /// Manages frames [first, end); frames below `first` are reserved.
  buddy_allocator(pfn_t first, pfn_t end);

  std::optional<pfn_t> alloc(unsigned order);
  void free(pfn_t pfn, unsigned order);
  /// Whether `pfn` lies in a free block (for invariant checks).
  bool is_free(pfn_t pfn) const;

  std::uint64_t nr_free_pages() const { return nr_free_; }
  std::uint64_t nr_free_blocks(unsigned order) const { return blocks_[order]; }
  std::size_t host_bytes() const;

 private:
  pfn_t end_;
  std::uint64_t nr_free_ = 0;
  std::array<hbitmap, MAX_PAGE_ORDER + 1> free_;
  std::array<std::uint64_t, MAX_PAGE_ORDER + 1> blocks_{};
};

}  // namespace mmsim::mm
