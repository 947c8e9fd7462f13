// struct page and the memory map. Eight bytes of kernel metadata per 4 KiB frame, allocated
// in sections on first use, so simulated memory costs host memory only where it is touched.
//
// Field reuse follows Linux's struct page unions (Linux: include/linux/mm_types.h):
//  - head or small folio: _refcount is the folio refcount, _mapcount this page's PTE mapcount;
//  - tail page 1 of a large folio: _refcount indexes the large-folio record (order, entire
//    mapcount, ...); tail page i > 1: _refcount holds i, the distance to the head;
//  - a free block's first page (PG_buddy): _refcount/_mapcount link it into its free list.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "arch/types.hpp"

namespace mmsim::mm {

using arch::pfn_t;

enum page_flag : std::uint8_t {
  PG_buddy = 1u << 0,           // first page of a free block
  PG_head = 1u << 1,            // first page of a large folio
  PG_tail = 1u << 2,            // other pages of a large folio
  PG_anon = 1u << 3,            // folio is anonymous (folio->mapping low bit in Linux)
  PG_anon_exclusive = 1u << 4,  // PageAnonExclusive (M36)
  PG_table = 1u << 5,           // page-table page
  PG_reserved = 1u << 6,        // never allocatable (the shared zero page)
};

struct page {
  std::uint32_t _refcount = 0;
  std::uint32_t _mapcount : 24 = 0;  // logical value: 0 = unmapped
  std::uint32_t flags : 8 = 0;

  bool test(page_flag f) const { return flags & f; }
  void set(page_flag f) { flags = flags | f; }
  void clear(page_flag f) { flags = flags & ~static_cast<std::uint32_t>(f); }
};
static_assert(sizeof(page) == 8, "struct page must stay 8 bytes");

/// mem_map: pfn -> struct page, sectioned (SPARSEMEM-like) and allocated on demand.
class mem_map {
 public:
  static constexpr unsigned SECTION_SHIFT = 10;
  static constexpr pfn_t SECTION_PAGES = pfn_t{1} << SECTION_SHIFT;

  explicit mem_map(pfn_t nr_pages)
      : nr_pages_(nr_pages), sections_((nr_pages + SECTION_PAGES - 1) >> SECTION_SHIFT) {}

  pfn_t nr_pages() const { return nr_pages_; }

  page& operator[](pfn_t pfn) {
    auto& s = sections_[pfn >> SECTION_SHIFT];
    if (!s) [[unlikely]] {
      s = std::make_unique<page[]>(SECTION_PAGES);
      ++nr_sections_;
    }
    return s[pfn & (SECTION_PAGES - 1)];
  }
  /// Read-only view; a page in an untouched section is a zero page struct.
  const page& peek(pfn_t pfn) const {
    static const page blank{};
    auto& s = sections_[pfn >> SECTION_SHIFT];
    return s ? s[pfn & (SECTION_PAGES - 1)] : blank;
  }
  std::size_t host_bytes() const {
    return nr_sections_ * SECTION_PAGES * sizeof(page) + sections_.size() * sizeof(void*);
  }

 private:
  pfn_t nr_pages_;
  std::vector<std::unique_ptr<page[]>> sections_;
  std::size_t nr_sections_ = 0;
};

}  // namespace mmsim::mm
