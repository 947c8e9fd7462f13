// Kernel-model behaviour through its syscall and fault entry points: VMA split/merge, page-table
// lifetime, zero page, CoW, TLB flushes, and the invariant checker catching a missing flush.
#include <catch2/catch.hpp>

#include "mm/kernel.hpp"
#include "tests/support/kernel_fixture.hpp"
#include "mm/mman.hpp"

using namespace mmsim;
using namespace mmsim::mm;
using namespace mmsim::arch::x86_64;

namespace {

constexpr std::uint64_t A = 0x7f0000000000;
constexpr unsigned RW = PROT_READ | PROT_WRITE;
constexpr unsigned ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

using fixture = test::kernel_fixture;

}  // namespace

TEST_CASE("adjacent anonymous mappings merge into one VMA; unmapping the middle splits it", "[mm][vma]") {
  fixture f;
  REQUIRE(f.k.sys_mmap(f.init(), 0, A, 0x4000, RW, ANON) == static_cast<long>(A));
  REQUIRE(f.k.sys_mmap(f.init(), 0, A + 0x4000, 0x4000, RW, ANON) == static_cast<long>(A + 0x4000));
  REQUIRE(f.mm().mmap.size() == 1);
  REQUIRE(f.k.sys_munmap(f.init(), 0, A + 0x2000, 0x2000) == 0);
  REQUIRE(f.mm().mmap.size() == 2);
  CHECK(f.k.find_vma(f.mm(), A + 0x2000) == nullptr);
  CHECK(f.k.find_vma(f.mm(), A + 0x1000)->vm_end == A + 0x2000);
  CHECK(f.k.find_vma(f.mm(), A + 0x4000)->vm_start == A + 0x4000);
  f.require_invariants();
}

TEST_CASE("mprotect of the middle splits into three VMAs and restoring it merges them back", "[mm][vma]") {
  fixture f;
  f.k.sys_mmap(f.init(), 0, A, 0x6000, RW, ANON);
  REQUIRE(f.k.sys_mprotect(f.init(), 0, A + 0x2000, 0x2000, PROT_READ) == 0);
  REQUIRE(f.mm().mmap.size() == 3);
  CHECK(!(f.k.find_vma(f.mm(), A + 0x2000)->vm_flags & VM_WRITE));
  REQUIRE(f.k.sys_mprotect(f.init(), 0, A + 0x2000, 0x2000, RW) == 0);
  REQUIRE(f.mm().mmap.size() == 1);
}

TEST_CASE("page tables are allocated on first touch and freed when the last VMA under them goes", "[mm][pgtable]") {
  fixture f;
  const auto base = f.k.vmstat().stats[NR_PAGETABLE];  // init's PGD
  CHECK(base == 1);
  f.k.sys_mmap(f.init(), 0, A, 0x400000, RW, ANON);
  CHECK(f.k.vmstat().stats[NR_PAGETABLE] == base);  // mmap allocates no tables
  REQUIRE(f.touch(A, arch::access_kind::write) == fault_outcome::handled);
  REQUIRE(f.touch(A + 0x200000, arch::access_kind::write) == fault_outcome::handled);
  CHECK(f.k.vmstat().stats[NR_PAGETABLE] == base + 4);  // PUD, PMD, two PTE tables
  CHECK(f.mm().pgtables_bytes == 5 * 4096);
  f.k.sys_munmap(f.init(), 0, A + 0x200000, 0x200000);
  CHECK(f.k.vmstat().stats[NR_PAGETABLE] == base + 3);  // the second PTE table went
  f.k.sys_munmap(f.init(), 0, A, 0x200000);
  CHECK(f.k.vmstat().stats[NR_PAGETABLE] == base);
  CHECK(f.k.nr_folios() == 0);
  f.require_invariants();
}

TEST_CASE("a read fault maps the shared zero page and allocates no folio", "[mm][fault]") {
  fixture f;
  f.k.sys_mmap(f.init(), 0, A, 0x1000, RW, ANON);
  REQUIRE(f.touch(A, arch::access_kind::read) == fault_outcome::handled);
  auto leaf = f.k.follow_page(f.mm(), A);
  REQUIRE(leaf.present);
  CHECK(f.k.is_zero_pfn(leaf.pfn));
  CHECK(pte_special(leaf.entry));
  CHECK_FALSE(pte_write(leaf.entry));
  CHECK(f.k.nr_folios() == 0);
  REQUIRE(f.touch(A, arch::access_kind::write) == fault_outcome::handled);
  leaf = f.k.follow_page(f.mm(), A);
  CHECK_FALSE(f.k.is_zero_pfn(leaf.pfn));
  CHECK(pte_write(leaf.entry));
  CHECK(f.k.vmstat().events[PGFAULT] == 2);
  CHECK(f.k.nr_folios() == 1);
  f.require_invariants();
}

TEST_CASE("write-protecting a page flushes the TLB entry the earlier write created", "[mm][tlb]") {
  fixture f;
  f.k.sys_mmap(f.init(), 0, A, 0x1000, RW, ANON);
  f.touch(A, arch::access_kind::write);
  REQUIRE(f.hw.cpus[0].tlb(arch::pt_level::pte).probe(f.mm().pcid(), A) != nullptr);
  REQUIRE(f.k.sys_mprotect(f.init(), 0, A, 0x1000, PROT_READ) == 0);
  CHECK(f.hw.cpus[0].tlb(arch::pt_level::pte).probe(f.mm().pcid(), A) == nullptr);
  CHECK(f.touch(A, arch::access_kind::write) == fault_outcome::sigsegv);
  f.require_invariants();
}

TEST_CASE("a PTE changed without a TLB flush is caught by the invariant checker", "[mm][tlb][invariants]") {
  fixture f;
  f.k.sys_mmap(f.init(), 0, A, 0x1000, RW, ANON);
  f.touch(A, arch::access_kind::write);
  f.require_invariants();
  pteval_t* slot = f.pte_slot(A);
  REQUIRE(slot);
  *slot = pte_wrprotect(*slot);  // a write-protect that "forgot" its flush
  auto bad = f.k.check_invariants();
  REQUIRE(!bad.empty());
  CHECK_THAT(bad.front(), Catch::Contains("writable in the TLB"));
}

TEST_CASE("remote CPUs that ran the mm get a shootdown IPI", "[mm][tlb]") {
  fixture f;
  f.k.sys_mmap(f.init(), 0, A, 0x1000, RW, ANON);
  f.touch(A, arch::access_kind::write, 0);
  f.touch(A, arch::access_kind::read, 1);
  REQUIRE(f.hw.cpus[1].tlb(arch::pt_level::pte).probe(f.mm().pcid(), A) != nullptr);
  f.k.sys_munmap(f.init(), 0, A, 0x1000);
  CHECK(f.hw.cpus[1].tlb(arch::pt_level::pte).probe(f.mm().pcid(), A) == nullptr);
  CHECK(f.k.vmstat().events[NR_TLB_REMOTE_FLUSH] == 1);
  CHECK(f.k.vmstat().events[NR_TLB_REMOTE_FLUSH_RECEIVED] == 1);
  CHECK(f.hw.led.cpu(1).by[static_cast<unsigned>(arch::cost::ipi)] > 0);
  f.require_invariants();
}

TEST_CASE("fork shares pages read-only; the child's write copies, the parent later reuses", "[mm][cow]") {
  fixture f;
  f.k.sys_mmap(f.init(), 0, A, 0x2000, RW, ANON);
  f.touch(A, arch::access_kind::write);
  const auto parent_pfn = f.k.follow_page(f.mm(), A).pfn;
  REQUIRE(f.k.kernel_clone(1, 2, 0) == 0);
  mm_struct& child = *f.k.task(2).mm;
  CHECK(f.k.follow_page(child, A).pfn == parent_pfn);
  CHECK_FALSE(pte_write(f.k.follow_page(f.mm(), A).entry));
  CHECK(f.k.folio_ref_count(f.k.page_folio(parent_pfn)) == 2);
  CHECK_FALSE(f.k.page_anon_exclusive(parent_pfn));
  f.require_invariants();
  f.k.do_exit(2, 0);
  CHECK(f.k.folio_ref_count(f.k.page_folio(parent_pfn)) == 1);
  REQUIRE(f.touch(A, arch::access_kind::write) == fault_outcome::handled);
  CHECK(f.k.follow_page(f.mm(), A).pfn == parent_pfn);  // reused, not copied
  CHECK(f.k.page_anon_exclusive(parent_pfn));
  f.require_invariants();
}

TEST_CASE("running out of memory ends the access with OOM, not a crash", "[mm][oom]") {
  arch::machine hw{arch::load_profile("skylake"), (4ull << 20) >> arch::PAGE_SHIFT, 1, 48};
  kernel k{default_knobs(), hw};
  task_struct& t = k.task(1);
  k.sys_mmap(t, 0, A, 8ull << 20, RW, ANON);
  k.switch_mm(0, t);
  fault_outcome last = fault_outcome::handled;
  std::uint64_t pages = 0;
  for (vaddr_t va = A; va < A + (8ull << 20) && last == fault_outcome::handled; va += 4096, ++pages) {
    auto tr = hw.cpus[0].translate(va, arch::access_kind::write);
    if (!tr.ok) last = k.do_user_addr_fault(0, t, va, tr.error_code);
  }
  CHECK(last == fault_outcome::oom);
  CHECK(pages < 1024);
  CHECK(k.buddy().nr_free_pages() == 0);
  auto bad = k.check_invariants();
  CHECK(bad.empty());
}

TEST_CASE("exit frees every folio and every page table", "[mm][exit]") {
  fixture f;
  f.k.sys_mmap(f.init(), 0, A, 0x10000, RW, ANON);
  for (vaddr_t va = A; va < A + 0x10000; va += 0x1000) f.touch(va, arch::access_kind::write);
  REQUIRE(f.k.kernel_clone(1, 2, 0) == 0);
  const auto free_before = f.k.buddy().nr_free_pages();
  f.k.do_exit(2, 0);
  f.k.do_exit(1, 0);
  CHECK(f.k.nr_folios() == 0);
  CHECK(f.k.vmstat().stats[NR_PAGETABLE] == 0);
  CHECK(f.k.vmstat().stats[NR_ANON_MAPPED] == 0);
  CHECK(f.k.buddy().nr_free_pages() > free_before);
  CHECK(f.k.check_invariants().empty());
}
