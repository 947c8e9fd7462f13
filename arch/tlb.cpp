#include "arch/tlb.hpp"

#include <bit>

namespace mmsim::arch {

tlb_array::tlb_array(tlb_geometry g, unsigned page_shift) : page_shift_(page_shift) {
  if (g.entries == 0) return;
  ways_ = g.ways;
  sets_ = g.entries / g.ways;
  tags_.assign(g.entries, INVALID);
  entries_.assign(g.entries, tlb_entry{});
  const std::size_t hint_size = std::bit_ceil(std::size_t{g.entries} * 4);
  hint_shift_ = 64 - static_cast<unsigned>(std::countr_zero(hint_size));
  hint_.assign(hint_size, ~std::uint32_t{0});
}

int tlb_array::find(std::uint64_t t) const {
  const unsigned base = set_of(t) * ways_;
  for (unsigned w = 0; w < ways_; ++w)
    if (tags_[base + w] == t) return static_cast<int>(base + w);
  return -1;
}

tlb_entry* tlb_array::lookup_slow(std::uint64_t t) {
  int i = find(t);
  if (i < 0) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  hint_[hint_slot(t)] = static_cast<std::uint32_t>(i);
  entries_[i].lru = ++clock_;
  return &entries_[i];
}

const tlb_entry* tlb_array::probe(std::uint16_t asid, vaddr_t va) const {
  if (sets_ == 0) return nullptr;
  int i = find(tag(asid, va));
  return i < 0 ? nullptr : &entries_[i];
}

void tlb_array::fill(std::uint16_t asid, vaddr_t va, pfn_t pfn, std::uint8_t perm) {
  if (sets_ == 0) return;
  const std::uint64_t t = tag(asid, va);
  int i = find(t);
  if (i < 0) {
    const unsigned base = set_of(t) * ways_;
    unsigned victim = base;
    for (unsigned w = 0; w < ways_; ++w) {
      const unsigned j = base + w;
      if (tags_[j] == INVALID) {
        victim = j;
        break;
      }
      if (entries_[j].lru < entries_[victim].lru) victim = j;
    }
    if (tags_[victim] != INVALID) ++stats_.evictions;
    i = static_cast<int>(victim);
    tags_[i] = t;
  }
  ++stats_.fills;
  entries_[i] = tlb_entry{pfn, ++clock_, perm};
  hint_[hint_slot(t)] = static_cast<std::uint32_t>(i);
}

void tlb_array::invalidate_page(std::uint16_t asid, vaddr_t va) {
  if (sets_ == 0) return;
  int i = find(tag(asid, va));
  if (i < 0) return;
  tags_[i] = INVALID;
  ++stats_.invalidations;
}

void tlb_array::invalidate_asid(std::uint16_t asid) {
  for (auto& t : tags_)
    if (t != INVALID && (t & 0xffff) == asid) {
      t = INVALID;
      ++stats_.invalidations;
    }
}

void tlb_array::invalidate_all() {
  for (auto& t : tags_)
    if (t != INVALID) {
      t = INVALID;
      ++stats_.invalidations;
    }
}

}  // namespace mmsim::arch
