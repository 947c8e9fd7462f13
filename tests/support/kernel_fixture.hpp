// A simulated machine and kernel for tests that drive mm/ directly: the CPU's side of an
// access (translate, fault, retry) and hand-walks of the page tables.
#pragma once

#include <catch2/catch.hpp>

#include "arch/machine.hpp"
#include "mm/kernel.hpp"

namespace mmsim::test {

struct kernel_fixture {
  arch::machine hw;
  mm::kernel k;
  std::uint64_t token = 0;

  explicit kernel_fixture(mm::kernel_knobs knobs = mm::default_knobs(), std::uint64_t mem = 64ull << 20)
      : hw{arch::load_profile("skylake"), mem >> arch::PAGE_SHIFT, 2, 48}, k{knobs, hw} {}
  mm::task_struct& init() { return k.task(1); }
  mm::mm_struct& mm() { return *init().mm; }

  /// One access as the CPU performs it: translate, fault, let the kernel fix it, retry.
  mm::fault_outcome touch(arch::vaddr_t va, arch::access_kind kind, unsigned cpu = 0) {
    k.switch_mm(cpu, init());
    for (int i = 0; i < 4; ++i) {
      auto tr = hw.cpus[cpu].translate(va, kind);
      if (tr.ok) return mm::fault_outcome::handled;
      auto out = k.do_user_addr_fault(cpu, init(), va, tr.error_code);
      if (out != mm::fault_outcome::handled) return out;
    }
    FAIL("fault not resolved");
    return mm::fault_outcome::sigsegv;
  }
  /// Writes each page as the replay does: a fault if needed, then a new content token.
  void write_range(arch::vaddr_t va, std::uint64_t len) {
    for (arch::vaddr_t a = va; a < va + len; a += arch::PAGE_SIZE) {
      REQUIRE(touch(a, arch::access_kind::write) == mm::fault_outcome::handled);
      hw.mem.word(k.follow_page(mm(), a).pfn) = ++token;
    }
  }
  /// The PTE slot for va, found by walking the tables by hand (null under a PMD leaf).
  arch::x86_64::pteval_t* pte_slot(arch::vaddr_t va) {
    using namespace arch::x86_64;
    arch::pfn_t t = mm().pgd;
    for (int l = 3; l > 0; --l) {
      pteval_t e = hw.mem.table(t)[pt_index(va, static_cast<arch::pt_level>(l))];
      if (!pte_present(e) || (e & _PAGE_PSE)) return nullptr;
      t = pte_pfn(e);
    }
    return &hw.mem.table(t)[pt_index(va, arch::pt_level::pte)];
  }
  bool pmd_mapped(arch::vaddr_t va) {
    const auto l = k.follow_page(mm(), va);
    return l.present && l.level == arch::pt_level::pmd;
  }
  std::uint64_t event(mm::vm_event_item e) const { return k.vmstat().events[e]; }
  void require_invariants() {
    auto bad = k.check_invariants();
    for (auto& b : bad) FAIL_CHECK(b);
    REQUIRE(bad.empty());
  }
};

}  // namespace mmsim::test
