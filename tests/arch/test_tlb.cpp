// tlb_array: one set-associative, LRU, ASID-tagged TLB structure. Geometry, replacement,
// invalidation, counters, and a seeded cross-check against a reference LRU model.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "arch/tlb.hpp"

using namespace mmsim::arch;

namespace {

constexpr vaddr_t VA = 0x7f0000000000;
constexpr std::uint8_t RW = TLB_WRITE | TLB_DIRTY | TLB_USER;

/// 4 sets of 4 ways: pages whose VPN differ by a multiple of 4 land in the same set.
tlb_array four_way() { return tlb_array(tlb_geometry{16, 4}, PAGE_SHIFT); }
/// The n-th page that maps to set 0 of four_way().
constexpr vaddr_t set0_page(unsigned n) { return VA + vaddr_t{n} * 4 * PAGE_SIZE; }

struct seen {
  std::uint16_t asid;
  vaddr_t va;
  pfn_t pfn;
  std::uint8_t perm;
  bool operator<(const seen& o) const {
    return std::tie(asid, va, pfn, perm) < std::tie(o.asid, o.va, o.pfn, o.perm);
  }
  bool operator==(const seen& o) const {
    return std::tie(asid, va, pfn, perm) == std::tie(o.asid, o.va, o.pfn, o.perm);
  }
};

std::set<seen> contents(const tlb_array& t) {
  std::set<seen> s;
  t.for_each([&](std::uint16_t asid, vaddr_t va, const tlb_entry& e) {
    s.insert({asid, va, e.pfn, e.perm});
  });
  return s;
}

}  // namespace

TEST_CASE("a tlb_array's capacity is its entry count", "[arch][tlb]") {
  CHECK(tlb_array(tlb_geometry{64, 4}, PAGE_SHIFT).capacity() == 64);
  CHECK(tlb_array(tlb_geometry{64, 64}, PAGE_SHIFT).capacity() == 64);
  CHECK(tlb_array(tlb_geometry{32, 4}, PMD_SHIFT).capacity() == 32);
  CHECK(tlb_array(tlb_geometry{32, 4}, PMD_SHIFT).page_shift() == PMD_SHIFT);
  CHECK(tlb_array(tlb_geometry{0, 1}, PAGE_SHIFT).capacity() == 0);
}

SCENARIO("a 4-way set evicts its least recently used entry on the 5th conflicting fill",
         "[arch][tlb]") {
  GIVEN("a 16-entry 4-way structure with four pages filled into set 0 and one into set 1") {
    tlb_array t = four_way();
    for (unsigned n = 0; n < 4; ++n) t.fill(1, set0_page(n), 100 + n, RW);
    const vaddr_t other_set = VA + PAGE_SIZE;
    t.fill(1, other_set, 200, RW);
    REQUIRE(t.stats().evictions == 0);

    WHEN("page 0 is used again and a 5th page conflicting in set 0 is filled") {
      REQUIRE(t.lookup(1, set0_page(0)) != nullptr);
      t.fill(1, set0_page(4), 104, RW);

      THEN("page 1, now the least recently used, is the one evicted") {
        CHECK(t.stats().evictions == 1);
        CHECK(t.probe(1, set0_page(1)) == nullptr);
        CHECK(t.probe(1, set0_page(0)) != nullptr);
        CHECK(t.probe(1, set0_page(2)) != nullptr);
        CHECK(t.probe(1, set0_page(3)) != nullptr);
        REQUIRE(t.probe(1, set0_page(4)) != nullptr);
        CHECK(t.probe(1, set0_page(4))->pfn == 104);
      }
      THEN("the other set is untouched") {
        REQUIRE(t.probe(1, other_set) != nullptr);
        CHECK(t.probe(1, other_set)->pfn == 200);
      }
    }
    WHEN("a 5th conflicting page is filled without any lookup") {
      t.fill(1, set0_page(4), 104, RW);
      THEN("the first filled page is evicted") {
        CHECK(t.probe(1, set0_page(0)) == nullptr);
        for (unsigned n = 1; n <= 4; ++n) CHECK(t.probe(1, set0_page(n)) != nullptr);
        CHECK(contents(t).size() == 5);
      }
    }
    WHEN("an entry already present is filled again") {
      t.fill(1, set0_page(2), 777, TLB_USER);
      THEN("it is updated in place: nothing is evicted and nothing is duplicated") {
        CHECK(t.stats().evictions == 0);
        CHECK(t.stats().fills == 6);
        CHECK(contents(t).size() == 5);
        REQUIRE(t.probe(1, set0_page(2)) != nullptr);
        CHECK(t.probe(1, set0_page(2))->pfn == 777);
        CHECK(t.probe(1, set0_page(2))->perm == TLB_USER);
      }
    }
  }
}

SCENARIO("a fully associative 64-entry structure holds 64 pages, then evicts the LRU one",
         "[arch][tlb]") {
  GIVEN("64 arbitrary pages filled into a 64-way structure") {
    tlb_array t(tlb_geometry{64, 64}, PAGE_SHIFT);
    // Scattered VPNs: any set-indexing mistake would make some of them collide.
    auto page = [](unsigned n) { return VA + vaddr_t{n} * 0x11000 + (vaddr_t{n} << 30); };
    for (unsigned n = 0; n < 64; ++n) t.fill(3, page(n), n, RW);

    THEN("all 64 are present and nothing was evicted") {
      CHECK(t.stats().evictions == 0);
      for (unsigned n = 0; n < 64; ++n) {
        const tlb_entry* e = t.probe(3, page(n));
        REQUIRE(e != nullptr);
        CHECK(e->pfn == n);
      }
    }
    WHEN("page 0 is used and a 65th page is filled") {
      REQUIRE(t.lookup(3, page(0)) != nullptr);
      t.fill(3, page(64), 64, RW);
      THEN("page 1 is evicted, page 0 survives") {
        CHECK(t.stats().evictions == 1);
        CHECK(t.probe(3, page(1)) == nullptr);
        CHECK(t.probe(3, page(0)) != nullptr);
        CHECK(t.probe(3, page(64)) != nullptr);
        CHECK(contents(t).size() == 64);
      }
    }
  }
}

TEST_CASE("tlb_array counts hits, misses, fills, evictions and invalidations exactly",
          "[arch][tlb]") {
  tlb_array t = four_way();
  CHECK(t.lookup(1, VA) == nullptr);  // miss
  t.fill(1, VA, 10, RW);              // fill
  CHECK(t.lookup(1, VA) != nullptr);  // hit
  CHECK(t.lookup(1, VA + 0x123) != nullptr);  // same page: hit
  CHECK(t.lookup(2, VA) == nullptr);  // other asid: miss
  for (unsigned n = 1; n <= 4; ++n) t.fill(1, set0_page(n), n, RW);  // 4 fills, 1 eviction
  t.invalidate_page(1, set0_page(4));  // 1 invalidation
  t.invalidate_page(1, set0_page(4));  // absent: not counted
  t.invalidate_page(9, set0_page(3));  // wrong asid: not counted

  const tlb_stats& s = t.stats();
  CHECK(s.hits == 2);
  CHECK(s.misses == 2);
  CHECK(s.fills == 5);
  CHECK(s.evictions == 1);
  CHECK(s.invalidations == 1);
}

TEST_CASE("the same VA under different ASIDs is two different entries", "[arch][tlb]") {
  tlb_array t = four_way();
  t.fill(1, VA, 10, RW);
  t.fill(2, VA, 20, TLB_USER);
  const tlb_entry* a = t.lookup(1, VA);
  const tlb_entry* b = t.lookup(2, VA);
  REQUIRE(a != nullptr);
  REQUIRE(b != nullptr);
  CHECK(a != b);
  CHECK(a->pfn == 10);
  CHECK(a->perm == RW);
  CHECK(b->pfn == 20);
  CHECK(b->perm == TLB_USER);
  CHECK(t.lookup(3, VA) == nullptr);
  CHECK(contents(t) == std::set<seen>{{1, VA, 10, RW}, {2, VA, 20, TLB_USER}});
}

TEST_CASE("invalidate_page drops only the entry for that (asid, va)", "[arch][tlb]") {
  tlb_array t = four_way();
  t.fill(1, VA, 10, RW);
  t.fill(2, VA, 20, RW);
  t.fill(1, VA + PAGE_SIZE, 11, RW);
  t.invalidate_page(1, VA + 0xabc);  // any address inside the page names it
  CHECK(t.probe(1, VA) == nullptr);
  CHECK(t.lookup(1, VA) == nullptr);
  CHECK(t.probe(2, VA) != nullptr);
  CHECK(t.probe(1, VA + PAGE_SIZE) != nullptr);
  CHECK(t.stats().invalidations == 1);
  CHECK(contents(t) == std::set<seen>{{2, VA, 20, RW}, {1, VA + PAGE_SIZE, 11, RW}});
}

TEST_CASE("invalidate_asid drops every entry of that asid and nothing else", "[arch][tlb]") {
  tlb_array t = four_way();
  for (unsigned n = 0; n < 3; ++n) t.fill(1, VA + n * PAGE_SIZE, n, RW);
  t.fill(2, VA, 20, RW);
  t.fill(2, VA + 5 * PAGE_SIZE, 25, RW);
  t.invalidate_asid(1);
  CHECK(t.stats().invalidations == 3);
  for (unsigned n = 0; n < 3; ++n) CHECK(t.probe(1, VA + n * PAGE_SIZE) == nullptr);
  CHECK(contents(t) == std::set<seen>{{2, VA, 20, RW}, {2, VA + 5 * PAGE_SIZE, 25, RW}});
  t.invalidate_asid(1);  // nothing left to drop
  CHECK(t.stats().invalidations == 3);
}

TEST_CASE("invalidate_all drops every entry and counts each one", "[arch][tlb]") {
  tlb_array t = four_way();
  t.fill(1, VA, 10, RW);
  t.fill(2, VA, 20, RW);
  t.fill(7, set0_page(3), 30, RW);
  t.fill(0, set0_page(1), 40, RW);  // ASID 0 is an ASID like any other
  t.invalidate_all();
  CHECK(t.stats().invalidations == 4);
  CHECK(contents(t).empty());
  CHECK(t.lookup(1, VA) == nullptr);
  CHECK(t.lookup(2, VA) == nullptr);
  CHECK(t.lookup(7, set0_page(3)) == nullptr);
  CHECK(t.lookup(0, set0_page(1)) == nullptr);
  // The freed ways are reused without evicting anything.
  for (unsigned n = 0; n < 4; ++n) t.fill(1, set0_page(n), n, RW);
  CHECK(t.stats().evictions == 0);
}

TEST_CASE("a 2M structure answers any VA inside the 2M page and none outside", "[arch][tlb]") {
  tlb_array t(tlb_geometry{32, 4}, PMD_SHIFT);
  const vaddr_t huge = 0x7f0000200000;  // 2M aligned
  t.fill(1, huge + 0x12345, 512, RW);   // filled from an address inside the page
  for (vaddr_t off : {vaddr_t{0}, vaddr_t{0x1000}, vaddr_t{0x12345}, PMD_SIZE - 1}) {
    const tlb_entry* e = t.lookup(1, huge + off);
    REQUIRE(e != nullptr);
    CHECK(e->pfn == 512);
  }
  CHECK(t.lookup(1, huge - 1) == nullptr);
  CHECK(t.lookup(1, huge + PMD_SIZE) == nullptr);
  CHECK(contents(t) == std::set<seen>{{1, huge, 512, RW}});  // reported at the page's base
  t.invalidate_page(1, huge + PMD_SIZE - PAGE_SIZE);  // the last 4K of the 2M page
  CHECK(contents(t).empty());
}

TEST_CASE("a zero-entry structure always misses and ignores fills", "[arch][tlb]") {
  tlb_array t(tlb_geometry{0, 1}, PAGE_SHIFT);
  t.fill(1, VA, 10, RW);
  CHECK(t.lookup(1, VA) == nullptr);
  CHECK(t.lookup(1, VA) == nullptr);
  CHECK(t.probe(1, VA) == nullptr);
  t.invalidate_page(1, VA);
  t.invalidate_asid(1);
  t.invalidate_all();
  CHECK(contents(t).empty());
  CHECK(t.stats().misses == 2);
  CHECK(t.stats().hits == 0);
  CHECK(t.stats().fills == 0);
  CHECK(t.stats().evictions == 0);
  CHECK(t.stats().invalidations == 0);
}

TEST_CASE("for_each visits exactly the valid entries, each once, with its asid and page va",
          "[arch][tlb]") {
  tlb_array t = four_way();
  CHECK(contents(t).empty());
  t.fill(1, VA + 0x10, 10, RW);
  t.fill(2, VA + 3 * PAGE_SIZE + 0xfff, 13, TLB_USER);
  t.fill(65535, set0_page(2), 22, TLB_EXEC | TLB_USER);
  t.invalidate_page(1, VA);
  unsigned visits = 0;
  t.for_each([&](std::uint16_t, vaddr_t, const tlb_entry&) { ++visits; });
  CHECK(visits == 2);
  CHECK(contents(t) == std::set<seen>{{2, VA + 3 * PAGE_SIZE, 13, TLB_USER},
                                      {65535, set0_page(2), 22, TLB_EXEC | TLB_USER}});
}

TEST_CASE("probe neither counts nor refreshes LRU", "[arch][tlb]") {
  tlb_array t = four_way();
  for (unsigned n = 0; n < 4; ++n) t.fill(1, set0_page(n), n, RW);
  const tlb_stats before = t.stats();
  REQUIRE(t.probe(1, set0_page(0)) != nullptr);  // page 0 is the LRU one
  CHECK(t.probe(1, set0_page(9)) == nullptr);
  CHECK(t.stats().hits == before.hits);
  CHECK(t.stats().misses == before.misses);
  CHECK(t.stats().fills == before.fills);
  t.fill(1, set0_page(4), 4, RW);
  CHECK(t.probe(1, set0_page(0)) == nullptr);  // a probe did not save it
  CHECK(t.probe(1, set0_page(1)) != nullptr);
}

TEST_CASE("a lookup hit returns the live entry, so the caller sees later fills of it",
          "[arch][tlb]") {
  tlb_array t = four_way();
  t.fill(4, VA, 1, TLB_USER);
  tlb_entry* e = t.lookup(4, VA);
  REQUIRE(e != nullptr);
  CHECK(e == t.probe(4, VA));
  t.fill(4, VA, 2, RW);
  CHECK(e->pfn == 2);
  CHECK(e->perm == RW);
}

namespace {

/// Reference model: per set, entries ordered from least to most recently used.
struct ref_tlb {
  struct ent {
    std::uint16_t asid;
    std::uint64_t vpn;
    pfn_t pfn;
    std::uint8_t perm;
  };
  unsigned sets, ways, shift;
  std::vector<std::vector<ent>> s;
  tlb_stats st;
  ref_tlb(unsigned entries, unsigned w, unsigned sh) : sets(entries / w), ways(w), shift(sh), s(sets) {}
  std::vector<ent>& set_for(vaddr_t va) { return s[(va >> shift) % sets]; }
  std::vector<ent>::iterator find(std::vector<ent>& set, std::uint16_t asid, vaddr_t va) {
    return std::find_if(set.begin(), set.end(), [&](const ent& e) {
      return e.asid == asid && e.vpn == (va >> shift);
    });
  }
  const ent* lookup(std::uint16_t asid, vaddr_t va) {
    auto& set = set_for(va);
    auto it = find(set, asid, va);
    if (it == set.end()) {
      ++st.misses;
      return nullptr;
    }
    ++st.hits;
    ent e = *it;
    set.erase(it);
    set.push_back(e);
    return &set.back();
  }
  void fill(std::uint16_t asid, vaddr_t va, pfn_t pfn, std::uint8_t perm) {
    auto& set = set_for(va);
    auto it = find(set, asid, va);
    if (it != set.end()) {
      set.erase(it);
    } else if (set.size() == ways) {
      set.erase(set.begin());
      ++st.evictions;
    }
    set.push_back({asid, va >> shift, pfn, perm});
    ++st.fills;
  }
  void invalidate_page(std::uint16_t asid, vaddr_t va) {
    auto& set = set_for(va);
    auto it = find(set, asid, va);
    if (it == set.end()) return;
    set.erase(it);
    ++st.invalidations;
  }
  void invalidate_asid(std::uint16_t asid) {
    for (auto& set : s)
      for (auto it = set.begin(); it != set.end();)
        if (it->asid == asid) {
          it = set.erase(it);
          ++st.invalidations;
        } else {
          ++it;
        }
  }
  std::set<seen> contents() const {
    std::set<seen> r;
    for (auto& set : s)
      for (auto& e : set) r.insert({e.asid, e.vpn << shift, e.pfn, e.perm});
    return r;
  }
};

}  // namespace

TEST_CASE("tlb_array behaves like a reference LRU model under seeded random operations",
          "[arch][tlb]") {
  const auto geometry = GENERATE(tlb_geometry{16, 4}, tlb_geometry{64, 64}, tlb_geometry{8, 1},
                                 tlb_geometry{32, 8});
  const unsigned shift = GENERATE(PAGE_SHIFT, PMD_SHIFT);
  const std::uint64_t seed = GENERATE(1ull, 2ull, 0xdecafbadull);
  CAPTURE(geometry.entries, geometry.ways, shift, seed);

  tlb_array t(geometry, shift);
  ref_tlb ref(geometry.entries, geometry.ways, shift);
  std::mt19937_64 rng(seed);
  // A universe of pages a little larger than the structure, under three ASIDs, so that hits,
  // conflicts and evictions are all frequent.
  const std::uint64_t pages = geometry.entries + 4;
  auto rand_va = [&] {
    return (vaddr_t{rng() % pages} << shift) + (rng() % (vaddr_t{1} << shift));
  };
  auto rand_asid = [&] { return static_cast<std::uint16_t>(rng() % 3); };

  for (int step = 0; step < 4000; ++step) {
    const unsigned op = rng() % 1000;
    const auto asid = rand_asid();
    const vaddr_t va = rand_va();
    if (op < 500) {
      const tlb_entry* got = t.lookup(asid, va);
      const ref_tlb::ent* want = ref.lookup(asid, va);
      REQUIRE((got == nullptr) == (want == nullptr));
      if (got) {
        REQUIRE(got->pfn == want->pfn);
        REQUIRE(got->perm == want->perm);
      }
    } else if (op < 880) {
      const pfn_t pfn = rng() % 100000;
      const auto perm = static_cast<std::uint8_t>(rng() % 16);
      t.fill(asid, va, pfn, perm);
      ref.fill(asid, va, pfn, perm);
    } else if (op < 995) {
      t.invalidate_page(asid, va);
      ref.invalidate_page(asid, va);
    } else {
      t.invalidate_asid(asid);
      ref.invalidate_asid(asid);
    }
    if (step % 97 == 0) REQUIRE(contents(t) == ref.contents());
  }
  CHECK(contents(t) == ref.contents());
  CHECK(t.stats().hits == ref.st.hits);
  CHECK(t.stats().misses == ref.st.misses);
  CHECK(t.stats().fills == ref.st.fills);
  CHECK(t.stats().evictions == ref.st.evictions);
  CHECK(t.stats().invalidations == ref.st.invalidations);
  CHECK(t.stats().hits > 100);
  CHECK(t.stats().evictions > 10);
}
