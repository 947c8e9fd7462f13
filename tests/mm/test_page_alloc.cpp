// The buddy allocator (carving, split, merge, real fragmentation, exhaustion) and the
// hierarchical bitmap it keeps its free lists in; plus a seeded random run against a reference.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "mm/hbitmap.hpp"
#include "mm/page_alloc.hpp"

using namespace mmsim::mm;
using mmsim::arch::HPAGE_PMD_NR;
using mmsim::arch::HPAGE_PMD_ORDER;

namespace {

using counts = std::array<std::uint64_t, MAX_PAGE_ORDER + 1>;

counts block_counts(const buddy_allocator& b) {
  counts c{};
  for (unsigned o = 0; o <= MAX_PAGE_ORDER; ++o) c[o] = b.nr_free_blocks(o);
  return c;
}

std::uint64_t pages_in_blocks(const buddy_allocator& b) {
  std::uint64_t n = 0;
  for (unsigned o = 0; o <= MAX_PAGE_ORDER; ++o) n += b.nr_free_blocks(o) << o;
  return n;
}

counts only(std::initializer_list<std::pair<unsigned, std::uint64_t>> l) {
  counts c{};
  for (auto [o, n] : l) c[o] = n;
  return c;
}

}  // namespace

TEST_CASE("buddy: [first, end) is carved into maximal naturally aligned blocks", "[mm][buddy]") {
  SECTION("[1, 1024) gives one block of each order 0..9") {
    buddy_allocator b(1, 1024);
    for (unsigned o = 0; o <= 9; ++o) CHECK(b.nr_free_blocks(o) == 1);
    for (unsigned o = 10; o <= MAX_PAGE_ORDER; ++o) CHECK(b.nr_free_blocks(o) == 0);
    CHECK(b.nr_free_pages() == 1023);
    CHECK_FALSE(b.is_free(0));
    for (pfn_t p = 1; p < 1024; ++p) REQUIRE(b.is_free(p));
    CHECK_FALSE(b.is_free(1024));
  }
  SECTION("[5, 37) gives 5(0) 6(1) 8(3) 16(4) 32(2) 36(0)") {
    buddy_allocator b(5, 37);
    CHECK(block_counts(b) == only({{0, 2}, {1, 1}, {2, 1}, {3, 1}, {4, 1}}));
    CHECK(b.nr_free_pages() == 32);
    for (pfn_t p = 0; p < 40; ++p) CHECK(b.is_free(p) == (p >= 5 && p < 37));
  }
  SECTION("blocks never exceed MAX_PAGE_ORDER") {
    const pfn_t max = pfn_t{1} << MAX_PAGE_ORDER;
    buddy_allocator b(0, 3 * max + 5);
    CHECK(block_counts(b) == only({{MAX_PAGE_ORDER, 3}, {2, 1}, {0, 1}}));
    CHECK(b.nr_free_pages() == 3 * max + 5);
  }
  SECTION("an empty range has nothing free") {
    buddy_allocator b(64, 64);
    CHECK(b.nr_free_pages() == 0);
    CHECK(block_counts(b) == counts{});
    CHECK_FALSE(b.alloc(0).has_value());
  }
}

TEST_CASE("buddy: alloc returns naturally aligned blocks of free frames", "[mm][buddy]") {
  buddy_allocator b(3, 20000);
  std::vector<std::pair<pfn_t, unsigned>> got;
  for (unsigned o : {0u, 3u, 1u, 9u, 2u, 10u, 0u, 5u, 12u, 4u}) {
    CAPTURE(o);
    const std::uint64_t before = b.nr_free_pages();
    auto p = b.alloc(o);
    REQUIRE(p.has_value());
    CHECK(*p % (pfn_t{1} << o) == 0);
    CHECK(*p >= 3);
    CHECK(*p + (pfn_t{1} << o) <= 20000);
    for (pfn_t f = *p; f < *p + (pfn_t{1} << o); ++f) REQUIRE_FALSE(b.is_free(f));
    CHECK(b.nr_free_pages() == before - (pfn_t{1} << o));
    for (auto [q, qo] : got) CHECK((*p + (pfn_t{1} << o) <= q || q + (pfn_t{1} << qo) <= *p));
    got.emplace_back(*p, o);
  }
}

TEST_CASE("buddy: a split hands out the lower half and leaves the buddies free", "[mm][buddy]") {
  buddy_allocator b(0, 1024);  // one order-10 block
  REQUIRE(block_counts(b) == only({{10, 1}}));
  auto p = b.alloc(0);
  REQUIRE(p == pfn_t{0});
  // 0 is taken; its buddies 1, 2-3, 4-7, ..., 512-1023 are free, one per order.
  CHECK(block_counts(b) == only({{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}, {7, 1},
                                 {8, 1}, {9, 1}}));
  CHECK(b.nr_free_pages() == 1023);
  CHECK_FALSE(b.is_free(0));
  for (pfn_t f = 1; f < 1024; ++f) REQUIRE(b.is_free(f));
  // Lowest free block first: the smallest fitting block is used before splitting a larger one.
  CHECK(b.alloc(0) == pfn_t{1});
  CHECK(b.alloc(1) == pfn_t{2});
  CHECK(b.alloc(1) == pfn_t{4});  // splits 4-7
  CHECK(b.nr_free_blocks(1) == 1);
  CHECK(b.is_free(6));
  CHECK(b.is_free(7));
  CHECK(b.nr_free_pages() == 1024 - 6);
}

TEST_CASE("buddy: free merges buddies back, and only buddies", "[mm][buddy]") {
  SECTION("freeing everything restores the initial block counts") {
    buddy_allocator b(1, 1024);
    const counts initial = block_counts(b);
    std::vector<std::pair<pfn_t, unsigned>> live;
    for (unsigned o : {0u, 0u, 2u, 1u, 5u, 0u, 3u, 8u, 0u, 1u}) {
      auto p = b.alloc(o);
      REQUIRE(p.has_value());
      live.emplace_back(*p, o);
    }
    REQUIRE(block_counts(b) != initial);
    // Free in an order unrelated to allocation order.
    std::reverse(live.begin(), live.end());
    std::rotate(live.begin(), live.begin() + 3, live.end());
    for (auto [p, o] : live) b.free(p, o);
    CHECK(block_counts(b) == initial);
    CHECK(b.nr_free_pages() == 1023);
  }
  SECTION("adjacent free blocks that are not buddies stay apart") {
    buddy_allocator b(0, 1024);
    for (pfn_t want = 0; want < 4; ++want) REQUIRE(b.alloc(0) == want);
    b.free(1, 0);
    b.free(2, 0);  // 1 and 2 are neighbours, not buddies
    CHECK(b.nr_free_blocks(0) == 2);
    CHECK(b.nr_free_blocks(1) == 0);
    b.free(3, 0);  // 2+3 merge into order 1; 1 still waits for 0
    CHECK(b.nr_free_blocks(0) == 1);
    CHECK(b.nr_free_blocks(1) == 1);
    b.free(0, 0);  // now everything merges up to order 10
    CHECK(block_counts(b) == only({{10, 1}}));
  }
  SECTION("a block never merges with a buddy past the end") {
    buddy_allocator b(0, 96);  // 0-63 (order 6), 64-95 (order 5)
    REQUIRE(block_counts(b) == only({{6, 1}, {5, 1}}));
    auto p = b.alloc(5);
    REQUIRE(p == pfn_t{64});
    b.free(64, 5);
    CHECK(block_counts(b) == only({{6, 1}, {5, 1}}));
    CHECK_FALSE(b.is_free(96));
    CHECK_FALSE(b.alloc(7).has_value());
  }
  SECTION("a block never merges with reserved frames below first") {
    buddy_allocator b(8, 16);
    REQUIRE(block_counts(b) == only({{3, 1}}));
    for (pfn_t want = 8; want < 16; ++want) REQUIRE(b.alloc(0) == want);
    CHECK_FALSE(b.alloc(0).has_value());
    for (pfn_t p = 8; p < 16; ++p) b.free(p, 0);
    CHECK(block_counts(b) == only({{3, 1}}));
    for (pfn_t p = 0; p < 8; ++p) CHECK_FALSE(b.is_free(p));
  }
}

SCENARIO("buddy: fragmentation is real", "[mm][buddy]") {
  GIVEN("a 2M region whose 512 pages were all allocated one by one") {
    buddy_allocator b(0, HPAGE_PMD_NR);
    REQUIRE(b.nr_free_blocks(HPAGE_PMD_ORDER) == 1);
    std::set<pfn_t> pages;
    for (unsigned i = 0; i < HPAGE_PMD_NR; ++i) {
      auto p = b.alloc(0);
      REQUIRE(p.has_value());
      pages.insert(*p);
    }
    REQUIRE(pages.size() == HPAGE_PMD_NR);
    REQUIRE(b.nr_free_pages() == 0);
    REQUIRE_FALSE(b.alloc(0).has_value());

    WHEN("every other page is freed") {
      for (pfn_t p = 0; p < HPAGE_PMD_NR; p += 2) b.free(p, 0);
      THEN("half the memory is free, yet no order-9 (or even order-1) block exists") {
        CHECK(b.nr_free_pages() == HPAGE_PMD_NR / 2);
        CHECK(b.nr_free_blocks(0) == HPAGE_PMD_NR / 2);
        CHECK_FALSE(b.alloc(HPAGE_PMD_ORDER).has_value());
        CHECK_FALSE(b.alloc(1).has_value());
        CHECK(b.nr_free_pages() == HPAGE_PMD_NR / 2);  // failed requests take nothing
      }
      THEN("an order-0 request still succeeds, with an even (free) frame") {
        auto p = b.alloc(0);
        REQUIRE(p.has_value());
        CHECK(*p % 2 == 0);
        CHECK(b.nr_free_pages() == HPAGE_PMD_NR / 2 - 1);
      }
      AND_WHEN("the odd pages are freed too") {
        for (pfn_t p = 1; p < HPAGE_PMD_NR; p += 2) b.free(p, 0);
        THEN("everything merges back into the order-9 block") {
          CHECK(block_counts(b) == only({{HPAGE_PMD_ORDER, 1}}));
          CHECK(b.alloc(HPAGE_PMD_ORDER) == pfn_t{0});
        }
      }
    }
  }
}

TEST_CASE("buddy: a request beyond MAX_PAGE_ORDER fails and changes nothing", "[mm][buddy]") {
  buddy_allocator b(0, pfn_t{4} << MAX_PAGE_ORDER);
  const counts before = block_counts(b);
  CHECK_FALSE(b.alloc(MAX_PAGE_ORDER + 1).has_value());
  CHECK_FALSE(b.alloc(63).has_value());
  CHECK(block_counts(b) == before);
  CHECK(b.nr_free_pages() == pfn_t{4} << MAX_PAGE_ORDER);
  auto p = b.alloc(MAX_PAGE_ORDER);
  REQUIRE(p.has_value());
  CHECK(*p % (pfn_t{1} << MAX_PAGE_ORDER) == 0);
}

TEST_CASE("buddy: exhausting memory returns nullopt, and freeing makes it available again",
          "[mm][buddy]") {
  buddy_allocator b(0, 64);
  SECTION("page by page") {
    for (int i = 0; i < 64; ++i) REQUIRE(b.alloc(0).has_value());
    CHECK(b.nr_free_pages() == 0);
    CHECK(block_counts(b) == counts{});
    CHECK_FALSE(b.alloc(0).has_value());
    b.free(37, 0);
    CHECK(b.alloc(0) == pfn_t{37});
  }
  SECTION("in one block") {
    CHECK(b.alloc(6) == pfn_t{0});
    CHECK_FALSE(b.alloc(0).has_value());
    for (pfn_t p = 0; p < 64; ++p) CHECK_FALSE(b.is_free(p));
  }
  SECTION("a request larger than the whole memory") {
    CHECK_FALSE(b.alloc(7).has_value());
    CHECK(b.nr_free_pages() == 64);
  }
}

TEST_CASE("buddy: nr_free_pages is the sum of the free blocks, after every operation",
          "[mm][buddy]") {
  buddy_allocator b(7, 3001);
  CHECK(b.nr_free_pages() == 3001 - 7);
  CHECK(pages_in_blocks(b) == b.nr_free_pages());
  auto a = b.alloc(4), c = b.alloc(0), d = b.alloc(7);
  REQUIRE((a && c && d));
  CHECK(b.nr_free_pages() == 3001 - 7 - 16 - 1 - 128);
  CHECK(pages_in_blocks(b) == b.nr_free_pages());
  b.free(*a, 4);
  CHECK(b.nr_free_pages() == 3001 - 7 - 1 - 128);
  CHECK(pages_in_blocks(b) == b.nr_free_pages());
  b.free(*c, 0);
  b.free(*d, 7);
  CHECK(b.nr_free_pages() == 3001 - 7);
  CHECK(pages_in_blocks(b) == b.nr_free_pages());
}

namespace {

/// Whether [first, end) holds a naturally aligned run of 2^order frames none of which is taken.
bool reference_has_free_block(const std::vector<std::uint8_t>& taken, pfn_t first, pfn_t end,
                              unsigned order) {
  const pfn_t size = pfn_t{1} << order;
  for (pfn_t s = (first + size - 1) & ~(size - 1); s + size <= end; s += size) {
    pfn_t f = s;
    while (f < s + size && !taken[f]) ++f;
    if (f == s + size) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("buddy: seeded random alloc/free agrees with a reference set of live blocks",
          "[mm][buddy][property]") {
  const std::uint64_t seed = GENERATE(1ull, 42ull, 0x5eed5eedull);
  const pfn_t first = 3, end = 6133;
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  buddy_allocator b(first, end);
  const counts initial = block_counts(b);
  std::map<pfn_t, unsigned> live;       // start -> order
  std::vector<std::uint8_t> taken(end + 1, 0);
  std::uint64_t used = 0, failed = 0;

  auto check_all_frames = [&] {
    for (pfn_t p = 0; p <= end + 64; ++p) {
      const bool want_free = p >= first && p < end && !taken[p];
      if (b.is_free(p) != want_free) {
        CAPTURE(p, want_free);
        FAIL("is_free disagrees with the reference");
      }
    }
    REQUIRE(pages_in_blocks(b) == b.nr_free_pages());
  };

  for (int step = 0; step < 20000; ++step) {
    if (live.empty() || rng() % 100 < 55) {
      const unsigned order = static_cast<unsigned>(rng() % 11);
      const pfn_t size = pfn_t{1} << order;
      auto p = b.alloc(order);
      if (!p) {
        ++failed;
        // A buddy allocator that keeps buddies merged fails only if no aligned run is free.
        REQUIRE_FALSE(reference_has_free_block(taken, first, end, order));
        continue;
      }
      REQUIRE(*p % size == 0);
      REQUIRE(*p >= first);
      REQUIRE(*p + size <= end);
      // No overlap with the live block before or after it.
      auto next = live.lower_bound(*p);
      if (next != live.end()) REQUIRE(*p + size <= next->first);
      if (next != live.begin()) {
        auto prev = std::prev(next);
        REQUIRE(prev->first + (pfn_t{1} << prev->second) <= *p);
      }
      for (pfn_t f = *p; f < *p + size; ++f) taken[f] = 1;
      live.emplace(*p, order);
      used += size;
    } else {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      const pfn_t size = pfn_t{1} << it->second;
      b.free(it->first, it->second);
      for (pfn_t f = it->first; f < it->first + size; ++f) taken[f] = 0;
      used -= size;
      live.erase(it);
    }
    REQUIRE(b.nr_free_pages() == (end - first) - used);
    if (step % 1000 == 0) check_all_frames();
  }
  check_all_frames();
  CHECK(failed > 100);    // memory was under pressure
  CHECK(live.size() > 5);

  std::vector<std::pair<pfn_t, unsigned>> rest(live.begin(), live.end());
  std::shuffle(rest.begin(), rest.end(), rng);
  for (auto [p, o] : rest) b.free(p, o);
  CHECK(b.nr_free_pages() == end - first);
  CHECK(block_counts(b) == initial);
}

TEST_CASE("hbitmap: set, clear, test and find_first across level boundaries", "[mm][hbitmap]") {
  const std::uint64_t size = GENERATE(1ull, 64ull, 65ull, 4096ull, 4097ull, 262144ull, 262145ull,
                                      (1ull << 24) + 3);
  CAPTURE(size);
  hbitmap h(size);
  REQUIRE_FALSE(h.find_first().has_value());

  std::vector<std::uint64_t> bits;
  for (std::uint64_t b : {0ull, 1ull, 63ull, 64ull, 127ull, 4095ull, 4096ull, 262143ull, 262144ull,
                          (1ull << 24) + 2})
    if (b < size) bits.push_back(b);
  // Set from the highest down: find_first follows the minimum.
  for (auto it = bits.rbegin(); it != bits.rend(); ++it) {
    h.set(*it);
    CHECK(h.test(*it));
    CHECK(h.find_first() == *it);
  }
  for (std::uint64_t b : bits) CHECK(h.test(b));
  if (size > 2) CHECK_FALSE(h.test(2));
  // Clear from the lowest up: find_first moves to the next one, across words and levels.
  for (std::size_t i = 0; i < bits.size(); ++i) {
    h.clear(bits[i]);
    CHECK_FALSE(h.test(bits[i]));
    if (i + 1 < bits.size()) CHECK(h.find_first() == bits[i + 1]);
  }
  CHECK_FALSE(h.find_first().has_value());
}

TEST_CASE("hbitmap: clearing one bit keeps its word's other bits findable", "[mm][hbitmap]") {
  hbitmap h(300000);
  h.set(4096 + 5);
  h.set(4096 + 9);
  h.set(262143);
  h.clear(4096 + 5);
  CHECK(h.find_first() == 4096 + 9);
  h.clear(4096 + 9);
  CHECK(h.find_first() == 262143);
  h.set(262143);  // setting an already set bit changes nothing
  h.clear(262143);
  CHECK_FALSE(h.find_first().has_value());
  h.clear(17);  // clearing a clear bit changes nothing
  CHECK_FALSE(h.find_first().has_value());
  h.set(299999);
  CHECK(h.find_first() == 299999);
}

TEST_CASE("hbitmap: a default (zero-bit) bitmap has no first bit", "[mm][hbitmap]") {
  // Run in a child process: on a wrong model this is an out-of-bounds read, which would take
  // the whole test binary (and every test after this one) down with it.
  std::fflush(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGSEGV, SIG_DFL);
    std::signal(SIGBUS, SIG_DFL);
    const hbitmap h;
    _exit(h.find_first().has_value() ? 1 : 0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CAPTURE(status);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("hbitmap: seeded random set/clear agrees with std::set", "[mm][hbitmap][property]") {
  const std::uint64_t seed = GENERATE(7ull, 99ull);
  std::mt19937_64 rng(seed);
  const std::uint64_t size = 300000;
  hbitmap h(size);
  std::set<std::uint64_t> ref;
  for (int step = 0; step < 20000; ++step) {
    // Mostly a few clustered bits so that words and summaries empty and refill often.
    const std::uint64_t i = rng() % 2 ? rng() % 200 * 64 + rng() % 3 : rng() % size;
    if (rng() % 2) {
      h.set(i);
      ref.insert(i);
    } else {
      h.clear(i);
      ref.erase(i);
    }
    REQUIRE(h.test(i) == (ref.count(i) == 1));
    const auto ff = h.find_first();
    REQUIRE(ff.has_value() == !ref.empty());
    if (ff) REQUIRE(*ff == *ref.begin());
  }
}
