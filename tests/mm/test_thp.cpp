// THP behaviour that needs a machine the real kernel cannot stand in for (tiny memory, forced
// fragmentation, memory pressure), checked through replays with every invariant on.
#include <catch2/catch.hpp>

#include "sim/replay.hpp"

using namespace mmsim;
using namespace mmsim::sim::trace;

namespace {

constexpr std::uint64_t A = 0x7f0000000000;

struct builder {
  trace t;
  explicit builder(std::uint64_t memory) {
    t.name = "thp-test";
    t.machine.cpus = 1;
    t.machine.memory = memory;
    t.kernel = {{"transparent_hugepage/enabled", "madvise"}};
  }
  builder& add(op_body b, int pid = 1) {
    op o;
    o.index = t.ops.size();
    o.pid = pid;
    o.body = std::move(b);
    t.ops.push_back(std::move(o));
    return *this;
  }
  builder& map(std::uint64_t addr, std::uint64_t len) {
    return add(mmap_op{addr, len, PROT_READ | PROT_WRITE, MF_PRIVATE | MF_ANONYMOUS | MF_FIXED});
  }
  builder& touch(std::uint64_t addr, std::uint64_t len, arch::access_kind k = arch::access_kind::write) {
    access_op a;
    a.addr = addr;
    a.len = len;
    a.kind = k;
    return add(a);
  }
  builder& advise(std::uint64_t addr, std::uint64_t len, madvise_advice adv) {
    return add(madvise_op{addr, len, adv});
  }
  sim::replay_result run() {
    sim::replay_options opt;
    opt.check_invariants = true;
    auto res = sim::replay_trace(t, opt);
    for (auto& v : res.violations) FAIL_CHECK("ops[" << v.op << "] " << v.what << ": " << v.detail);
    REQUIRE(res.violations.empty());
    return res;
  }
};

}  // namespace

TEST_CASE("a THP fault falls back to 4K when no free 2M block is left", "[mm][thp][fragmentation]") {
  // 8 MiB: frame 0 is the zero page, so only three aligned 2M blocks exist. 4K pages taken
  // lowest-first break the first two; a 2M request still finds the third, then none.
  builder b(8ull << 20);
  b.map(A, 7ull << 20).touch(A, 1600 * arch::PAGE_SIZE);  // breaks every 2M block
  b.map(A + (8ull << 20), 4ull << 20).advise(A + (8ull << 20), 4ull << 20, madvise_advice::hugepage);
  b.touch(A + (8ull << 20), 4ull << 20);
  const auto res = b.run();
  CHECK(res.vmstat.events[mm::THP_FAULT_ALLOC] == 0);
  CHECK(res.vmstat.events[mm::THP_FAULT_FALLBACK] >= 1);
  CHECK(res.signals.size() == 1);  // the machine runs out of memory before the end: OOM, no crash
  CHECK(res.signals[0].what == "OOM");
}

TEST_CASE("freeing 4K pages lets their buddies merge back into a 2M block for the next THP",
          "[mm][thp][fragmentation]") {
  builder b(8ull << 20);
  b.map(A, 6ull << 20).touch(A, 1400 * arch::PAGE_SIZE);
  b.add(munmap_op{A, 6ull << 20});
  b.map(A + (8ull << 20), 2ull << 20).advise(A + (8ull << 20), 2ull << 20, madvise_advice::hugepage);
  b.touch(A + (8ull << 20), arch::PAGE_SIZE);
  const auto res = b.run();
  CHECK(res.vmstat.events[mm::THP_FAULT_ALLOC] == 1);
  CHECK(res.vmstat.events[mm::THP_FAULT_FALLBACK] == 0);
}

TEST_CASE("under memory pressure the deferred-split shrinker splits a partially mapped THP",
          "[mm][thp][deferred-split]") {
  // One THP, half unmapped (queued as partially mapped); then memory runs short and the
  // allocation that failed triggers the shrinker before giving up (defrag=always).
  builder b(8ull << 20);
  b.t.kernel.push_back({"transparent_hugepage/defrag", "always"});
  b.map(A, 2ull << 20).advise(A, 2ull << 20, madvise_advice::hugepage).touch(A, arch::PAGE_SIZE);
  b.add(munmap_op{A + (1ull << 20), 1ull << 20});
  b.map(A + (4ull << 20), 6ull << 20).advise(A + (4ull << 20), 6ull << 20, madvise_advice::hugepage);
  b.touch(A + (4ull << 20), 6ull << 20, arch::access_kind::write);
  const auto res = b.run();
  CHECK(res.vmstat.events[mm::THP_FAULT_ALLOC] == 3);  // the first THP, then two more blocks
  CHECK(res.vmstat.events[mm::THP_FAULT_FALLBACK] >= 1);
  CHECK(res.vmstat.events[mm::THP_DEFERRED_SPLIT_PAGE] == 1);
  CHECK(res.vmstat.events[mm::THP_SPLIT_PAGE] == 1);
  CHECK(res.vmstat.events[mm::THP_SPLIT_PMD] == 1);
}

TEST_CASE("mprotect of a whole THP keeps the PMD; of one 4K page inside it splits the PMD",
          "[mm][thp][mprotect]") {
  builder b(64ull << 20);
  b.map(A, 2ull << 20).advise(A, 2ull << 20, madvise_advice::hugepage).touch(A, 2ull << 20);
  b.add(mprotect_op{A, 2ull << 20, PROT_READ});
  b.add(mprotect_op{A, 2ull << 20, PROT_READ | PROT_WRITE});
  b.touch(A, 2ull << 20);
  auto r1 = b.run();
  CHECK(r1.vmstat.events[mm::THP_SPLIT_PMD] == 0);
  CHECK(r1.vmstat.events[mm::PGFAULT] == 1);  // the PMD became writable again without a fault
  b.add(mprotect_op{A + arch::PAGE_SIZE, arch::PAGE_SIZE, PROT_READ});
  b.touch(A + arch::PAGE_SIZE, arch::PAGE_SIZE, arch::access_kind::read);
  auto r2 = b.run();
  CHECK(r2.vmstat.events[mm::THP_SPLIT_PMD] == 1);
}

TEST_CASE("MADV_PAGEOUT swaps pages out and faults bring the same data back", "[mm][swap]") {
  builder b(64ull << 20);
  b.map(A, 64 * arch::PAGE_SIZE).touch(A, 64 * arch::PAGE_SIZE);
  b.advise(A, 64 * arch::PAGE_SIZE, madvise_advice::pageout);
  b.touch(A, 64 * arch::PAGE_SIZE, arch::access_kind::read);  // data checked by the reference
  const auto res = b.run();
  CHECK(res.vmstat.events[mm::PSWPOUT] == 64);
  CHECK(res.vmstat.events[mm::PSWPIN] == 64);
  CHECK(res.vmstat.stats[mm::NR_SWAP_SLOTS] == 0);
}

TEST_CASE("swap entries are shared at fork and each process swaps in its own copy", "[mm][swap]") {
  builder b(64ull << 20);
  b.map(A, 16 * arch::PAGE_SIZE).touch(A, 16 * arch::PAGE_SIZE);
  b.advise(A, 16 * arch::PAGE_SIZE, madvise_advice::pageout);
  b.add(fork_op{2});
  b.add(access_op{A, 16 * arch::PAGE_SIZE, arch::PAGE_SIZE, arch::access_kind::read}, 2);
  b.touch(A, 16 * arch::PAGE_SIZE);
  b.add(access_op{A, 16 * arch::PAGE_SIZE, arch::PAGE_SIZE, arch::access_kind::read}, 2);
  const auto res = b.run();
  CHECK(res.vmstat.events[mm::PSWPOUT] == 16);
  CHECK(res.vmstat.events[mm::PSWPIN] == 32);
}

TEST_CASE("a THP written by a child after fork: only the child's PMD splits", "[mm][thp][cow]") {
  builder b(64ull << 20);
  b.map(A, 2ull << 20).advise(A, 2ull << 20, madvise_advice::hugepage).touch(A, 2ull << 20);
  b.add(fork_op{2});
  b.add(access_op{A, arch::PAGE_SIZE, arch::PAGE_SIZE, arch::access_kind::write}, 2);
  b.add(access_op{A, 2ull << 20, arch::PAGE_SIZE, arch::access_kind::read}, 1);
  b.add(access_op{A, 2ull << 20, arch::PAGE_SIZE, arch::access_kind::read}, 2);
  const auto res = b.run();
  CHECK(res.vmstat.events[mm::THP_SPLIT_PMD] == 1);
  CHECK(res.vmstat.stats[mm::NR_ANON_THPS] == 1);  // the parent's PMD mapping remains
}

TEST_CASE("per-size mTHP stats count faults, partial unmaps and splits of 64K folios",
          "[mm][thp][mthp]") {
  builder b(64ull << 20);
  b.t.kernel = {{"transparent_hugepage/enabled", "never"},
                {"transparent_hugepage/hugepages-64kB/enabled", "always"}};
  b.map(A, 1ull << 20).touch(A, 1ull << 20);  // 16 folios of 64K
  b.add(munmap_op{A + 0x4000, 0x4000});        // the first folio is now partially mapped
  sim::replay_options opt;
  opt.check_invariants = true;
  sim::replayer r(b.t, opt);
  const auto res = r.run();
  REQUIRE(res.violations.empty());
  const auto& m = r.kernel().mthp();
  CHECK(m.anon_fault_alloc[4] == 16);
  CHECK(m.nr_anon[4] == 16);
  CHECK(m.split_deferred[4] == 1);
  CHECK(m.nr_anon_partially_mapped[4] == 1);
  CHECK(res.vmstat.events[mm::THP_FAULT_ALLOC] == 0);  // thp_fault_alloc is PMD-size only
  CHECK(res.vmstat.events[mm::PGFAULT] == 16);
}
