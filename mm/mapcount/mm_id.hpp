// Scheme `mm_id` (Linux 6.15+, CONFIG_MM_ID): MM owner tracking of large folios with two
// (mm id, count) slots and a maybe-shared bit (mm-semantics.md M14-M22). `mm_id_owners` is the
// per-folio algorithm on its own, so tests and invariant checks can look inside it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "mm/mapcount/scheme.hpp"

namespace mmsim::mm::mapcount {

/// Default 6.15+ config (PAGE_MAPCOUNT=y, as on the 6.18 oracle): slots + legacy counts (M22).
std::unique_ptr<scheme> make_mm_id(const precise_counts& truth);
/// CONFIG_NO_PAGE_MAPCOUNT (M21): slots only, no per-page state for large folios.
std::unique_ptr<scheme> make_mm_id_nopagemapcount(const precise_counts& truth);

/// One large folio's _large_mapcount, _mm_id[2], _mm_id_mapcount[2] and maybe-shared bit, with
/// the add/remove algorithm of M16/M17. Logical values: a free slot has id 0 and count 0.
class mm_id_owners {
 public:
  static constexpr std::uint32_t MM_ID_DUMMY = 0;         // the free-slot id (M15)
  static constexpr std::uint32_t MM_ID_MAX = (1u << 31) - 1;  // 31-bit ids on 64-bit (M14)

  /// M16: `diff` mappings added by `mm`; returns the new large_mapcount.
  long add(long diff, std::uint32_t mm);
  /// M17: `diff` mappings removed by `mm`; returns the new large_mapcount.
  long sub(long diff, std::uint32_t mm);

  long large_mapcount() const { return large_mapcount_; }
  std::uint32_t slot_id(unsigned i) const { return id_[i]; }
  long slot_count(unsigned i) const { return count_[i]; }
  bool maybe_shared_bit() const { return shared_; }
  /// M18 for a large folio: total <= 1 is certainly exclusive, else the bit.
  bool maybe_mapped_shared() const { return large_mapcount_ > 1 && shared_; }

 private:
  long large_mapcount_ = 0;
  std::array<std::uint32_t, 2> id_{MM_ID_DUMMY, MM_ID_DUMMY};
  std::array<long, 2> count_{0, 0};
  bool shared_ = false;
};

}  // namespace mmsim::mm::mapcount
