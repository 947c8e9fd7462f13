// Physical memory as the hardware sees it: one 64-bit word per 4 KiB frame. For a data frame
// the word is its content token (what the page "holds"; the zero page holds 0). For a frame the
// kernel uses as a page table, the word indexes a real 512-entry table the walker reads.
// Storage is sectioned and allocated on first touch; tables are pooled and recycled.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "arch/types.hpp"

namespace mmsim::arch {

using pt_table = std::array<std::uint64_t, PTRS_PER_TABLE>;

class phys_mem {
 public:
  static constexpr unsigned SECTION_SHIFT = 10;
  static constexpr pfn_t SECTION_FRAMES = pfn_t{1} << SECTION_SHIFT;

  explicit phys_mem(pfn_t nr_frames)
      : nr_frames_(nr_frames), sections_((nr_frames + SECTION_FRAMES - 1) >> SECTION_SHIFT) {}

  pfn_t nr_frames() const { return nr_frames_; }

  /// The frame's word (content token, or table index for a table frame).
  std::uint64_t& word(pfn_t pfn) {
    auto& s = sections_[pfn >> SECTION_SHIFT];
    if (!s) [[unlikely]] {
      s = std::make_unique<std::uint64_t[]>(SECTION_FRAMES);
      ++nr_sections_;
    }
    return s[pfn & (SECTION_FRAMES - 1)];
  }
  std::uint64_t peek(pfn_t pfn) const {
    auto& s = sections_[pfn >> SECTION_SHIFT];
    return s ? s[pfn & (SECTION_FRAMES - 1)] : 0;
  }

  /// Turns `pfn` into a zeroed page table. The frame must not be a table already.
  pt_table& make_table(pfn_t pfn) {
    std::uint32_t idx;
    if (!free_tables_.empty()) {
      idx = free_tables_.back();
      free_tables_.pop_back();
    } else {
      idx = static_cast<std::uint32_t>(nr_tables_++);
      if ((idx & (TABLE_CHUNK - 1)) == 0) chunks_.push_back(std::make_unique<pt_table[]>(TABLE_CHUNK));
    }
    word(pfn) = idx;
    pt_table& t = table_at(idx);
    t.fill(0);
    ++live_tables_;
    return t;
  }
  void release_table(pfn_t pfn) {
    free_tables_.push_back(static_cast<std::uint32_t>(word(pfn)));
    word(pfn) = 0;
    --live_tables_;
  }
  pt_table& table(pfn_t pfn) { return table_at(static_cast<std::uint32_t>(word(pfn))); }
  const pt_table& table(pfn_t pfn) const {
    return const_cast<phys_mem*>(this)->table_at(static_cast<std::uint32_t>(peek(pfn)));
  }

  std::size_t live_tables() const { return live_tables_; }
  std::size_t host_bytes() const {
    return nr_sections_ * SECTION_FRAMES * sizeof(std::uint64_t) +
           sections_.size() * sizeof(void*) + chunks_.size() * TABLE_CHUNK * sizeof(pt_table) +
           free_tables_.capacity() * sizeof(std::uint32_t);
  }

 private:
  static constexpr std::uint32_t TABLE_CHUNK = 64;
  pt_table& table_at(std::uint32_t idx) { return chunks_[idx / TABLE_CHUNK][idx % TABLE_CHUNK]; }

  pfn_t nr_frames_;
  std::vector<std::unique_ptr<std::uint64_t[]>> sections_;
  std::size_t nr_sections_ = 0;
  std::vector<std::unique_ptr<pt_table[]>> chunks_;
  std::vector<std::uint32_t> free_tables_;
  std::size_t nr_tables_ = 0;
  std::size_t live_tables_ = 0;
};

}  // namespace mmsim::arch
