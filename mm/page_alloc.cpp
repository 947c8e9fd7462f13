#include "mm/page_alloc.hpp"

#include "mm/bug.hpp"

namespace mmsim::mm {

buddy_allocator::buddy_allocator(pfn_t first, pfn_t end) : end_(end) {
  for (unsigned o = 0; o <= MAX_PAGE_ORDER; ++o) free_[o].resize((end >> o) + 1);
  // Carve [first, end) into the largest naturally aligned blocks.
  pfn_t p = first;
  while (p < end) {
    unsigned o = MAX_PAGE_ORDER;
    while (o > 0 && ((p & ((pfn_t{1} << o) - 1)) != 0 || p + (pfn_t{1} << o) > end)) --o;
    free_[o].set(p >> o);
    ++blocks_[o];
    nr_free_ += pfn_t{1} << o;
    p += pfn_t{1} << o;
  }
}

std::optional<pfn_t> buddy_allocator::alloc(unsigned order) {
  if (order > MAX_PAGE_ORDER) return std::nullopt;
  unsigned o = order;
  std::optional<std::uint64_t> idx;
  for (; o <= MAX_PAGE_ORDER; ++o)
    if ((idx = free_[o].find_first())) break;
  if (!idx) return std::nullopt;
  free_[o].clear(*idx);
  --blocks_[o];
  std::uint64_t i = *idx;
  while (o > order) {  // split, keeping the lower half, freeing the upper buddy
    --o;
    i <<= 1;
    free_[o].set(i | 1);
    ++blocks_[o];
  }
  nr_free_ -= pfn_t{1} << order;
  return i << order;
}

void buddy_allocator::free(pfn_t pfn, unsigned order) {
  MM_BUG_ON((pfn & ((pfn_t{1} << order) - 1)) != 0, "freeing a misaligned block");
  MM_BUG_ON(is_free(pfn), "double free of a page");
  nr_free_ += pfn_t{1} << order;
  std::uint64_t i = pfn >> order;
  while (order < MAX_PAGE_ORDER) {
    const std::uint64_t buddy = i ^ 1;
    if (((buddy + 1) << order) > end_ || !free_[order].test(buddy)) break;
    free_[order].clear(buddy);
    --blocks_[order];
    i >>= 1;
    ++order;
  }
  free_[order].set(i);
  ++blocks_[order];
}

bool buddy_allocator::is_free(pfn_t pfn) const {
  for (unsigned o = 0; o <= MAX_PAGE_ORDER; ++o)
    if ((pfn >> o) < ((end_ >> o) + 1) && free_[o].test(pfn >> o)) return true;
  return false;
}

std::size_t buddy_allocator::host_bytes() const {
  std::size_t b = 0;
  for (auto& f : free_) b += f.host_bytes();
  return b;
}

}  // namespace mmsim::mm
