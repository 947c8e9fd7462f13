// One x86_64 CPU's MMU: CR3 (root + PCID), a TLB per page size, and the hardware page walker.
// The walker reads the real tables in phys_mem, sets A on every entry it uses and D in the leaf
// on a write, as the SDM describes (4.8), and reports where it stopped. A fault raised from a
// TLB hit invalidates that entry, as the SDM requires of #PF.
#pragma once

#include <cstdint>

#include "arch/ledger.hpp"
#include "arch/phys_mem.hpp"
#include "arch/profile.hpp"
#include "arch/tlb.hpp"
#include "arch/x86_64/pgtable.hpp"

namespace mmsim::arch::x86_64 {

struct translation {
  bool ok;
  pfn_t pfn;            // 4K frame accessed (valid when ok)
  unsigned error_code;  // X86_PF_* (valid when !ok)
};

struct walk_result {
  bool ok = false;
  pt_level level = pt_level::pte;  // level of the leaf, or of the entry that stopped the walk
  pteval_t leaf = 0;
  pfn_t pfn = 0;  // first frame of the leaf
  unsigned reads = 0;
  unsigned error_code = 0;
};

struct mmu_stats {
  std::uint64_t accesses = 0, walks = 0, walk_reads = 0, faults = 0, dirty_assists = 0;
  std::uint64_t permission_rewalks = 0;  // TLB hit without the permission: walked again
  std::uint64_t walks_by_level[3] = {};  // leaf found at pte, pmd, pud
};

class mmu {
 public:
  mmu(const cpu_profile& prof, phys_mem& mem, ledger& led, unsigned cpu, unsigned va_bits);

  /// CR3 write with PCID and the no-flush bit: other address spaces' entries survive.
  void load_cr3(pfn_t root, std::uint16_t pcid) {
    root_ = root;
    pcid_ = pcid;
  }
  std::uint16_t pcid() const { return pcid_; }
  pfn_t root() const { return root_; }

  /// Translates one user access. Hot path: an L1 TLB hit costs a probe and an add. A missing
  /// flush after a permission *reduction* stays observable: the stale entry still grants it.
  translation translate(vaddr_t va, access_kind kind) {
    ++stats_.accesses;
    led_.charge(cpu_, cost::access, access_cycles_);
    // Non-canonical (or kernel-half) addresses never reach the TLB: its tags keep only the
    // virtual page number bits a canonical user address can have.
    if (!user_canonical(va, va_bits_)) [[unlikely]] return translate_miss(va, kind);
    const bool write = kind == access_kind::write || kind == access_kind::atomic;
    tlb_array* hit_tlb = &tlb_4k_;
    tlb_entry* e = tlb_4k_.lookup(pcid_, va);
    if (!e) {
      hit_tlb = &tlb_2m_;
      e = tlb_2m_.lookup(pcid_, va);
    }
    if (!e) {
      hit_tlb = &tlb_1g_;
      e = tlb_1g_.lookup(pcid_, va);
    }
    if (e) [[likely]] {
      const std::uint8_t need = write ? (TLB_WRITE | TLB_DIRTY) : 0;
      const bool exec_ok = kind != access_kind::exec || (e->perm & TLB_EXEC);
      if ((e->perm & need) == need && exec_ok) [[likely]] {
        const unsigned shift = hit_tlb->page_shift();
        return {true, e->pfn + ((va >> PAGE_SHIFT) & ((1ull << (shift - PAGE_SHIFT)) - 1)), 0};
      }
      return translate_on_hit_violation(*hit_tlb, va, kind, e->perm);
    }
    return translate_miss(va, kind);
  }

  /// A walk that only looks: no A/D updates, no TLB fill, no cost (invariants, reports).
  walk_result lookup(pfn_t root, vaddr_t va) const;

  // Invalidation primitives the kernel issues.
  void invlpg(std::uint16_t pcid, vaddr_t va);  // one page, every size structure
  void flush_pcid(std::uint16_t pcid);
  void flush_all();

  const mmu_stats& stats() const { return stats_; }
  const tlb_array& tlb(pt_level size) const {
    return size == pt_level::pte ? tlb_4k_ : size == pt_level::pmd ? tlb_2m_ : tlb_1g_;
  }
  unsigned levels() const { return levels_; }

 private:
  translation translate_miss(vaddr_t va, access_kind kind);
  translation translate_on_hit_violation(tlb_array& t, vaddr_t va, access_kind kind,
                                         std::uint8_t perm);
  walk_result walk(vaddr_t va, access_kind kind);

  phys_mem& mem_;
  ledger& led_;
  unsigned cpu_;
  unsigned levels_;
  unsigned va_bits_;
  cycles_t access_cycles_, walk_read_cycles_;
  pfn_t root_ = 0;
  std::uint16_t pcid_ = 0;
  tlb_array tlb_4k_, tlb_2m_, tlb_1g_;
  mmu_stats stats_;
};

}  // namespace mmsim::arch::x86_64
