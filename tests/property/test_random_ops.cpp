// Property test: seeded random sequences of mmap/munmap/mprotect/access/fork/exit/dontneed/
// populate, with every invariant and every read checked after every op. The window straddles
// a 1 GiB boundary so page tables at every level are allocated, shared and freed.
#include <catch2/catch.hpp>
#include <random>

#include "mm/mapcount/registry.hpp"
#include "sim/replay.hpp"

using namespace mmsim;
using namespace mmsim::sim::trace;

namespace {

constexpr std::uint64_t WINDOW = 0x7f003fe00000;  // 2 MiB below a 1 GiB boundary
constexpr std::uint64_t WINDOW_PAGES = 1024;       // 4 MiB

struct generator {
  std::mt19937_64 rng;
  bool thp = false;
  std::vector<int> live{1};
  int next_pid = 2;
  std::size_t index = 0;

  std::uint64_t pick(std::uint64_t n) { return rng() % n; }
  std::pair<std::uint64_t, std::uint64_t> range() {
    const std::uint64_t first = pick(WINDOW_PAGES);
    const std::uint64_t pages = 1 + pick(std::min<std::uint64_t>(96, WINDOW_PAGES - first));
    return {WINDOW + first * arch::PAGE_SIZE, pages * arch::PAGE_SIZE};
  }
  unsigned prot() {
    constexpr unsigned p[] = {PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE};
    return p[pick(4)];
  }

  op next() {
    op o;
    o.index = index++;
    o.pid = live[pick(live.size())];
    const unsigned kind = static_cast<unsigned>(pick(100));
    auto [addr, len] = range();
    if (thp && kind < 12 && pick(2)) {
      const std::uint64_t a = WINDOW + pick(2) * arch::PMD_SIZE;
      o.body = mmap_op{a, a == WINDOW ? arch::PMD_SIZE * (1 + pick(2)) : arch::PMD_SIZE, prot(),
                       MF_PRIVATE | MF_ANONYMOUS | MF_FIXED};
    } else if (kind < 12) {
      o.body = mmap_op{addr, len, prot(), MF_PRIVATE | MF_ANONYMOUS | MF_FIXED | (pick(8) == 0 ? MF_POPULATE : 0u)};
    } else if (kind < 20) {
      o.body = munmap_op{addr, len};
    } else if (kind < 27) {
      o.body = mprotect_op{addr, len, prot()};
    } else if (kind < 32) {
      o.body = madvise_op{addr, len, madvise_advice::dontneed};
    } else if (kind < 35) {
      o.body = madvise_op{addr, len, pick(2) ? madvise_advice::populate_read : madvise_advice::populate_write};
    } else if (thp && kind < 37) {
      constexpr madvise_advice a[] = {madvise_advice::hugepage, madvise_advice::hugepage,
                                      madvise_advice::nohugepage, madvise_advice::collapse,
                                      madvise_advice::pageout};
      // THP advice wants whole PMD ranges often, or nothing interesting happens.
      if (pick(2)) {
        addr = WINDOW + pick(2) * arch::PMD_SIZE;
        len = arch::PMD_SIZE * (1 + pick(2));
        if (addr + len > WINDOW + WINDOW_PAGES * arch::PAGE_SIZE) len = arch::PMD_SIZE;
      }
      o.body = madvise_op{addr, len, a[pick(5)]};
    } else if (thp && kind < 38) {
      o.body = khugepaged_op{1, 0};
    } else if (kind < 38 && live.size() < 5) {
      o.body = fork_op{next_pid};
      live.push_back(next_pid++);
    } else if (kind < 40 && live.size() > 1) {
      o.body = exit_op{};
      live.erase(std::find(live.begin(), live.end(), o.pid));
    } else {
      access_op a;
      a.addr = addr;
      a.len = std::min<std::uint64_t>(len, 16 * arch::PAGE_SIZE);
      a.kind = pick(2) ? arch::access_kind::write : (pick(4) ? arch::access_kind::read : arch::access_kind::atomic);
      o.body = a;
    }
    o.cpu = static_cast<unsigned>(pick(2));
    return o;
  }
};

trace make_trace(std::uint64_t seed, std::size_t nops, bool thp = false) {
  trace t;
  t.name = "random-" + std::to_string(seed);
  t.seed = seed;
  t.machine.cpus = 2;
  t.machine.memory = 64ull << 20;
  generator g{std::mt19937_64(seed), thp};
  for (std::size_t i = 0; i < nops; ++i) t.ops.push_back(g.next());
  return t;
}

}  // namespace

TEST_CASE("random op sequences keep every invariant and every byte", "[property]") {
  const std::uint64_t seed = GENERATE(1, 2, 3, 4, 5);
  const auto t = make_trace(seed, 10000);
  sim::replay_options opt;
  opt.check_invariants = true;
  const auto res = sim::replay_trace(t, opt);
  INFO("seed " << seed);
  for (auto& v : res.violations) FAIL_CHECK("ops[" << v.op << "] " << v.what << ": " << v.detail);
  REQUIRE(res.violations.empty());
  REQUIRE(res.ops_run == 10000);
  REQUIRE(res.invariant_checks == 10000);
  // The sequence must exercise the interesting paths, or it proves little.
  CHECK(res.signals.size() > 10);
  CHECK(res.errors.size() > 10);
  CHECK(res.vmstat.events[mm::PGFAULT] > 1000);
  CHECK(res.vmstat.events[mm::NR_TLB_LOCAL_FLUSH_ONE] > 100);
  CHECK(res.vmstat.events[mm::NR_TLB_REMOTE_FLUSH] > 10);
  CHECK(res.vmstat.events[mm::PGFREE] > 1000);
  INFO("faults " << res.vmstat.events[mm::PGFAULT] << " signals " << res.signals.size() << " errors " << res.errors.size());
  CHECK(std::count_if(t.ops.begin(), t.ops.end(), [](const op& o) { return std::holds_alternative<fork_op>(o.body); }) > 50);
}

TEST_CASE("random THP sequences keep every invariant under every mapcount scheme", "[property][thp]") {
  std::vector<std::string> names;
  for (auto& s : mm::mapcount::schemes()) names.emplace_back(s.name);
  const std::string scheme = GENERATE_COPY(from_range(names));
  const std::uint64_t seed = GENERATE(11, 12);
  auto t = make_trace(seed, 6000, true);
  t.kernel = {{"transparent_hugepage/enabled", seed == 11 ? "always" : "madvise"},
              {"transparent_hugepage/hugepages-64kB/enabled", "inherit"},
              {"transparent_hugepage/khugepaged/max_ptes_none", "511"},
              {"mm/mapcount", scheme},
              {"mm/shadow", "all"}};
  sim::replay_options opt;
  opt.check_invariants = true;
  const auto res = sim::replay_trace(t, opt);
  INFO("scheme " << scheme << " seed " << seed);
  for (auto& v : res.violations) FAIL_CHECK("ops[" << v.op << "] " << v.what << ": " << v.detail);
  REQUIRE(res.violations.empty());
  REQUIRE(res.ops_run == t.ops.size());
  CHECK(res.vmstat.events[mm::THP_FAULT_ALLOC] > 0);
  CHECK(res.vmstat.events[mm::THP_SPLIT_PMD] > 0);
  // always_shared answers "shared" for every folio, so MADV_PAGEOUT skips them all (M41).
  if (scheme != "always_shared") CHECK(res.vmstat.events[mm::PSWPOUT] > 0);
  else CHECK(res.vmstat.events[mm::PSWPOUT] == 0);
}

TEST_CASE("a random run is deterministic", "[property]") {
  const auto t = make_trace(42, 2000);
  const auto a = sim::replay_trace(t, {});
  const auto b = sim::replay_trace(t, {});
  REQUIRE(a.signals.size() == b.signals.size());
  REQUIRE(a.errors.size() == b.errors.size());
  for (std::size_t i = 0; i < a.signals.size(); ++i) REQUIRE(a.signals[i].addr == b.signals[i].addr);
}
