// Mapcount schemes driven directly with rmap events (no kernel): every registry row builds and
// keeps exact totals under random map/unmap/fork streams; the documented errors of each Linux
// scheme (M10, M13, M19) show up where the reference says; CoW reuse (M20); the injection
// schemes; costs (§1.10); and shadow_set scoring.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "mm/bug.hpp"
#include "mm/mapcount/legacy.hpp"
#include "mm/mapcount/mm_id.hpp"
#include "mm/mapcount/registry.hpp"
#include "mm/mapcount/shadow.hpp"

using namespace mmsim;
using namespace mmsim::mm::mapcount;

namespace {

constexpr rmap_level PTE = rmap_level::pte;
constexpr rmap_level PMD = rmap_level::pmd;
constexpr std::uint32_t A = 1, B = 2, C = 3;
constexpr folio_key THP{0x1000, 9};

/// The core's precise counts, plus the per-mm owners the tests use as ground truth (M161).
struct fake_truth final : precise_counts {
  std::map<arch::pfn_t, long> pte;
  std::map<arch::pfn_t, long> entire;
  std::map<arch::pfn_t, std::map<std::uint32_t, long>> owners;

  long page_pte_mapcount(arch::pfn_t pfn) const override {
    auto it = pte.find(pfn);
    return it == pte.end() ? 0 : it->second;
  }
  long entire_mapcount(const folio_key& f) const override {
    auto it = entire.find(f.head);
    return it == entire.end() ? 0 : it->second;
  }
  void apply(const folio_key& f, unsigned first, unsigned n, rmap_level lvl, std::uint32_t mm,
             long sign) {
    if (lvl == PTE)
      for (unsigned i = first; i < first + n; ++i) pte[f.head + i] += sign;
    else entire[f.head] += sign;
    auto& o = owners[f.head];
    if ((o[mm] += sign * (lvl == PTE ? n : 1)) == 0) o.erase(mm);
  }
  long total(const folio_key& f) const {
    long t = entire_mapcount(f);
    for (unsigned i = 0; i < f.nr_pages(); ++i) t += page_pte_mapcount(f.head + i);
    return t;
  }
  bool shared(const folio_key& f) const {
    auto it = owners.find(f.head);
    return it != owners.end() && it->second.size() > 1;
  }
};

std::vector<std::string> registry_names() {
  std::vector<std::string> v;
  for (auto& r : schemes()) v.emplace_back(r.name);
  return v;
}

/// Feeds every event to the truth first (as the core does) and then to each scheme.
struct world {
  fake_truth truth;
  std::map<std::string, std::unique_ptr<scheme>> s;

  explicit world(const std::vector<std::string>& names) {
    for (auto& n : names) s[n] = find_scheme(n)->make(truth);
  }
  world(const world&) = delete;  // `exact` holds a reference to `truth`
  void add(const folio_key& f, unsigned first, unsigned n, rmap_level l, std::uint32_t mm) {
    truth.apply(f, first, n, l, mm, +1);
    for (auto& [_, x] : s) x->add(f, first, n, l, mm);
  }
  void dup(const folio_key& f, unsigned first, unsigned n, rmap_level l, std::uint32_t mm) {
    truth.apply(f, first, n, l, mm, +1);
    for (auto& [_, x] : s) x->dup(f, first, n, l, mm);
  }
  void remove(const folio_key& f, unsigned first, unsigned n, rmap_level l, std::uint32_t mm) {
    truth.apply(f, first, n, l, mm, -1);
    for (auto& [_, x] : s) x->remove(f, first, n, l, mm);
  }
  scheme& operator[](const std::string& n) { return *s.at(n); }
};

std::uint64_t lcg(std::uint64_t& x) {
  x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x >> 33;
}

}  // namespace

TEST_CASE("every registry row builds a scheme that reports the row's name", "[mapcount]") {
  fake_truth t;
  std::set<std::string> seen;
  for (auto& r : schemes()) {
    auto s = r.make(t);
    REQUIRE(s);
    CHECK(std::string(s->name()) == r.name);
    CHECK(std::string(r.description).find("Linux") != std::string::npos);  // names versions
    CHECK(find_scheme(r.name) == &r);
    CHECK(seen.insert(r.name).second);
  }
  for (auto* n : {"exact", "legacy", "large", "mm_id", "mm_id_nopagemapcount", "always_shared",
                  "never_shared"})
    CHECK(seen.count(n) == 1);
  CHECK(find_scheme("mm_idx") == nullptr);
}

TEST_CASE("random map/unmap/fork streams keep each scheme's counts exact", "[mapcount]") {
  const std::string name = GENERATE(from_range(registry_names()));
  CAPTURE(name);
  world w({name});
  scheme& s = w[name];
  const std::vector<folio_key> folios{THP, {0x2000, 4}, {0x3000, 0}, {0x3001, 0}};
  // Model: per (mm, folio) either one PMD mapping or a set of PTE-mapped pages (anon, M2).
  std::map<std::pair<std::uint32_t, unsigned>, std::vector<bool>> ptes;
  std::map<std::pair<std::uint32_t, unsigned>, bool> pmd;
  auto mapped_any = [&](std::uint32_t mm, unsigned fi) {
    auto& v = ptes[{mm, fi}];
    return pmd[{mm, fi}] || std::find(v.begin(), v.end(), true) != v.end();
  };
  std::uint64_t seed = 12345;
  for (int step = 0; step < 3000; ++step) {
    const unsigned fi = lcg(seed) % folios.size();
    const folio_key& f = folios[fi];
    const std::uint32_t mm = 1 + lcg(seed) % 3;
    auto& v = ptes[{mm, fi}];
    v.resize(f.nr_pages());
    const unsigned first = lcg(seed) % f.nr_pages();
    const unsigned op = lcg(seed) % 6;
    if (op <= 1 && !pmd[{mm, fi}] && !v[first]) {  // PTE-map a run of unmapped pages
      unsigned n = 0;
      while (first + n < f.nr_pages() && n < 40 && !v[first + n]) v[first + n++] = true;
      if (op == 0) w.add(f, first, n, PTE, mm);
      else w.dup(f, first, n, PTE, mm);
    } else if (op == 2 && v[first]) {  // unmap a run of mapped pages
      unsigned n = 0;
      while (first + n < f.nr_pages() && n < 40 && v[first + n]) v[first + n++] = false;
      w.remove(f, first, n, PTE, mm);
    } else if (op == 3 && f.order == 9 && !mapped_any(mm, fi)) {
      pmd[{mm, fi}] = true;
      w.add(f, 0, 1, PMD, mm);
    } else if (op == 4 && pmd[{mm, fi}]) {
      pmd[{mm, fi}] = false;
      w.remove(f, 0, 1, PMD, mm);
    } else {
      continue;
    }
    for (const folio_key& g : folios) {
      REQUIRE(s.folio_mapcount(g) == w.truth.total(g));
      const long entire = g.order ? w.truth.entire_mapcount(g) : 0;
      for (unsigned i = 0; i < g.nr_pages(); ++i)
        if (auto pm = s.page_mapcount(g, i))
          REQUIRE(*pm == w.truth.page_pte_mapcount(g.head + i) + entire);
      const bool truth = w.truth.shared(g), answer = s.folio_maybe_mapped_shared(g);
      if (name == "exact") REQUIRE(answer == truth);
      if (name == "mm_id" || name == "mm_id_nopagemapcount") REQUIRE((!truth || answer));  // M19
      if (name == "large") REQUIRE((truth || !answer));  // M13: no false positive for anon
      if (g.order == 0 && name.find("_shared") == std::string::npos) REQUIRE(answer == truth);
    }
  }
  CHECK(s.stats().events > 500);
}

TEST_CASE("M13: `large` misses sharing of partially mapped folios; `mm_id` does not",
          "[mapcount]") {
  world w({"large", "mm_id", "mm_id_nopagemapcount", "exact"});
  SECTION("A maps pages 1-255, B maps 256-511") {
    w.add(THP, 1, 255, PTE, A);
    w.add(THP, 256, 256, PTE, B);
  }
  SECTION("A maps pages 0-510, B maps page 511") {
    w.add(THP, 0, 511, PTE, A);
    w.add(THP, 511, 1, PTE, B);
    CHECK(w["large"].folio_mapcount(THP) == 512);
  }
  CHECK_FALSE(w["large"].folio_maybe_mapped_shared(THP));
  CHECK_FALSE(w["large"].page_shared_for_collapse(THP, 300));  // 6.10+ asks the folio (M87)
  CHECK(w["mm_id"].folio_maybe_mapped_shared(THP));
  CHECK(w["mm_id_nopagemapcount"].folio_maybe_mapped_shared(THP));
  CHECK(w["exact"].folio_maybe_mapped_shared(THP));
}

TEST_CASE("M12 steps 3 and 4: total > nr_pages, and page 0's own PTE count", "[mapcount]") {
  world w({"large", "legacy"});
  w.add(THP, 0, 10, PTE, A);
  SECTION("B maps page 0: page 0 has two PTEs") {
    w.add(THP, 0, 1, PTE, B);
    CHECK(w["large"].folio_maybe_mapped_shared(THP));
  }
  SECTION("B maps page 5 only: false negative") {
    w.add(THP, 5, 1, PTE, B);
    CHECK_FALSE(w["large"].folio_maybe_mapped_shared(THP));
    CHECK(w["legacy"].page_shared_for_collapse(THP, 5));  // <= 6.9 asked per page
  }
  SECTION("more mappings than pages") {
    w.add(THP, 10, 502, PTE, A);
    w.dup(THP, 1, 511, PTE, B);
    CHECK(w["large"].folio_maybe_mapped_shared(THP));
  }
}

TEST_CASE("legacy's page-0 estimate misses sharing when page 0 is unmapped", "[mapcount]") {
  world w({"legacy", "large", "mm_id"});
  w.add(THP, 1, 511, PTE, A);
  w.dup(THP, 1, 511, PTE, B);
  CHECK_FALSE(w["legacy"].folio_maybe_mapped_shared(THP));  // folio_estimated_sharers() == 0
  CHECK(w["legacy"].page_shared_for_collapse(THP, 7));        // page_mapcount(page 7) == 2
  CHECK_FALSE(w["legacy"].page_shared_for_collapse(THP, 0));
  CHECK(w["large"].folio_maybe_mapped_shared(THP));  // total 1022 > 512 (M12 step 3)
  CHECK(w["mm_id"].folio_maybe_mapped_shared(THP));
}

TEST_CASE("PMD mappings: entire mapcount, ENTIRELY_MAPPED, and M12 step 3", "[mapcount]") {
  page_counts pc;
  pc.add(THP, 0, 1, PMD);
  CHECK(pc.entire(THP) == 1);
  CHECK(pc.nr_pages_mapped(THP) == page_counts::ENTIRELY_MAPPED);
  CHECK(pc.page_mapcount(THP, 300) == 1);
  CHECK(pc.total(THP) == 1);
  pc.add(THP, 7, 2, PTE);
  CHECK(pc.nr_pages_mapped(THP) == page_counts::ENTIRELY_MAPPED + 2);
  CHECK(pc.page_mapcount(THP, 8) == 2);
  pc.remove(THP, 0, 1, PMD);
  CHECK(pc.nr_pages_mapped(THP) == 2);
  CHECK(pc.total(THP) == 2);
  CHECK_THROWS_AS(pc.entire(folio_key{THP.head, 4}), mm::mm_bug);  // stale order
  CHECK_THROWS_AS(pc.remove(THP, 100, 1, PTE), mm::mm_bug);

  world w({"legacy", "large", "mm_id", "exact"});
  w.add(THP, 0, 1, PMD, A);
  for (auto& [n, s] : w.s) {
    CAPTURE(n);
    CHECK(s->folio_mapcount(THP) == 1);
    CHECK(*s->page_mapcount(THP, 511) == 1);
    CHECK_FALSE(s->folio_maybe_mapped_shared(THP));
  }
  w.add(THP, 9, 1, PTE, B);  // B's copy of the PMD was split, keeping page 9
  CHECK(w["large"].folio_maybe_mapped_shared(THP));  // entire > 0 and total 2 > 1
  CHECK(w["mm_id"].folio_maybe_mapped_shared(THP));
  CHECK_FALSE(w["legacy"].folio_maybe_mapped_shared(THP));  // page 0: 0 PTEs + 1 entire
  CHECK(*w["legacy"].page_mapcount(THP, 9) == 2);
  w.dup(THP, 0, 1, PMD, C);
  CHECK(w["legacy"].folio_maybe_mapped_shared(THP));  // page 0: entire 2
  CHECK(w["large"].folio_mapcount(THP) == 3);
}

TEST_CASE("small folios: every Linux scheme answers mapcount > 1", "[mapcount]") {
  world w(registry_names());
  const folio_key small{0x42, 0};
  for (int round = 0; round < 3; ++round) {
    for (auto& [n, s] : w.s) {
      CAPTURE(n, round);
      CHECK(s->folio_mapcount(small) == round);
      CHECK(*s->page_mapcount(small, 0) == round);  // a small folio's _mapcount always exists
      if (n.find("_shared") != std::string::npos) continue;
      CHECK(s->folio_maybe_mapped_shared(small) == (round > 1));
      CHECK(s->page_shared_for_collapse(small, 0) == (round > 1));
      CHECK_FALSE(s->can_reuse_large_anon_folio(small, round));
    }
    w.add(small, 0, 1, PTE, A + round);
  }
}

TEST_CASE("always_shared / never_shared answer constants and keep exact counts", "[mapcount]") {
  world w({"always_shared", "never_shared"});
  const folio_key small{0x42, 0};
  w.add(small, 0, 1, PTE, A);
  w.add(THP, 0, 512, PTE, A);
  for (bool answer : {true, false}) {
    scheme& s = w[answer ? "always_shared" : "never_shared"];
    CHECK(s.folio_maybe_mapped_shared(small) == answer);
    CHECK(s.folio_maybe_mapped_shared(THP) == answer);
    CHECK(s.page_shared_for_collapse(THP, 3) == answer);
    CHECK(s.folio_mapcount(THP) == 512);
    CHECK(*s.page_mapcount(THP, 3) == 1);
  }
  CHECK(w["never_shared"].can_reuse_large_anon_folio(THP, 512));
  CHECK_FALSE(w["always_shared"].can_reuse_large_anon_folio(THP, 512));
  w.dup(THP, 0, 512, PTE, B);  // truly shared now; never_shared would still reuse (M31)
  CHECK(w["never_shared"].can_reuse_large_anon_folio(THP, 1024));
  CHECK_FALSE(w["never_shared"].folio_maybe_mapped_shared(THP));
}

TEST_CASE("M16/M17: MM-id slots, the untracked third MM and the shared bit", "[mapcount]") {
  mm_id_owners o;
  o.add(1, A);
  CHECK_FALSE(o.maybe_shared_bit());  // step 3 with nothing mapped before
  o.add(1, B);
  CHECK((o.slot_id(1) == B && o.maybe_shared_bit()));  // step 4
  o.sub(1, A);  // slot 0 frees; slot 1 holds every mapping -> bit clears
  CHECK((o.slot_id(0) == 0 && !o.maybe_shared_bit()));
  o.add(1, A);  // step 3 with B already mapping
  CHECK((o.slot_id(0) == A && o.maybe_shared_bit()));
  o.add(2, C);  // untracked
  CHECK((o.large_mapcount() == 4 && o.slot_count(0) + o.slot_count(1) == 2));
  o.sub(1, A);  // slot 0 frees, total 3 != slot 1's 1: bit stays
  CHECK(o.maybe_shared_bit());
  o.add(1, C);  // C takes slot 0 with count 1 while it really maps 3
  CHECK((o.slot_id(0) == C && o.slot_count(0) == 1));
  o.sub(1, B);  // only C maps now, but slot 0 says 1 of 3: false positive (M19)
  CHECK(o.maybe_mapped_shared());
  o.sub(3, C);  // slot count 1 - 3 < 0: clamped to free; total 0 clears the bit
  CHECK((o.large_mapcount() == 0 && o.slot_id(0) == 0 && o.slot_count(0) == 0));
  CHECK_FALSE(o.maybe_shared_bit());
}

TEST_CASE("M19: mm_id keeps answering shared after the tracked MMs leave", "[mapcount]") {
  world w({"mm_id", "large", "exact"});
  w.add(THP, 0, 512, PTE, A);  // parent P
  w.dup(THP, 0, 512, PTE, B);  // fork C1: slot 1
  w.dup(THP, 0, 512, PTE, C);  // fork C2: untracked
  w.remove(THP, 0, 512, PTE, A);
  w.remove(THP, 0, 512, PTE, B);
  CHECK_FALSE(w["exact"].folio_maybe_mapped_shared(THP));
  CHECK(w["mm_id"].folio_maybe_mapped_shared(THP));  // false positive
  CHECK_FALSE(w["large"].folio_maybe_mapped_shared(THP));
  CHECK_FALSE(w["mm_id"].can_reuse_large_anon_folio(THP, 512));
  w.remove(THP, 2, 510, PTE, C);
  CHECK(w["mm_id"].folio_maybe_mapped_shared(THP));  // 2 mappings, bit still set
  w.remove(THP, 1, 1, PTE, C);
  CHECK_FALSE(w["mm_id"].folio_maybe_mapped_shared(THP));  // total <= 1 (M18)
}

TEST_CASE("M20: CoW reuse of a PTE-mapped large anon folio is 6.15+ only", "[mapcount]") {
  world w({"mm_id", "mm_id_nopagemapcount", "large", "legacy"});
  w.add(THP, 0, 512, PTE, A);
  for (auto* n : {"mm_id", "mm_id_nopagemapcount"}) {
    CAPTURE(n);
    CHECK(w[n].can_reuse_large_anon_folio(THP, 512));
    CHECK_FALSE(w[n].can_reuse_large_anon_folio(THP, 513));  // an extra reference
  }
  CHECK_FALSE(w["large"].can_reuse_large_anon_folio(THP, 512));
  CHECK_FALSE(w["legacy"].can_reuse_large_anon_folio(THP, 512));
  w.dup(THP, 0, 512, PTE, B);
  CHECK_FALSE(w["mm_id"].can_reuse_large_anon_folio(THP, 1024));  // shared bit set
  w.remove(THP, 0, 512, PTE, B);  // the child exits: slot 1 frees, slot 0 == total
  CHECK(w["mm_id"].can_reuse_large_anon_folio(THP, 512));
  w.remove(THP, 1, 511, PTE, A);  // one mapping left: Linux copies and lets the folio go
  CHECK_FALSE(w["mm_id"].can_reuse_large_anon_folio(THP, 1));
}

TEST_CASE("mm_id_nopagemapcount has no per-page counts for large folios", "[mapcount]") {
  world w({"mm_id", "mm_id_nopagemapcount"});
  w.add(THP, 0, 1, PMD, A);
  w.add(THP, 4, 3, PTE, B);
  CHECK_FALSE(w["mm_id_nopagemapcount"].page_mapcount(THP, 5).has_value());
  CHECK(w["mm_id"].page_mapcount(THP, 5) == 2);
  CHECK(w["mm_id_nopagemapcount"].folio_mapcount(THP) == 4);
  w.remove(THP, 4, 3, PTE, B);
  w.remove(THP, 0, 1, PMD, A);
  CHECK(w["mm_id_nopagemapcount"].folio_mapcount(THP) == 0);
}

TEST_CASE("split and free: state is forgotten and the new folios start clean", "[mapcount]") {
  const std::string name = GENERATE(from_range(registry_names()));
  CAPTURE(name);
  world w({name});
  w.add(THP, 0, 512, PTE, A);
  w.dup(THP, 0, 512, PTE, B);
  w.remove(THP, 0, 512, PTE, A);  // split unmaps to migration entries first
  w.remove(THP, 0, 512, PTE, B);
  w[name].folio_split(THP, 0);
  const folio_key page3{THP.head + 3, 0};
  w.add(page3, 0, 1, PTE, A);
  w.add(folio_key{THP.head, 0}, 0, 1, PTE, B);
  CHECK(w[name].folio_mapcount(page3) == 1);
  CHECK(w[name].folio_mapcount(folio_key{THP.head, 0}) == 1);
  w.remove(page3, 0, 1, PTE, A);
  w[name].folio_freed(page3);
  CHECK(w[name].folio_mapcount(page3) == 0);
}

TEST_CASE("metadata bytes and atomics follow the §1.10 table", "[mapcount]") {
  world w(registry_names());
  auto bytes = [&](const char* n, unsigned order) { return w[n].metadata_bytes(order); };
  CHECK(bytes("legacy", 9) == 2056);
  CHECK(bytes("large", 9) == 2060);
  CHECK(bytes("mm_id", 9) == 2076);
  CHECK(bytes("mm_id_nopagemapcount", 9) == 24);
  CHECK(bytes("mm_id_nopagemapcount", 9) < bytes("mm_id", 9));
  for (auto& [n, s] : w.s) CHECK(s->metadata_bytes(0) == 4);

  auto atomics_of = [&](auto&& event) {
    std::map<std::string, std::uint64_t> before, d;
    for (auto& [n, s] : w.s) before[n] = s->stats().atomics;
    event();
    for (auto& [n, s] : w.s) d[n] = s->stats().atomics - before[n];
    return d;
  };
  auto map512 = atomics_of([&] { w.add(THP, 0, 512, PTE, A); });  // 512 new pages
  const std::map<std::string, std::uint64_t> want{
      {"exact", 512}, {"legacy", 513}, {"large", 514}, {"mm_id", 514},
      {"mm_id_nopagemapcount", 1}, {"always_shared", 513}, {"never_shared", 513}};
  for (auto& [n, a] : want) {
    CAPTURE(n);
    CHECK(map512[n] == a);
  }
  auto dup = atomics_of([&] { w.dup(THP, 0, 512, PTE, B); });  // no page changes state
  CHECK(dup["legacy"] == 512);
  CHECK(dup["large"] == 513);
  CHECK(dup["mm_id"] == 513);
  const folio_key thp2{0x4000, 9};
  auto pmd = atomics_of([&] { w.add(thp2, 0, 1, PMD, A); });
  CHECK((pmd["legacy"] == 2 && pmd["large"] == 3 && pmd["mm_id"] == 3));
  CHECK(pmd["mm_id_nopagemapcount"] == 2);
  auto pmd2 = atomics_of([&] { w.dup(thp2, 0, 1, PMD, B); });
  CHECK((pmd2["legacy"] == 1 && pmd2["large"] == 2 && pmd2["mm_id"] == 2));
}

TEST_CASE("shadow_set scores every scheme against the caller's truth", "[mapcount][shadow]") {
  fake_truth t;
  auto driver = make_mm_id_nopagemapcount(t);
  const std::vector<std::string> some{"large", "legacy", "never_shared", "large"};
  shadow_set sh(t, some, driver.get());
  REQUIRE(sh.shadows().size() == 3);
  auto feed = [&](const folio_key& f, unsigned first, unsigned n, std::uint32_t mm) {
    t.apply(f, first, n, PTE, mm, +1);
    driver->add(f, first, n, PTE, mm);
    sh.add(f, first, n, PTE, mm);
  };
  feed(THP, 1, 255, A);  // M13's first example
  feed(THP, 256, 256, B);
  sh.record(decision_site::folio_mapped_shared, THP, 0, t.shared(THP), 0);
  sh.record(decision_site::khugepaged_shared_pte, THP, 300, false, 0);  // page 300: B only
  const folio_key other{0x8000, 9};
  feed(other, 0, 512, A);
  sh.record(decision_site::cow_reuse, other, 0, true, 512);

  const auto rows = sh.report();
  REQUIRE(rows.size() == 4 * 3);
  for (std::size_t i = 1; i < rows.size(); ++i)
    CHECK(std::tie(rows[i - 1].scheme, rows[i - 1].site) < std::tie(rows[i].scheme, rows[i].site));
  auto row = [&](const std::string& s, const std::string& site) {
    for (auto& r : rows)
      if (r.scheme == s && r.site == site) return r;
    FAIL("no row " << s << "/" << site);
    return shadow_row{};
  };
  auto r = row("large", "folio_mapped_shared");
  CHECK((r.asked == 1 && r.false_negative == 1 && r.false_positive == 0 && r.agree == 0));
  r = row("mm_id_nopagemapcount", "folio_mapped_shared");
  CHECK((r.asked == 1 && r.agree == 1));
  r = row("mm_id_nopagemapcount", "khugepaged_shared_pte");
  CHECK((r.false_positive == 1 && r.false_negative == 0));  // folio-level answer for page 300
  r = row("legacy", "khugepaged_shared_pte");
  CHECK((r.agree == 1 && r.false_positive == 0));
  r = row("large", "cow_reuse");
  CHECK((r.asked == 1 && r.false_negative == 1));  // 6.10-6.14 always copies
  r = row("never_shared", "cow_reuse");
  CHECK(r.agree == 1);
  CHECK(row("legacy", "cow_reuse").asked == 1);
  CHECK(row("mm_id_nopagemapcount", "cow_reuse").agree == 1);
}

TEST_CASE("shadow_set names: all, unknown names", "[mapcount][shadow]") {
  fake_truth t;
  auto driver = make_mm_id(t);
  const std::vector<std::string> all{"all"};
  shadow_set sh(t, all, driver.get());
  CHECK(sh.shadows().size() == schemes().size() - 1);
  for (auto& s : sh.shadows()) CHECK(std::string(s->name()) != "mm_id");
  const std::vector<std::string> bad{"legacy", "mm-id"};
  CHECK(shadow_set::unknown_names(bad).find("mm-id") != std::string::npos);
  CHECK(shadow_set::unknown_names(all).empty());
  CHECK_THROWS_AS(shadow_set(t, bad), std::invalid_argument);
}
