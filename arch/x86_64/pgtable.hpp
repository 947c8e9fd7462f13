// x86_64 paging-structure entry format (SDM Vol. 3A 4.5; hw-params.md 1.2) and the software
// bits Linux keeps in it (mm-semantics.md M141). One 64-bit word per entry; accessors are
// constexpr so an entry is as cheap as the integer it is.
#pragma once

#include <cstdint>

#include "arch/types.hpp"

namespace mmsim::arch::x86_64 {

using pteval_t = std::uint64_t;

// Hardware bits.
inline constexpr pteval_t _PAGE_PRESENT = 1ull << 0;
inline constexpr pteval_t _PAGE_RW = 1ull << 1;
inline constexpr pteval_t _PAGE_USER = 1ull << 2;
inline constexpr pteval_t _PAGE_PWT = 1ull << 3;
inline constexpr pteval_t _PAGE_PCD = 1ull << 4;
inline constexpr pteval_t _PAGE_ACCESSED = 1ull << 5;
inline constexpr pteval_t _PAGE_DIRTY = 1ull << 6;
inline constexpr pteval_t _PAGE_PSE = 1ull << 7;  // PS in a PDE/PDPTE; PAT in a 4K PTE
inline constexpr pteval_t _PAGE_GLOBAL = 1ull << 8;
inline constexpr pteval_t _PAGE_NX = 1ull << 63;
// Linux software bits.
inline constexpr pteval_t _PAGE_SPECIAL = 1ull << 9;   // no struct page refcounted: zero page
inline constexpr pteval_t _PAGE_UFFD_WP = 1ull << 10;  // present entries
inline constexpr pteval_t _PAGE_SOFT_DIRTY = 1ull << 11;
inline constexpr pteval_t _PAGE_DEVMAP = 1ull << 57;
inline constexpr pteval_t _PAGE_SAVED_DIRTY = 1ull << 58;  // D moved here while RW=0 (M142)
// PROT_NONE: P clear so the CPU faults, G position set so Linux still sees a mapping (M141).
inline constexpr pteval_t _PAGE_PROTNONE = _PAGE_GLOBAL;

inline constexpr pteval_t PTE_PFN_MASK = ((1ull << 52) - 1) & ~((1ull << PAGE_SHIFT) - 1);
// Table entries Linux writes for user page tables (_PAGE_TABLE).
inline constexpr pteval_t _PAGE_TABLE =
    _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;

/// What the CPU checks.
constexpr bool pte_hw_present(pteval_t e) { return e & _PAGE_PRESENT; }
/// What Linux means by present: a mapping exists, PROT_NONE included.
constexpr bool pte_present(pteval_t e) { return e & (_PAGE_PRESENT | _PAGE_PROTNONE); }
constexpr bool pte_protnone(pteval_t e) { return (e & (_PAGE_PRESENT | _PAGE_PROTNONE)) == _PAGE_PROTNONE; }
constexpr bool pte_none(pteval_t e) { return e == 0; }
constexpr bool pte_write(pteval_t e) { return e & _PAGE_RW; }
constexpr bool pte_user(pteval_t e) { return e & _PAGE_USER; }
constexpr bool pte_young(pteval_t e) { return e & _PAGE_ACCESSED; }
constexpr bool pte_dirty(pteval_t e) { return e & (_PAGE_DIRTY | _PAGE_SAVED_DIRTY); }
constexpr bool pte_hw_dirty(pteval_t e) { return e & _PAGE_DIRTY; }
constexpr bool pte_special(pteval_t e) { return e & _PAGE_SPECIAL; }
constexpr bool pte_exec(pteval_t e) { return !(e & _PAGE_NX); }
constexpr bool pte_uffd_wp(pteval_t e) { return e & _PAGE_UFFD_WP; }
/// A PDE/PDPTE with PS set maps a page instead of pointing at a table.
constexpr bool pmd_leaf(pteval_t e) { return pte_present(e) && (e & _PAGE_PSE); }
constexpr pfn_t pte_pfn(pteval_t e) { return (e & PTE_PFN_MASK) >> PAGE_SHIFT; }

constexpr pteval_t pfn_pte(pfn_t pfn, pteval_t prot) {
  return (static_cast<pteval_t>(pfn) << PAGE_SHIFT) | prot;
}
/// Keeps frame and software state, replaces the protection (Linux: pte_modify).
constexpr pteval_t pte_modify(pteval_t e, pteval_t newprot) {
  constexpr pteval_t keep = PTE_PFN_MASK | _PAGE_SPECIAL | _PAGE_UFFD_WP | _PAGE_SOFT_DIRTY |
                            _PAGE_DIRTY | _PAGE_SAVED_DIRTY | _PAGE_ACCESSED | _PAGE_DEVMAP;
  pteval_t r = (e & keep) | newprot;
  // Keep the RW=0,D=1 combination impossible (M142).
  if (!(r & _PAGE_RW) && (r & _PAGE_DIRTY)) r = (r & ~_PAGE_DIRTY) | _PAGE_SAVED_DIRTY;
  if ((r & _PAGE_RW) && (r & _PAGE_SAVED_DIRTY)) r = (r & ~_PAGE_SAVED_DIRTY) | _PAGE_DIRTY;
  return r;
}
constexpr pteval_t pte_mkyoung(pteval_t e) { return e | _PAGE_ACCESSED; }
constexpr pteval_t pte_mkold(pteval_t e) { return e & ~_PAGE_ACCESSED; }
/// Write-protect: hardware reads RW=0,D=1 as a shadow-stack page, so D moves to SavedDirty.
constexpr pteval_t pte_wrprotect(pteval_t e) {
  if (e & _PAGE_DIRTY) e = (e & ~_PAGE_DIRTY) | _PAGE_SAVED_DIRTY;
  return e & ~_PAGE_RW;
}
constexpr pteval_t pte_mkwrite(pteval_t e) {
  if (e & _PAGE_SAVED_DIRTY) e = (e & ~_PAGE_SAVED_DIRTY) | _PAGE_DIRTY;
  return e | _PAGE_RW;
}
constexpr pteval_t pte_mkdirty(pteval_t e) {
  return (e & _PAGE_RW) ? (e | _PAGE_DIRTY) : (e | _PAGE_SAVED_DIRTY);
}
constexpr pteval_t pte_mkclean(pteval_t e) { return e & ~(_PAGE_DIRTY | _PAGE_SAVED_DIRTY); }

/// Protection bits for a user leaf, as Linux's protection_map builds them (A is preset, M143).
/// PROT_NONE (no access at all) yields a PROTNONE entry.
constexpr pteval_t user_prot(bool read, bool write, bool exec) {
  if (!read && !write && !exec) return _PAGE_PROTNONE | _PAGE_ACCESSED | _PAGE_NX;
  pteval_t p = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
  if (write) p |= _PAGE_RW;
  if (!exec) p |= _PAGE_NX;
  return p;
}

// Swap entries: not present, not PROTNONE; the swap offset sits in the frame field (stored +1
// so offset 0 is not the none entry). Linux keeps PageAnonExclusive in the entry (M36).
inline constexpr pteval_t _PAGE_SWP_EXCLUSIVE = _PAGE_PWT;
constexpr bool is_swap_pte(pteval_t e) { return e != 0 && !pte_present(e); }
constexpr pteval_t swp_entry_to_pte(std::uint64_t offset, bool exclusive) {
  return ((offset + 1) << PAGE_SHIFT) | (exclusive ? _PAGE_SWP_EXCLUSIVE : 0);
}
constexpr std::uint64_t pte_swp_offset(pteval_t e) { return ((e & PTE_PFN_MASK) >> PAGE_SHIFT) - 1; }
constexpr bool pte_swp_exclusive(pteval_t e) { return e & _PAGE_SWP_EXCLUSIVE; }

/// Page-fault error code bits (SDM 4.7; M144).
inline constexpr unsigned X86_PF_PROT = 1u << 0;   // 0: not present
inline constexpr unsigned X86_PF_WRITE = 1u << 1;
inline constexpr unsigned X86_PF_USER = 1u << 2;
inline constexpr unsigned X86_PF_RSVD = 1u << 3;
inline constexpr unsigned X86_PF_INSTR = 1u << 4;

/// Number of translation levels: 4 (48-bit VA) or 5 (LA57, 57-bit VA).
constexpr unsigned paging_levels(unsigned va_bits) { return va_bits == 57 ? 5 : 4; }

/// Index into the table at `level` for virtual address `va`.
constexpr unsigned pt_index(vaddr_t va, pt_level level) {
  return static_cast<unsigned>((va >> level_shift(level)) & (PTRS_PER_TABLE - 1));
}

/// Canonical: bits 63..va_bits-1 all equal. User space wants them all zero.
constexpr bool user_canonical(vaddr_t va, unsigned va_bits) { return (va >> (va_bits - 1)) == 0; }

}  // namespace mmsim::arch::x86_64
