// Basic hardware types shared by every layer. Addresses and frame numbers are plain 64-bit
// integers with distinct names; sizes follow Linux's PAGE_SHIFT vocabulary.
#pragma once

#include <cstdint>

namespace mmsim::arch {

using vaddr_t = std::uint64_t;  // virtual address
using paddr_t = std::uint64_t;  // physical address
using pfn_t = std::uint64_t;    // physical frame number (4 KiB frames)
using cycles_t = std::uint64_t;

inline constexpr unsigned PAGE_SHIFT = 12;
inline constexpr std::uint64_t PAGE_SIZE = 1ull << PAGE_SHIFT;
inline constexpr unsigned PMD_SHIFT = 21;
inline constexpr std::uint64_t PMD_SIZE = 1ull << PMD_SHIFT;
inline constexpr unsigned PUD_SHIFT = 30;
inline constexpr std::uint64_t PUD_SIZE = 1ull << PUD_SHIFT;
inline constexpr unsigned PTRS_PER_TABLE = 512;
inline constexpr unsigned HPAGE_PMD_ORDER = PMD_SHIFT - PAGE_SHIFT;
inline constexpr unsigned HPAGE_PMD_NR = 1u << HPAGE_PMD_ORDER;

constexpr pfn_t phys_to_pfn(paddr_t p) { return p >> PAGE_SHIFT; }
constexpr paddr_t pfn_to_phys(pfn_t f) { return f << PAGE_SHIFT; }
constexpr vaddr_t page_align_down(vaddr_t a) { return a & ~(PAGE_SIZE - 1); }
constexpr bool page_aligned(std::uint64_t a) { return (a & (PAGE_SIZE - 1)) == 0; }

/// Page-table levels, Linux's names, leaf-most first. P4D exists only with 5-level paging.
enum class pt_level : std::uint8_t { pte = 0, pmd = 1, pud = 2, p4d = 3, pgd = 4 };

constexpr unsigned level_shift(pt_level l) { return PAGE_SHIFT + 9 * static_cast<unsigned>(l); }
constexpr std::uint64_t level_size(pt_level l) { return 1ull << level_shift(l); }
constexpr const char* level_name(pt_level l) {
  constexpr const char* names[] = {"pte", "pmd", "pud", "p4d", "pgd"};
  return names[static_cast<unsigned>(l)];
}

/// How a CPU touches memory. An atomic RMW's first-fault semantics are the ISA's business.
enum class access_kind : std::uint8_t { read, write, atomic, exec };

}  // namespace mmsim::arch
