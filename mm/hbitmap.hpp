// Hierarchical bitmap: set/clear/test and find-first-set in O(log64 n). The buddy allocator
// keeps one per order as the record of which blocks are free (a quarter byte per page in all).
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <vector>

namespace mmsim::mm {

class hbitmap {
 public:
  explicit hbitmap(std::uint64_t nbits = 0) { resize(nbits); }
  void resize(std::uint64_t nbits) {
    levels_.clear();
    std::uint64_t n = nbits;
    do {
      n = n > 64 ? (n + 63) / 64 : 1;  // at least one word, so an empty bitmap can be asked
      levels_.emplace_back(n, 0);
    } while (n > 1);
  }
  bool test(std::uint64_t i) const { return levels_[0][i >> 6] >> (i & 63) & 1; }
  void set(std::uint64_t i) {
    for (auto& l : levels_) {
      const bool was_empty = l[i >> 6] == 0;
      l[i >> 6] |= 1ull << (i & 63);
      if (!was_empty) return;
      i >>= 6;
    }
  }
  void clear(std::uint64_t i) {
    for (auto& l : levels_) {
      l[i >> 6] &= ~(1ull << (i & 63));
      if (l[i >> 6] != 0) return;
      i >>= 6;
    }
  }
  std::optional<std::uint64_t> find_first() const {
    if (levels_.back()[0] == 0) return std::nullopt;
    std::uint64_t i = 0;
    for (auto l = levels_.size(); l-- > 0;)
      i = (i << 6) | static_cast<std::uint64_t>(std::countr_zero(levels_[l][i]));
    return i;
  }
  std::size_t host_bytes() const {
    std::size_t b = 0;
    for (auto& l : levels_) b += l.size() * sizeof(std::uint64_t);
    return b;
  }

 private:
  std::vector<std::vector<std::uint64_t>> levels_;
};

}  // namespace mmsim::mm
