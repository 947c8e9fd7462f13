// The x86_64 MMU against page tables built by hand in phys_mem: index decoding, 4K/2M/1G
// leaves with 4- and 5-level paging, A/D updates, fault error codes, TLB hits and staleness,
// PCIDs, walk-read costs, and the Linux PTE helpers for PROT_NONE and SavedDirty.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "arch/ledger.hpp"
#include "arch/phys_mem.hpp"
#include "arch/profile.hpp"
#include "arch/x86_64/mmu.hpp"
#include "arch/x86_64/pgtable.hpp"

using namespace mmsim::arch;
using namespace mmsim::arch::x86_64;

namespace {

/// A complete profile as JSON: every value 1 unless overridden, sourced "estimate".
std::string profile_json(const std::map<std::string, std::string>& overrides) {
  static const char* const keys[] = {
#define X(key, member, kind) #key,
      MMSIM_PROFILE_FIELDS(X)
#undef X
  };
  std::string values;
  for (const char* k : keys) {
    auto it = overrides.find(k);
    if (!values.empty()) values += ",\n";
    values += std::string("    \"") + k + "\": {\"value\": " + (it == overrides.end() ? "1" : it->second) +
              ", \"source\": \"estimate\"}";
  }
  return "{\"name\": \"test\", \"arch\": \"x86_64\", \"description\": \"unit test\",\n"
         "  \"values\": {\n" + values + "\n  }\n}";
}

/// Known costs and a TLB per page size big enough that nothing is evicted by accident.
cpu_profile test_profile() {
  return parse_profile(profile_json({{"ghz", "2.0"},
                                     {"access_cycles", "3"},
                                     {"walk_read_cycles", "7"},
                                     {"dtlb_4k_entries", "64"},
                                     {"dtlb_4k_ways", "4"},
                                     {"dtlb_2m_entries", "32"},
                                     {"dtlb_2m_ways", "4"},
                                     {"dtlb_1g_entries", "4"},
                                     {"dtlb_1g_ways", "4"}}),
                       "test");
}

constexpr std::uint16_t PCID = 1;
constexpr pteval_t RO = user_prot(true, false, false);
constexpr pteval_t RW = user_prot(true, true, false);
constexpr pteval_t RWX = user_prot(true, true, true);
constexpr pteval_t RX = user_prot(true, false, true);

/// Table indices 1..5 from PTE up to PGD, nonzero at every level.
constexpr vaddr_t va_with(unsigned pte, unsigned pmd, unsigned pud, unsigned p4d, unsigned pgd = 0) {
  return (vaddr_t{pgd} << 48) | (vaddr_t{p4d} << 39) | (vaddr_t{pud} << 30) | (vaddr_t{pmd} << 21) |
         (vaddr_t{pte} << 12);
}

/// One CPU, its memory and ledger, and a builder for page tables.
struct rig {
  explicit rig(unsigned va_bits, cpu_profile p = test_profile())
      : prof(std::move(p)), cpu(prof, mem, led, 0, va_bits), levels(paging_levels(va_bits)) {
    root = new_table();
    cpu.load_cr3(root, PCID);
  }

  pfn_t new_table() {
    const pfn_t p = next_table++;
    mem.make_table(p);
    return p;
  }
  /// The entry at `level` translating `va` under `top`, creating tables above it as needed.
  pteval_t& slot(vaddr_t va, pt_level level, pfn_t top) {
    pfn_t t = top;
    for (int l = static_cast<int>(levels) - 1; l > static_cast<int>(level); --l) {
      pteval_t& e = mem.table(t)[pt_index(va, static_cast<pt_level>(l))];
      if (pte_none(e)) e = pfn_pte(new_table(), _PAGE_TABLE);
      t = pte_pfn(e);
    }
    return mem.table(t)[pt_index(va, level)];
  }
  pteval_t& slot(vaddr_t va, pt_level level) { return slot(va, level, root); }
  void map_4k(vaddr_t va, pfn_t pfn, pteval_t prot) { slot(va, pt_level::pte) = pfn_pte(pfn, prot); }
  void map_2m(vaddr_t va, pfn_t pfn, pteval_t prot) {
    slot(va, pt_level::pmd) = pfn_pte(pfn, prot | _PAGE_PSE);
  }
  void map_1g(vaddr_t va, pfn_t pfn, pteval_t prot) {
    slot(va, pt_level::pud) = pfn_pte(pfn, prot | _PAGE_PSE);
  }
  /// Every entry a walk of `va` uses, top first, ending at the leaf at `leaf_level`.
  std::vector<pteval_t*> path(vaddr_t va, pt_level leaf_level) {
    std::vector<pteval_t*> p;
    pfn_t t = root;
    for (int l = static_cast<int>(levels) - 1; l >= static_cast<int>(leaf_level); --l) {
      pteval_t& e = mem.table(t)[pt_index(va, static_cast<pt_level>(l))];
      p.push_back(&e);
      t = pte_pfn(e);
    }
    return p;
  }
  translation read(vaddr_t va) { return cpu.translate(va, access_kind::read); }
  translation write(vaddr_t va) { return cpu.translate(va, access_kind::write); }
  translation exec(vaddr_t va) { return cpu.translate(va, access_kind::exec); }
  cycles_t walk_cycles() const { return led.cpu(0).by[static_cast<unsigned>(cost::walk)]; }
  cycles_t access_cycles() const { return led.cpu(0).by[static_cast<unsigned>(cost::access)]; }

  cpu_profile prof;
  phys_mem mem{pfn_t{1} << 20};
  ledger led{1};
  mmu cpu;
  unsigned levels;
  pfn_t next_table = 16;
  pfn_t root = 0;
};

unsigned levels_above(pt_level leaf, unsigned levels) {
  return levels - static_cast<unsigned>(leaf);
}

}  // namespace

TEST_CASE("pt_index decodes 9 bits of the VA per level, from bit 12 up", "[arch][x86_64]") {
  const vaddr_t va = va_with(1, 2, 3, 4, 5) | 0xabc;
  CHECK(pt_index(va, pt_level::pte) == 1);
  CHECK(pt_index(va, pt_level::pmd) == 2);
  CHECK(pt_index(va, pt_level::pud) == 3);
  CHECK(pt_index(va, pt_level::p4d) == 4);
  CHECK(pt_index(va, pt_level::pgd) == 5);
  const vaddr_t top = (vaddr_t{1} << 57) - 1;  // every index 511
  for (auto l : {pt_level::pte, pt_level::pmd, pt_level::pud, pt_level::p4d, pt_level::pgd})
    CHECK(pt_index(top, l) == 511);
  CHECK(pt_index(vaddr_t{1} << 47, pt_level::p4d) == 256);
  CHECK(pt_index((vaddr_t{1} << 39) - 1, pt_level::p4d) == 0);
  CHECK(paging_levels(48) == 4);
  CHECK(paging_levels(57) == 5);
}

TEST_CASE("the walker uses the right index at every level, with 4 and 5 levels",
          "[arch][x86_64][mmu]") {
  const unsigned va_bits = GENERATE(48u, 57u);
  CAPTURE(va_bits);
  rig r(va_bits);
  const unsigned pgd = va_bits == 57 ? 5 : 0;
  const vaddr_t va = va_with(1, 2, 3, 4, pgd);
  r.map_4k(va, 0x1111, RW);
  // Decoys differing in exactly one level's index each: a walker that mixes up levels (or
  // reads index 0 of the wrong table) lands on one of them.
  r.map_4k(va_with(2, 2, 3, 4, pgd), 0x2222, RW);
  r.map_4k(va_with(1, 1, 3, 4, pgd), 0x3333, RW);
  r.map_4k(va_with(1, 2, 4, 4, pgd), 0x4444, RW);
  r.map_4k(va_with(1, 2, 3, 3, pgd), 0x5555, RW);
  if (va_bits == 57) r.map_4k(va_with(1, 2, 3, 4, 6), 0x6666, RW);

  auto tr = r.read(va + 0x7ff);
  REQUIRE(tr.ok);
  CHECK(tr.pfn == 0x1111);
  CHECK(r.read(va_with(2, 2, 3, 4, pgd)).pfn == 0x2222);
  CHECK(r.read(va_with(1, 1, 3, 4, pgd)).pfn == 0x3333);
  CHECK(r.read(va_with(1, 2, 4, 4, pgd)).pfn == 0x4444);
  CHECK(r.read(va_with(1, 2, 3, 3, pgd)).pfn == 0x5555);
  if (va_bits == 57) CHECK(r.read(va_with(1, 2, 3, 4, 6)).pfn == 0x6666);
  CHECK(r.cpu.levels() == (va_bits == 57 ? 5u : 4u));
}

TEST_CASE("4K, 2M and 1G leaves translate every 4K frame inside them, with the right walk length",
          "[arch][x86_64][mmu]") {
  const unsigned va_bits = GENERATE(48u, 57u);
  CAPTURE(va_bits);
  rig r(va_bits);
  const unsigned L = r.levels;
  const vaddr_t top = va_bits == 57 ? vaddr_t{7} << 48 : 0;

  SECTION("a 4K leaf: 4 reads with 4 levels, 5 with 5") {
    const vaddr_t va = top | va_with(9, 8, 7, 6);
    r.map_4k(va, 0x1234, RW);
    auto tr = r.read(va + 0x18);
    REQUIRE(tr.ok);
    CHECK(tr.pfn == 0x1234);
    CHECK(r.cpu.stats().walks == 1);
    CHECK(r.cpu.stats().walk_reads == L);
    CHECK(r.cpu.stats().walks_by_level[0] == 1);
    CHECK(r.cpu.lookup(r.root, va).reads == L);
    CHECK(r.cpu.tlb(pt_level::pte).probe(PCID, va) != nullptr);
    CHECK(r.cpu.tlb(pt_level::pmd).probe(PCID, va) == nullptr);
    CHECK_FALSE(r.read(va + PAGE_SIZE).ok);  // the neighbour is not mapped
  }
  SECTION("a 2M leaf (PS in the PMD entry): one read fewer") {
    const vaddr_t va = top | va_with(0, 8, 7, 6);
    r.map_2m(va, 0x40200, RW);  // 2M-aligned frame
    auto tr = r.read(va + 5 * PAGE_SIZE + 0x10);
    REQUIRE(tr.ok);
    CHECK(tr.pfn == 0x40205);
    CHECK(r.cpu.stats().walk_reads == L - 1);
    CHECK(r.cpu.stats().walks_by_level[1] == 1);
    CHECK(r.cpu.lookup(r.root, va).reads == L - 1);
    CHECK(r.cpu.lookup(r.root, va).level == pt_level::pmd);
    CHECK(r.cpu.tlb(pt_level::pmd).probe(PCID, va) != nullptr);
    CHECK(r.cpu.tlb(pt_level::pte).probe(PCID, va) == nullptr);
    // The last frame of the 2M page comes from the 2M TLB entry, without a walk.
    auto last = r.read(va + PMD_SIZE - 1);
    REQUIRE(last.ok);
    CHECK(last.pfn == 0x40200 + 511);
    CHECK(r.cpu.stats().walks == 1);
    CHECK_FALSE(r.read(va + PMD_SIZE).ok);
  }
  SECTION("a 1G leaf (PS in the PUD entry): two reads fewer") {
    const vaddr_t va = top | va_with(0, 0, 7, 6);
    r.map_1g(va, 0x80000, RW);  // 1G-aligned frame
    auto tr = r.read(va + 3 * PMD_SIZE + 7 * PAGE_SIZE);
    REQUIRE(tr.ok);
    CHECK(tr.pfn == 0x80000 + 3 * 512 + 7);
    CHECK(r.cpu.stats().walk_reads == L - 2);
    CHECK(r.cpu.stats().walks_by_level[2] == 1);
    CHECK(r.cpu.lookup(r.root, va).reads == L - 2);
    CHECK(r.cpu.lookup(r.root, va).level == pt_level::pud);
    CHECK(r.cpu.tlb(pt_level::pud).probe(PCID, va) != nullptr);
    auto last = r.read(va + PUD_SIZE - 1);
    REQUIRE(last.ok);
    CHECK(last.pfn == 0x80000 + (PUD_SIZE >> PAGE_SHIFT) - 1);
    CHECK(r.cpu.stats().walks == 1);
  }
}

TEST_CASE("a walk sets A in every entry it uses and D only in the leaf, only on write or atomic",
          "[arch][x86_64][mmu]") {
  const unsigned va_bits = GENERATE(48u, 57u);
  const pt_level leaf = GENERATE(pt_level::pte, pt_level::pmd, pt_level::pud);
  CAPTURE(va_bits, level_name(leaf));
  rig r(va_bits);
  const vaddr_t va = va_with(0, 0, 7, 6);
  if (leaf == pt_level::pte) r.map_4k(va, 0x1000, RWX);
  if (leaf == pt_level::pmd) r.map_2m(va, 0x1000 & ~pfn_t{511}, RWX);
  if (leaf == pt_level::pud) r.map_1g(va, 0x40000, RWX);
  auto path = r.path(va, leaf);
  REQUIRE(path.size() == levels_above(leaf, r.levels));
  // Old and clean everywhere, tables included.
  for (pteval_t* e : path) *e = pte_mkclean(pte_mkold(*e));

  const access_kind kind =
      GENERATE(access_kind::read, access_kind::write, access_kind::atomic, access_kind::exec);
  CAPTURE(static_cast<int>(kind));
  REQUIRE(r.cpu.translate(va, kind).ok);
  const bool writes = kind == access_kind::write || kind == access_kind::atomic;
  for (std::size_t i = 0; i < path.size(); ++i) {
    CAPTURE(i);
    CHECK(pte_young(*path[i]));
    if (i + 1 < path.size()) CHECK_FALSE(pte_hw_dirty(*path[i]));
  }
  CHECK(pte_hw_dirty(*path.back()) == writes);
}

TEST_CASE("a read of a not-present page reports a not-present fault", "[arch][x86_64][mmu]") {
  const unsigned va_bits = GENERATE(48u, 57u);
  rig r(va_bits);
  const vaddr_t va = va_with(3, 2, 1, 1);
  SECTION("nothing mapped at all: the walk stops at the top level") {
    auto tr = r.read(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == X86_PF_USER);
    CHECK(r.cpu.stats().walk_reads == 1);
    CHECK(r.cpu.lookup(r.root, va).level == static_cast<pt_level>(r.levels - 1));
  }
  SECTION("the PTE table exists but the entry is empty") {
    r.map_4k(va + PAGE_SIZE, 0x10, RW);
    auto tr = r.read(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == X86_PF_USER);
    CHECK((tr.error_code & X86_PF_PROT) == 0);
    CHECK(r.cpu.stats().walk_reads == r.levels);
    CHECK(r.cpu.lookup(r.root, va).level == pt_level::pte);
  }
  SECTION("a write to a not-present page adds only W") {
    auto tr = r.write(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == (X86_PF_USER | X86_PF_WRITE));
  }
  SECTION("an exec of a not-present page adds only I") {
    auto tr = r.exec(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == (X86_PF_USER | X86_PF_INSTR));
  }
  CHECK(r.cpu.stats().faults == 1);
  CHECK(r.cpu.tlb(pt_level::pte).probe(PCID, va) == nullptr);  // faults fill nothing
}

TEST_CASE("protection faults report P, W, U and I as the SDM says", "[arch][x86_64][mmu]") {
  rig r(48);
  const vaddr_t va = va_with(3, 2, 1, 1);
  SECTION("a write to a read-only leaf") {
    r.map_4k(va, 0x10, RO);
    auto tr = r.write(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == (X86_PF_PROT | X86_PF_WRITE | X86_PF_USER));
    CHECK_FALSE(pte_hw_dirty(r.slot(va, pt_level::pte)));
    CHECK(r.read(va).ok);  // reads are still fine
  }
  SECTION("an atomic RMW on a read-only leaf is a write fault") {
    r.map_4k(va, 0x10, RO);
    auto tr = r.cpu.translate(va, access_kind::atomic);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == (X86_PF_PROT | X86_PF_WRITE | X86_PF_USER));
  }
  SECTION("a write through a read-only table entry (R/W is ANDed across levels)") {
    r.map_4k(va, 0x10, RW);
    r.path(va, pt_level::pte)[1][0] &= ~_PAGE_RW;  // the PUD entry
    auto tr = r.write(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == (X86_PF_PROT | X86_PF_WRITE | X86_PF_USER));
  }
  SECTION("an exec of an NX leaf") {
    r.map_4k(va, 0x10, RW);
    auto tr = r.exec(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == (X86_PF_PROT | X86_PF_INSTR | X86_PF_USER));
  }
  SECTION("an exec under an NX table entry (XD is ORed across levels)") {
    r.map_4k(va, 0x10, RWX);
    r.path(va, pt_level::pte)[2][0] |= _PAGE_NX;  // the PMD entry
    auto tr = r.exec(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == (X86_PF_PROT | X86_PF_INSTR | X86_PF_USER));
  }
  SECTION("a user read of a supervisor-only page") {
    r.map_4k(va, 0x10, RW & ~_PAGE_USER);
    auto tr = r.read(va);
    CHECK_FALSE(tr.ok);
    CHECK(tr.error_code == (X86_PF_PROT | X86_PF_USER));
  }
  SECTION("exec of an executable page and write of a writable one succeed") {
    r.map_4k(va, 0x10, RX);
    r.map_4k(va + PAGE_SIZE, 0x11, RW);
    CHECK(r.exec(va).ok);
    CHECK(r.write(va + PAGE_SIZE).ok);
    CHECK(r.cpu.stats().faults == 0);
  }
}

TEST_CASE("a TLB hit needs no walk", "[arch][x86_64][mmu][tlb]") {
  rig r(48);
  const vaddr_t va = va_with(3, 2, 1, 1);
  r.map_4k(va, 0x77, RW);
  REQUIRE(r.write(va).ok);
  const mmu_stats before = r.cpu.stats();
  const cycles_t walk_before = r.walk_cycles();
  const auto hits_before = r.cpu.tlb(pt_level::pte).stats().hits;
  for (auto kind : {access_kind::read, access_kind::write, access_kind::atomic}) {
    auto tr = r.cpu.translate(va + 0x123, kind);
    REQUIRE(tr.ok);
    CHECK(tr.pfn == 0x77);
  }
  CHECK(r.cpu.stats().walks == before.walks);
  CHECK(r.cpu.stats().walk_reads == before.walk_reads);
  CHECK(r.cpu.stats().accesses == before.accesses + 3);
  CHECK(r.walk_cycles() == walk_before);
  CHECK(r.cpu.tlb(pt_level::pte).stats().hits == hits_before + 3);
}

TEST_CASE("a write hitting a clean writable TLB entry re-walks once to set D and does not fault",
          "[arch][x86_64][mmu][tlb]") {
  const pt_level leaf = GENERATE(pt_level::pte, pt_level::pmd);
  CAPTURE(level_name(leaf));
  rig r(48);
  const vaddr_t va = va_with(0, 2, 1, 1);
  if (leaf == pt_level::pte) r.map_4k(va, 0x200, RW);
  else r.map_2m(va, 0x200, RW);
  pteval_t& e = r.slot(va, leaf);
  REQUIRE(r.read(va).ok);
  REQUIRE_FALSE(pte_hw_dirty(e));
  REQUIRE(r.cpu.stats().walks == 1);

  auto tr = r.write(va);
  REQUIRE(tr.ok);
  CHECK(tr.pfn == 0x200);
  CHECK(r.cpu.stats().dirty_assists == 1);
  CHECK(r.cpu.stats().walks == 2);
  CHECK(r.cpu.stats().faults == 0);
  CHECK(pte_hw_dirty(e));
  REQUIRE(r.cpu.tlb(leaf).probe(PCID, va) != nullptr);
  CHECK((r.cpu.tlb(leaf).probe(PCID, va)->perm & TLB_DIRTY) != 0);

  REQUIRE(r.write(va).ok);  // now the entry is dirty: a plain hit
  CHECK(r.cpu.stats().dirty_assists == 1);
  CHECK(r.cpu.stats().walks == 2);
}

TEST_CASE("a write hitting a read-only TLB entry re-walks before faulting; the entry is dropped",
          "[arch][x86_64][mmu][tlb]") {
  rig r(48);
  const vaddr_t va = va_with(3, 2, 1, 1);
  r.map_4k(va, 0x300, RO);
  REQUIRE(r.read(va).ok);
  REQUIRE(r.cpu.tlb(pt_level::pte).probe(PCID, va) != nullptr);
  const auto walks = r.cpu.stats().walks;

  // The tables still say read-only: the re-walk confirms it and #PF follows.
  auto tr = r.write(va);
  CHECK_FALSE(tr.ok);
  CHECK(tr.error_code == (X86_PF_PROT | X86_PF_WRITE | X86_PF_USER));
  CHECK(r.cpu.stats().faults == 1);
  CHECK(r.cpu.stats().dirty_assists == 0);
  CHECK(r.cpu.stats().permission_rewalks == 1);
  CHECK(r.cpu.stats().walks == walks + 1);
  CHECK(r.cpu.tlb(pt_level::pte).probe(PCID, va) == nullptr);

  // A permission upgrade without a flush: the read-only entry is cached again, yet the write
  // succeeds through the re-walk instead of faulting spuriously.
  REQUIRE(r.read(va).ok);
  r.slot(va, pt_level::pte) = pte_mkwrite(r.slot(va, pt_level::pte));
  REQUIRE(r.write(va).ok);
  CHECK(r.cpu.stats().faults == 1);
  CHECK(r.cpu.stats().permission_rewalks == 2);
}

TEST_CASE("an exec hitting an NX TLB entry faults with I and the entry is dropped",
          "[arch][x86_64][mmu][tlb]") {
  rig r(48);
  const vaddr_t va = va_with(3, 2, 1, 1);
  r.map_4k(va, 0x300, RW);
  REQUIRE(r.read(va).ok);
  auto tr = r.exec(va);
  CHECK_FALSE(tr.ok);
  CHECK(tr.error_code == (X86_PF_PROT | X86_PF_INSTR | X86_PF_USER));
  CHECK(r.cpu.tlb(pt_level::pte).probe(PCID, va) == nullptr);
}

SCENARIO("a missing TLB flush is observable: the stale entry is used until invlpg",
         "[arch][x86_64][mmu][tlb]") {
  GIVEN("a 4K page translated once, so the TLB caches it") {
    rig r(48);
    const vaddr_t va = va_with(3, 2, 1, 1);
    r.map_4k(va, 0x100, RW);
    REQUIRE(r.read(va).pfn == 0x100);

    WHEN("the PTE is pointed at another frame without a flush") {
      r.map_4k(va, 0x200, RW);
      THEN("the old frame is still used") {
        CHECK(r.read(va).pfn == 0x100);
        CHECK(r.cpu.lookup(r.root, va).pfn == 0x200);  // the tables say otherwise
      }
      AND_WHEN("another PCID's entry for the page is invalidated") {
        r.cpu.invlpg(PCID + 1, va);
        THEN("the stale entry survives") { CHECK(r.read(va).pfn == 0x100); }
      }
      AND_WHEN("invlpg is issued for the page") {
        r.cpu.invlpg(PCID, va);
        THEN("the new frame is used") {
          auto tr = r.read(va);
          REQUIRE(tr.ok);
          CHECK(tr.pfn == 0x200);
        }
      }
    }
    WHEN("the PTE is cleared without a flush") {
      r.slot(va, pt_level::pte) = 0;
      THEN("the page is still accessible until invlpg, and faults after") {
        CHECK(r.read(va).ok);
        r.cpu.invlpg(PCID, va + 0x800);
        auto tr = r.read(va);
        CHECK_FALSE(tr.ok);
        CHECK(tr.error_code == X86_PF_USER);
      }
    }
  }
  GIVEN("a 2M page cached in the 2M TLB") {
    rig r(48);
    const vaddr_t va = va_with(0, 2, 1, 1);
    r.map_2m(va, 0x400, RW);
    REQUIRE(r.read(va + 0x3000).pfn == 0x403);
    r.map_2m(va, 0x600, RW);
    CHECK(r.read(va + 0x5000).pfn == 0x405);  // stale
    WHEN("invlpg names any address inside the 2M page") {
      r.cpu.invlpg(PCID, va + PMD_SIZE - 1);
      THEN("the entry is gone and the new translation is used") {
        CHECK(r.read(va + 0x5000).pfn == 0x605);
      }
    }
  }
}

TEST_CASE("PCIDs keep address spaces apart and flush_pcid drops only that PCID",
          "[arch][x86_64][mmu][tlb]") {
  rig r(48);
  const vaddr_t va = va_with(3, 2, 1, 1);
  const pfn_t root_a = r.root;
  const pfn_t root_b = r.new_table();
  r.slot(va, pt_level::pte, root_a) = pfn_pte(0xa0, RW);
  r.slot(va, pt_level::pte, root_b) = pfn_pte(0xb0, RW);

  r.cpu.load_cr3(root_a, 1);
  REQUIRE(r.read(va).pfn == 0xa0);
  r.cpu.load_cr3(root_b, 2);
  REQUIRE(r.read(va).pfn == 0xb0);  // PCID 1's entry is not used for PCID 2
  CHECK(r.cpu.stats().walks == 2);
  CHECK(r.cpu.tlb(pt_level::pte).probe(1, va) != nullptr);
  CHECK(r.cpu.tlb(pt_level::pte).probe(2, va) != nullptr);

  r.cpu.load_cr3(root_a, 1);
  CHECK(r.read(va).pfn == 0xa0);  // survived the CR3 switch
  CHECK(r.cpu.stats().walks == 2);

  r.cpu.flush_pcid(1);
  CHECK(r.cpu.tlb(pt_level::pte).probe(1, va) == nullptr);
  CHECK(r.cpu.tlb(pt_level::pte).probe(2, va) != nullptr);
  CHECK(r.read(va).pfn == 0xa0);
  CHECK(r.cpu.stats().walks == 3);

  r.cpu.flush_all();
  CHECK(r.cpu.tlb(pt_level::pte).probe(1, va) == nullptr);
  CHECK(r.cpu.tlb(pt_level::pte).probe(2, va) == nullptr);
}

TEST_CASE("flush_pcid and flush_all reach the 2M and 1G structures too", "[arch][x86_64][mmu][tlb]") {
  rig r(48);
  const vaddr_t a = va_with(0, 2, 1, 1), b = va_with(0, 0, 5, 1);
  r.map_2m(a, 0x200, RW);
  r.map_1g(b, 0x40000, RW);
  REQUIRE(r.read(a).ok);
  REQUIRE(r.read(b).ok);
  r.cpu.flush_pcid(PCID + 1);
  CHECK(r.cpu.tlb(pt_level::pmd).probe(PCID, a) != nullptr);
  CHECK(r.cpu.tlb(pt_level::pud).probe(PCID, b) != nullptr);
  r.cpu.flush_pcid(PCID);
  CHECK(r.cpu.tlb(pt_level::pmd).probe(PCID, a) == nullptr);
  CHECK(r.cpu.tlb(pt_level::pud).probe(PCID, b) == nullptr);
  REQUIRE(r.read(a).ok);
  REQUIRE(r.read(b).ok);
  r.cpu.flush_all();
  CHECK(r.cpu.tlb(pt_level::pmd).probe(PCID, a) == nullptr);
  CHECK(r.cpu.tlb(pt_level::pud).probe(PCID, b) == nullptr);
}

TEST_CASE("the ledger charges walk_read_cycles per walk read and access_cycles per access",
          "[arch][x86_64][mmu]") {
  const unsigned va_bits = GENERATE(48u, 57u);
  CAPTURE(va_bits);
  rig r(va_bits);
  REQUIRE(r.prof.walk_read_cycles == 7);
  REQUIRE(r.prof.access_cycles == 3);
  const unsigned L = r.levels;
  r.map_4k(va_with(1, 1, 1, 1), 0x10, RW);
  r.map_2m(va_with(0, 2, 1, 1), 0x200, RW);
  r.map_1g(va_with(0, 0, 2, 1), 0x40000, RW);

  REQUIRE(r.read(va_with(1, 1, 1, 1)).ok);
  CHECK(r.walk_cycles() == 7 * L);
  REQUIRE(r.read(va_with(0, 2, 1, 1)).ok);
  CHECK(r.walk_cycles() == 7 * (L + L - 1));
  REQUIRE(r.read(va_with(0, 0, 2, 1)).ok);
  CHECK(r.walk_cycles() == 7 * (L + L - 1 + L - 2));
  REQUIRE(r.read(va_with(1, 1, 1, 1)).ok);  // hit
  CHECK(r.walk_cycles() == 7 * (3 * L - 3));
  CHECK_FALSE(r.read(va_with(2, 1, 1, 1)).ok);  // a faulting walk is charged too
  CHECK(r.walk_cycles() == 7 * (4 * L - 3));
  CHECK(r.cpu.stats().walk_reads == 4 * L - 3);
  CHECK(r.access_cycles() == 3 * 5);
  CHECK(r.led.cpu(0).total() == 7 * (4 * L - 3) + 3 * 5);
}

TEST_CASE("the skylake profile's walk cost is what the ledger charges", "[arch][x86_64][mmu]") {
  rig r(48, load_profile("skylake"));
  r.map_4k(va_with(1, 1, 1, 1), 0x10, RW);
  REQUIRE(r.read(va_with(1, 1, 1, 1)).ok);
  CHECK(r.walk_cycles() == 4 * r.prof.walk_read_cycles);
  CHECK(r.access_cycles() == r.prof.access_cycles);
  CHECK(r.walk_cycles() > 0);
}

TEST_CASE("lookup() only looks: no A/D updates, no TLB fill, no stats, no cost",
          "[arch][x86_64][mmu]") {
  rig r(48);
  const vaddr_t va = va_with(3, 2, 1, 1);
  r.map_4k(va, 0x55, RW);
  auto path = r.path(va, pt_level::pte);
  for (pteval_t* e : path) *e = pte_mkold(*e);
  const walk_result w = r.cpu.lookup(r.root, va);
  CHECK(w.ok);
  CHECK(w.pfn == 0x55);
  CHECK(w.reads == 4);
  CHECK(w.leaf == pfn_pte(0x55, pte_mkold(RW)));
  for (pteval_t* e : path) CHECK_FALSE(pte_young(*e));
  CHECK(r.cpu.stats().walks == 0);
  CHECK(r.cpu.stats().walk_reads == 0);
  CHECK(r.cpu.tlb(pt_level::pte).probe(PCID, va) == nullptr);
  CHECK(r.led.cpu(0).total() == 0);
}

TEST_CASE("non-canonical addresses fault", "[arch][x86_64][mmu]") {
  SECTION("bit 47 set with 4 levels") {
    rig r(48);
    const vaddr_t va = vaddr_t{1} << 47;
    r.map_4k(va & ((vaddr_t{1} << 47) - 1), 0x10, RW);  // the address with bit 47 clear
    for (auto kind : {access_kind::read, access_kind::write}) {
      auto tr = r.cpu.translate(va, kind);
      CHECK_FALSE(tr.ok);
      CHECK((tr.error_code & X86_PF_USER) != 0);
    }
    CHECK(r.cpu.stats().walk_reads == 0);
    CHECK(r.cpu.stats().faults == 2);
    CHECK_FALSE(r.cpu.lookup(r.root, va).ok);
  }
  SECTION("bit 47 set is fine with 5 levels, bit 56 is not") {
    rig r(57);
    const vaddr_t va = (vaddr_t{1} << 47) | va_with(3, 2, 1, 0);
    r.map_4k(va, 0x10, RW);
    auto tr = r.read(va);
    REQUIRE(tr.ok);
    CHECK(tr.pfn == 0x10);
    CHECK_FALSE(r.read(vaddr_t{1} << 56).ok);
    CHECK(r.cpu.stats().walk_reads == 5);
  }
  SECTION("an address with only bits 63..60 set does not alias a cached canonical page") {
    // The CPU checks canonicality before the TLB. 0xf000000000001000 is non-canonical in
    // both paging modes; it must fault even while the TLB caches the page at 0x1000.
    const unsigned va_bits = GENERATE(48u, 57u);
    CAPTURE(va_bits);
    rig r(va_bits);
    r.map_4k(0x1000, 0x10, RW);
    REQUIRE(r.read(0x1000).ok);
    const vaddr_t alias = 0xf000000000001000ull;
    REQUIRE_FALSE(user_canonical(alias, va_bits));
    auto tr = r.read(alias);
    CHECK_FALSE(tr.ok);
  }
}

TEST_CASE("a PROT_NONE entry is present to Linux but not to the CPU", "[arch][x86_64][mmu]") {
  const pteval_t none = pfn_pte(0x42, user_prot(false, false, false));
  CHECK(pte_protnone(none));
  CHECK(pte_present(none));
  CHECK_FALSE(pte_hw_present(none));
  CHECK(pte_pfn(none) == 0x42);
  CHECK_FALSE(pte_protnone(pfn_pte(0x42, RO)));
  CHECK_FALSE(pte_present(0));

  rig r(48);
  const vaddr_t va = va_with(3, 2, 1, 1);
  r.slot(va, pt_level::pte) = none;
  for (auto kind : {access_kind::read, access_kind::write, access_kind::exec}) {
    auto tr = r.cpu.translate(va, kind);
    CHECK_FALSE(tr.ok);
    CHECK((tr.error_code & X86_PF_PROT) == 0);  // not present, as the CPU sees it
  }
  CHECK(r.cpu.stats().faults == 3);
  CHECK_FALSE(r.cpu.lookup(r.root, va).ok);
}

TEST_CASE("pte_wrprotect moves D to SavedDirty and pte_mkwrite moves it back (M142)",
          "[arch][x86_64][pgtable]") {
  const pteval_t dirty = pte_mkdirty(pfn_pte(0x99, RW));
  REQUIRE(pte_hw_dirty(dirty));
  const pteval_t ro = pte_wrprotect(dirty);
  CHECK_FALSE(pte_write(ro));
  CHECK_FALSE(pte_hw_dirty(ro));         // never RW=0,D=1: that is a shadow-stack page
  CHECK((ro & _PAGE_SAVED_DIRTY) != 0);
  CHECK(pte_dirty(ro));                  // Linux still sees it dirty
  CHECK(pte_pfn(ro) == 0x99);
  const pteval_t back = pte_mkwrite(ro);
  CHECK(back == dirty);

  const pteval_t clean_ro = pte_wrprotect(pfn_pte(0x99, RW));
  CHECK_FALSE(pte_dirty(clean_ro));
  CHECK((clean_ro & _PAGE_SAVED_DIRTY) == 0);
  CHECK(pte_mkwrite(clean_ro) == pfn_pte(0x99, RW));

  CHECK(pte_mkdirty(pfn_pte(0x99, RO)) == (pfn_pte(0x99, RO) | _PAGE_SAVED_DIRTY));
  CHECK_FALSE(pte_dirty(pte_mkclean(ro)));
}

TEST_CASE("pte_modify keeps the frame and software state and replaces the protection",
          "[arch][x86_64][pgtable]") {
  const pteval_t e = pte_mkdirty(pfn_pte(0x12345, RW)) | _PAGE_SOFT_DIRTY | _PAGE_SPECIAL;
  const pteval_t ro = pte_modify(e, RO);
  CHECK(pte_pfn(ro) == 0x12345);
  CHECK_FALSE(pte_write(ro));
  CHECK_FALSE(pte_hw_dirty(ro));
  CHECK(pte_dirty(ro));
  CHECK((ro & _PAGE_SOFT_DIRTY) != 0);
  CHECK(pte_special(ro));
  CHECK_FALSE(pte_exec(ro));

  const pteval_t rx = pte_modify(ro, RX);
  CHECK(pte_pfn(rx) == 0x12345);
  CHECK(pte_exec(rx));

  const pteval_t rw = pte_modify(ro, RW);
  CHECK(pte_write(rw));
  CHECK(pte_hw_dirty(rw));
  CHECK((rw & _PAGE_SAVED_DIRTY) == 0);

  const pteval_t none = pte_modify(e, user_prot(false, false, false));
  CHECK(pte_pfn(none) == 0x12345);
  CHECK(pte_protnone(none));
  CHECK(pte_present(none));
  CHECK_FALSE(pte_hw_present(none));
  CHECK(pte_modify(none, RW) == (pte_modify(e, RW)));
}
