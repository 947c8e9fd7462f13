#include "arch/x86_64/mmu.hpp"

namespace mmsim::arch::x86_64 {

mmu::mmu(const cpu_profile& prof, phys_mem& mem, ledger& led, unsigned cpu, unsigned va_bits)
    : mem_(mem),
      led_(led),
      cpu_(cpu),
      levels_(paging_levels(va_bits)),
      va_bits_(va_bits),
      access_cycles_(prof.access_cycles),
      walk_read_cycles_(prof.walk_read_cycles),
      tlb_4k_(prof.dtlb_4k, PAGE_SHIFT),
      tlb_2m_(prof.dtlb_2m, PMD_SHIFT),
      tlb_1g_(prof.dtlb_1g, PUD_SHIFT) {}

walk_result mmu::lookup(pfn_t root, vaddr_t va) const {
  walk_result r;
  if (!user_canonical(va, va_bits_)) {
    r.error_code = X86_PF_USER;
    return r;
  }
  pfn_t table = root;
  for (int l = static_cast<int>(levels_) - 1; l >= 0; --l) {
    const auto level = static_cast<pt_level>(l);
    const pteval_t e = mem_.table(table)[pt_index(va, level)];
    ++r.reads;
    r.level = level;
    if (!pte_hw_present(e)) {
      r.error_code = X86_PF_USER;
      return r;
    }
    if (level == pt_level::pte || ((level == pt_level::pmd || level == pt_level::pud) && pmd_leaf(e))) {
      r.ok = true;
      r.leaf = e;
      r.pfn = pte_pfn(e);
      return r;
    }
    table = pte_pfn(e);
  }
  return r;
}

walk_result mmu::walk(vaddr_t va, access_kind kind) {
  const bool write = kind == access_kind::write || kind == access_kind::atomic;
  const bool exec = kind == access_kind::exec;
  walk_result r;
  ++stats_.walks;
  const unsigned base_err = X86_PF_USER | (write ? X86_PF_WRITE : 0) | (exec ? X86_PF_INSTR : 0);
  if (!user_canonical(va, va_bits_)) {
    r.error_code = base_err;  // #GP in hardware; Linux turns it into SIGSEGV all the same
    return r;
  }
  bool rw = true, us = true, nx = false;
  pfn_t table = root_;
  for (int l = static_cast<int>(levels_) - 1; l >= 0; --l) {
    const auto level = static_cast<pt_level>(l);
    pteval_t& e = mem_.table(table)[pt_index(va, level)];
    ++r.reads;
    r.level = level;
    if (!pte_hw_present(e)) {
      r.error_code = base_err;
      break;
    }
    rw &= pte_write(e);
    us &= pte_user(e);
    nx |= !pte_exec(e);
    const bool leaf = level == pt_level::pte ||
                      ((level == pt_level::pmd || level == pt_level::pud) && (e & _PAGE_PSE));
    if (!leaf) {
      e |= _PAGE_ACCESSED;
      table = pte_pfn(e);
      continue;
    }
    if (!us || (write && !rw) || (exec && nx)) {
      r.error_code = base_err | X86_PF_PROT;
      break;
    }
    e |= _PAGE_ACCESSED;
    if (write) e |= _PAGE_DIRTY;
    r.ok = true;
    r.leaf = e;
    r.pfn = pte_pfn(e);
    ++stats_.walks_by_level[static_cast<unsigned>(level)];
    break;
  }
  stats_.walk_reads += r.reads;
  led_.charge(cpu_, cost::walk, r.reads * walk_read_cycles_);
  return r;
}

translation mmu::translate_miss(vaddr_t va, access_kind kind) {
  walk_result r = walk(va, kind);
  if (!r.ok) {
    ++stats_.faults;
    return {false, 0, r.error_code};
  }
  std::uint8_t perm = TLB_USER;
  if (pte_write(r.leaf)) perm |= TLB_WRITE;
  if (pte_hw_dirty(r.leaf)) perm |= TLB_DIRTY;
  if (pte_exec(r.leaf)) perm |= TLB_EXEC;
  tlb_array& t = r.level == pt_level::pte ? tlb_4k_ : r.level == pt_level::pmd ? tlb_2m_ : tlb_1g_;
  t.fill(pcid_, va, r.pfn, perm);
  const unsigned shift = level_shift(r.level);
  return {true, r.pfn + ((va >> PAGE_SHIFT) & ((1ull << (shift - PAGE_SHIFT)) - 1)), 0};
}

translation mmu::translate_on_hit_violation(tlb_array& t, vaddr_t va, access_kind kind,
                                            std::uint8_t perm) {
  const bool write = kind == access_kind::write || kind == access_kind::atomic;
  // The cached entry does not allow the access. The CPU drops it and walks the tables again
  // before raising #PF, so a permission upgrade (mprotect, CoW reuse) needs no flush and
  // causes no spurious fault (AMD's documented behaviour; SDM 4.10.4.3 lets Intel fault
  // spuriously instead, which this model does not do). Setting D on a clean writable entry
  // is the same walk (a "dirty assist").
  if (write && (perm & TLB_WRITE)) ++stats_.dirty_assists;
  else ++stats_.permission_rewalks;
  t.invalidate_page(pcid_, va);
  return translate_miss(va, kind);
}

void mmu::invlpg(std::uint16_t pcid, vaddr_t va) {
  tlb_4k_.invalidate_page(pcid, va);
  tlb_2m_.invalidate_page(pcid, va);
  tlb_1g_.invalidate_page(pcid, va);
}

void mmu::flush_pcid(std::uint16_t pcid) {
  tlb_4k_.invalidate_asid(pcid);
  tlb_2m_.invalidate_asid(pcid);
  tlb_1g_.invalidate_asid(pcid);
}

void mmu::flush_all() {
  tlb_4k_.invalidate_all();
  tlb_2m_.invalidate_all();
  tlb_1g_.invalidate_all();
}

}  // namespace mmsim::arch::x86_64
