// khugepaged and MADV_COLLAPSE (mm/khugepaged.cpp; mm-semantics.md M72-M88): the scan limits at
// their exact boundaries, the referenced and writable rules, MADV_COLLAPSE's range and errno
// rules, the scan budget and cursor, allocation failure, and seed 003's extreme case replayed
// under every mapcount scheme. Every replay checks every invariant and every read after every
// op; the kernel-level tests check the invariants after each step.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "mm/kernel.hpp"
#include "tests/support/kernel_fixture.hpp"
#include "mm/mapcount/registry.hpp"
#include "mm/mman.hpp"
#include "sim/replay.hpp"
#include "sim/trace/reader.hpp"

using namespace mmsim;
using namespace mmsim::mm;
using namespace mmsim::arch::x86_64;

namespace {

constexpr std::uint64_t A = 0x7f0000000000;
constexpr std::uint64_t H = 0x200000;
constexpr std::uint64_t P = 0x1000;
constexpr unsigned RW = PROT_READ | PROT_WRITE;
constexpr unsigned ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;

std::string hex(std::uint64_t v) {
  std::ostringstream o;
  o << "\"0x" << std::hex << v << '"';
  return o.str();
}

// ---- trace-level helpers ----

/// A replayed trace, kept alive with its replayer so the kernel can be inspected afterwards.
struct run {
  std::unique_ptr<sim::trace::trace> t;
  std::unique_ptr<sim::replayer> r;
  sim::replay_result res;

  const kernel& k() const { return r->kernel(); }
  const mm_struct& mm(int pid) const { return *r->kernel().tasks().at(pid).mm; }
  std::uint64_t event(vm_event_item e) const { return res.vmstat.events[e]; }
};

run replay(sim::trace::trace t, std::vector<std::pair<std::string, std::string>> overrides = {}) {
  run x;
  x.t = std::make_unique<sim::trace::trace>(std::move(t));
  sim::replay_options opt;
  opt.check_invariants = true;
  opt.overrides = std::move(overrides);
  x.r = std::make_unique<sim::replayer>(*x.t, opt);
  x.res = x.r->run();
  return x;
}

/// A trace with the given kernel knobs (JSON members) and ops (JSON array members).
run replay_ops(const std::string& knobs, const std::string& ops,
               std::vector<std::pair<std::string, std::string>> overrides = {}) {
  const std::string text = R"({"format": "mmsim-trace", "version": 1, "name": "t",
    "machine": {"arch": "x86_64", "cpus": 2, "memory": "64M"},
    "kernel": {"transparent_hugepage/enabled": "madvise")" +
                           (knobs.empty() ? "" : ", " + knobs) + R"(}, "ops": [)" + ops + "]}";
  return replay(sim::trace::parse_trace(text, "test.json"), std::move(overrides));
}

/// No invariant violation, no data mismatch, every expectation met.
void require_clean(const run& x) {
  for (auto& v : x.res.violations) FAIL_CHECK("ops[" << v.op << "] " << v.what << ": " << v.detail);
  for (auto& e : x.res.expectations)
    if (!e.pass) FAIL_CHECK("ops[" << e.op << "] " << e.field << ": expected " << e.expected << ", got " << e.actual);
  REQUIRE(x.res.violations.empty());
  REQUIRE(x.res.failed_expectations() == 0);
  REQUIRE(x.res.ops_run == x.t->ops.size());
}

bool pmd_mapped(const run& x, int pid, vaddr_t va) {
  const auto l = x.k().follow_page(x.mm(pid), va);
  return l.present && l.level == arch::pt_level::pmd;
}

std::string mmap_op(std::uint64_t addr, std::uint64_t len, int pid = 1) {
  return R"({"op": "mmap", "pid": )" + std::to_string(pid) + ", \"addr\": " + hex(addr) +
         ", \"len\": " + std::to_string(len) + R"(, "prot": "rw", "flags": ["private", "anonymous", "fixed"]})";
}
std::string access_op(std::uint64_t addr, std::uint64_t len, const char* kind, int pid = 1) {
  return R"({"op": "access", "pid": )" + std::to_string(pid) + ", \"addr\": " + hex(addr) +
         ", \"len\": " + std::to_string(len) + ", \"kind\": \"" + kind + "\"}";
}
std::string madvise_op(std::uint64_t addr, std::uint64_t len, const char* advice, int pid = 1,
                       const char* errno_name = nullptr) {
  std::string s = R"({"op": "madvise", "pid": )" + std::to_string(pid) + ", \"addr\": " + hex(addr) +
                  ", \"len\": " + std::to_string(len) + ", \"advice\": \"" + advice + "\"";
  if (errno_name) s += ", \"expect_errno\": \"" + std::string(errno_name) + "\"";
  return s + "}";
}
std::string khugepaged_op(unsigned scans) { return R"({"op": "khugepaged", "scans": )" + std::to_string(scans) + "}"; }

/// Where the checked-in traces live: found from this source file or by walking up from the
/// working directory (meson runs tests in the build directory).
std::filesystem::path trace_file(const std::string& rel) {
  namespace fs = std::filesystem;
  const fs::path from_source = fs::path(__FILE__).parent_path() / ".." / ".." / "traces" / rel;
  if (fs::exists(from_source)) return from_source;
  for (fs::path d = fs::current_path(); !d.empty(); d = d.parent_path()) {
    if (fs::exists(d / "traces" / rel)) return d / "traces" / rel;
    if (d == d.parent_path()) break;
  }
  FAIL("trace not found: " << rel);
  return {};
}

// ---- kernel-level fixture ----

using fixture = test::kernel_fixture;

}  // namespace

// ---------------------------------------------------------------------------------------------
// khugepaged: the scan limits (M79, M80)

TEST_CASE("khugepaged collapses a populated range: one THP, contents kept, counters", "[khugepaged]") {
  auto x = replay_ops("", mmap_op(A, H) + "," + access_op(A, H, "write") + "," +
                              madvise_op(A, H, "hugepage") + R"(, {"op": "mark", "label": "scan"}, )" +
                              khugepaged_op(1) + R"(,
    {"op": "expect", "pid": 1, "addr": )" + hex(A) + R"(, "len": "2M", "mapped": "pmd", "thp": true, "writable": true,
     "anon_huge": "2M", "rss": "2M", "mapcount": {"folio": 1, "entire": 1}},
    {"op": "expect", "vmstat": {"thp_collapse_alloc": 1, "thp_collapse_alloc_failed": 0, "pages_collapsed": 1,
     "full_scans": 1, "pgfault": 0, "nr_anon_pages": 0, "nr_anon_transparent_hugepages": 1,
     "thp_deferred_split_page": 0}, "since": "scan"},
    {"op": "expect", "nr_folios": 1}, )" + access_op(A, H, "read"));
  require_clean(x);
  CHECK(x.mm(1).rss_stat[MM_ANONPAGES] == 512);
  CHECK(x.mm(1).deposited.size() == 1);
  const auto& led = x.r->hw().led.cpu(0).by;
  CHECK(led[static_cast<unsigned>(arch::cost::copy)] >= 512 * x.r->hw().profile.copy_4k_cycles);
}

TEST_CASE("max_ptes_none: a count equal to the limit collapses, one more does not", "[khugepaged][limits]") {
  const unsigned limit = GENERATE(0u, 1u, 64u, 256u, 510u);
  const std::string knob = R"("transparent_hugepage/khugepaged/max_ptes_none": )" + std::to_string(limit);
  SECTION("limit + 1 none PTEs: refused, thp_scan_exceed_none_pte") {
    const std::uint64_t present = 512 - limit - 1;
    auto x = replay_ops(knob, mmap_op(A, H) + "," + access_op(A, present * P, "write") + "," +
                                  madvise_op(A, H, "hugepage") + "," + khugepaged_op(2));
    require_clean(x);
    CHECK_FALSE(pmd_mapped(x, 1, A));
    CHECK(x.event(THP_SCAN_EXCEED_NONE_PTE) == 2);
    CHECK(x.event(THP_COLLAPSE_ALLOC) == 0);
  }
  SECTION("limit none PTEs: collapsed") {
    const std::uint64_t present = 512 - limit;
    auto x = replay_ops(knob, mmap_op(A, H) + "," + access_op(A, present * P, "write") + "," +
                                  madvise_op(A, H, "hugepage") + "," + khugepaged_op(2) + "," + access_op(A, H, "read"));
    require_clean(x);
    CHECK(pmd_mapped(x, 1, A));
    CHECK(x.event(THP_SCAN_EXCEED_NONE_PTE) == 0);
    CHECK(x.event(KHUGEPAGED_PAGES_COLLAPSED) == 1);
  }
  SECTION("MADV_COLLAPSE ignores the limit") {
    auto x = replay_ops(knob, mmap_op(A, H) + "," + access_op(A, P, "write") + "," + madvise_op(A, H, "collapse") +
                                  "," + access_op(A, H, "read"));
    require_clean(x);
    CHECK(pmd_mapped(x, 1, A));
    CHECK(x.event(KHUGEPAGED_PAGES_COLLAPSED) == 0);  // only khugepaged counts its collapses
  }
}

TEST_CASE("zero-page PTEs count as none, and the collapse zero-fills them", "[khugepaged][limits]") {
  // 256 written pages, 256 read (the 4K zero page: the VMA is not MADV_HUGEPAGE'd when read).
  const std::string ops = mmap_op(A, H) + "," + access_op(A, H / 2, "write") + "," +
                          access_op(A + H / 2, H / 2, "read") + R"(,
    {"op": "expect", "pid": 1, "addr": )" + hex(A + H / 2) + R"(, "len": "1M", "zero_page": true, "rss": 0}, )" +
                          madvise_op(A, H, "hugepage") + "," + khugepaged_op(2) + "," + access_op(A, H, "read");
  SECTION("256 zero pages > max_ptes_none 255") {
    auto x = replay_ops(R"("transparent_hugepage/khugepaged/max_ptes_none": 255)", ops);
    require_clean(x);
    CHECK_FALSE(pmd_mapped(x, 1, A));
    CHECK(x.event(THP_SCAN_EXCEED_NONE_PTE) == 2);
  }
  SECTION("256 zero pages <= max_ptes_none 256: the THP maps all 512, MM_ANONPAGES 512") {
    auto x = replay_ops(R"("transparent_hugepage/khugepaged/max_ptes_none": 256)", ops);
    require_clean(x);
    CHECK(pmd_mapped(x, 1, A));
    CHECK(x.mm(1).rss_stat[MM_ANONPAGES] == 512);
    CHECK(x.k().smaps_range(x.mm(1), A, A + H).rss == H);
  }
}

TEST_CASE("max_ptes_swap: equal collapses after swapping the pages in, one more does not", "[khugepaged][limits][swap]") {
  const unsigned limit = GENERATE(0u, 1u, 64u);
  const std::string knob = R"("transparent_hugepage/khugepaged/max_ptes_swap": )" + std::to_string(limit);
  auto ops = [&](unsigned swapped) {
    std::string s = mmap_op(A, H) + "," + access_op(A, H, "write");
    if (swapped) s += "," + madvise_op(A, swapped * P, "pageout");
    return s + "," + madvise_op(A, H, "hugepage") + R"(, {"op": "mark", "label": "scan"}, )" + khugepaged_op(2) + "," +
           access_op(A, H, "read");
  };
  SECTION("limit + 1 swap entries: refused") {
    auto x = replay_ops(knob, ops(limit + 1));
    require_clean(x);
    CHECK_FALSE(pmd_mapped(x, 1, A));
    CHECK(x.event(THP_SCAN_EXCEED_SWAP_PTE) == 2);
  }
  SECTION("limit swap entries: swapped in (no page fault counted) and collapsed") {
    auto x = replay_ops(knob, ops(limit));
    require_clean(x);
    CHECK(pmd_mapped(x, 1, A));
    CHECK(x.event(PSWPIN) == limit);
    CHECK(x.mm(1).rss_stat[MM_SWAPENTS] == 0);
    CHECK(x.event(PGFAULT) == 512);  // the initial writes only
  }
}

TEST_CASE("max_ptes_shared counts one per PTE into a shared folio, strictly greater fails", "[khugepaged][limits][fork]") {
  // The parent's THP is PMD-split in the child by CoW writes to `cow` pages; 512 - cow PTEs of the
  // child still map the shared THP.
  const unsigned cow = GENERATE(255u, 256u);
  auto x = replay_ops("", mmap_op(A, H) + "," + access_op(A, H, "write") + "," + madvise_op(A, H, "collapse") +
                              "," + madvise_op(A, H, "hugepage") + R"(, {"op": "fork", "pid": 1, "child": 2}, )" +
                              access_op(A, cow * P, "write", 2) + "," + madvise_op(A, H, "hugepage", 2) + "," +
                              khugepaged_op(2) + "," + access_op(A, H, "read", 2) + "," + access_op(A, H, "read", 1),
                      {{"mm/shadow", "all"}});
  require_clean(x);
  CHECK(pmd_mapped(x, 1, A));  // the parent keeps its THP either way
  if (cow == 255) {
    CHECK_FALSE(pmd_mapped(x, 2, A));
    CHECK(x.event(THP_SCAN_EXCEED_SHARED_PTE) == 2);
  } else {
    CHECK(pmd_mapped(x, 2, A));
    CHECK(x.event(THP_SCAN_EXCEED_SHARED_PTE) == 0);
  }
  // The parent maps the whole THP, so every scheme answers "shared" for it: nobody disagrees
  // with the truth at the khugepaged site (the CoW copies are small, exclusive folios).
  for (auto& row : x.k().shadows()->report())
    if (row.site == "khugepaged_shared_pte" && row.scheme != "always_shared" && row.scheme != "never_shared") {
      INFO(row.scheme);
      CHECK(row.asked > 0);
      CHECK(row.agree == row.asked);
    }
}

// ---------------------------------------------------------------------------------------------
// khugepaged: the referenced and writable rules (M79 step 11, M80)

TEST_CASE("khugepaged needs a young PTE; with swap entries, 256 of them; MADV_COLLAPSE needs none", "[khugepaged][referenced]") {
  fixture f;
  REQUIRE(f.k.sys_mmap(f.init(), 0, A, H, RW, ANON) == static_cast<long>(A));
  f.write_range(A, H);
  REQUIRE(f.k.sys_madvise(f.init(), 0, A, H, MADV_HUGEPAGE) == 0);
  auto make_old = [&](unsigned from, unsigned to) {
    for (unsigned i = from; i < to; ++i) *f.pte_slot(A + i * P) = pte_mkold(*f.pte_slot(A + i * P));
  };
  SECTION("no young PTE: khugepaged refuses before allocating") {
    make_old(0, 512);
    f.k.khugepaged_run(0, 2, 0);
    CHECK_FALSE(f.pmd_mapped(A));
    CHECK(f.event(THP_COLLAPSE_ALLOC) == 0);
    f.require_invariants();
    REQUIRE(f.k.sys_madvise(f.init(), 0, A, H, MADV_COLLAPSE) == 0);
    CHECK(f.pmd_mapped(A));
  }
  SECTION("one young PTE is enough without swap entries") {
    make_old(1, 512);
    f.k.khugepaged_run(0, 1, 0);
    CHECK(f.pmd_mapped(A));
  }
  SECTION("with a swap entry, 255 young PTEs are not enough and 256 are") {
    REQUIRE(f.k.sys_madvise(f.init(), 0, A, P, MADV_PAGEOUT) == 0);
    REQUIRE(is_swap_pte(*f.pte_slot(A)));
    make_old(1 + 255, 512);  // pages 1..255 young: 255
    f.k.khugepaged_run(0, 1, 0);
    CHECK_FALSE(f.pmd_mapped(A));
    CHECK(f.event(THP_COLLAPSE_ALLOC) == 0);
    *f.pte_slot(A + 256 * P) = pte_mkyoung(*f.pte_slot(A + 256 * P));  // 256 young
    f.k.khugepaged_run(0, 1, 0);
    CHECK(f.pmd_mapped(A));
    CHECK(f.event(PSWPIN) == 1);
  }
  f.require_invariants();
}

TEST_CASE("no writable PTE: with the <= 6.17 rule neither khugepaged nor MADV_COLLAPSE collapses", "[khugepaged][ro]") {
  auto x = replay_ops(R"("mm/collapse_requires_writable": 1)", mmap_op(A, H) + "," + access_op(A, H, "write") + R"(,
    {"op": "mprotect", "pid": 1, "addr": )" + hex(A) + R"(, "len": "2M", "prot": "r"}, )" +
                              madvise_op(A, H, "hugepage") + "," + khugepaged_op(2) + "," +
                              madvise_op(A, H, "collapse", 1, "EINVAL") + "," + access_op(A, H, "read"));
  require_clean(x);
  CHECK_FALSE(pmd_mapped(x, 1, A));
  CHECK(x.event(THP_COLLAPSE_ALLOC) == 0);
}

TEST_CASE("no writable PTE: 6.18 (the default) collapses a read-only range", "[khugepaged][ro]") {
  auto x = replay_ops("", mmap_op(A, H) + "," + access_op(A, H, "write") + R"(,
    {"op": "mprotect", "pid": 1, "addr": )" + hex(A) + R"(, "len": "2M", "prot": "r"}, )" +
                              madvise_op(A, H, "collapse") + "," + access_op(A, H, "read"));
  require_clean(x);
  CHECK(pmd_mapped(x, 1, A));
  CHECK(x.event(THP_COLLAPSE_ALLOC) == 1);
}

// ---------------------------------------------------------------------------------------------
// MADV_COLLAPSE: what it honours, range handling, errno (M84-M86)

TEST_CASE("MADV_COLLAPSE honours VM_NOHUGEPAGE and PR_SET_THP_DISABLE, ignores enabled=never", "[madv_collapse]") {
  const std::string populate = mmap_op(A, H) + "," + access_op(A, H, "write");
  SECTION("VM_NOHUGEPAGE: EINVAL before any work") {
    auto x = replay_ops("", populate + "," + madvise_op(A, H, "nohugepage") + "," +
                                madvise_op(A, H, "collapse", 1, "EINVAL"));
    require_clean(x);
    CHECK(x.event(THP_COLLAPSE_ALLOC) == 0);
  }
  SECTION("prctl(PR_SET_THP_DISABLE): EINVAL") {
    auto x = replay_ops("", populate + R"(, {"op": "prctl", "pid": 1, "option": "thp_disable", "value": 1}, )" +
                                madvise_op(A, H, "collapse", 1, "EINVAL"));
    require_clean(x);
    CHECK(x.event(THP_COLLAPSE_ALLOC) == 0);
  }
  SECTION("enabled=never: collapses anyway") {
    auto x = replay_ops("", populate + "," + madvise_op(A, H, "collapse") + "," + access_op(A, H, "read"),
                        {{"transparent_hugepage/enabled", "never"}});
    require_clean(x);
    CHECK(pmd_mapped(x, 1, A));
  }
}

TEST_CASE("MADV_COLLAPSE works on whole 2M blocks and answers as Linux does", "[madv_collapse]") {
  SECTION("a range with no whole block: 0 from a block boundary, EINVAL from inside a block") {
    auto x = replay_ops("", mmap_op(A, H) + "," + access_op(A, H, "write") + "," + madvise_op(A, P, "collapse") +
                                "," + madvise_op(A + P, P, "collapse", 1, "EINVAL"));
    require_clean(x);
    CHECK(x.event(THP_COLLAPSE_ALLOC) == 0);
  }
  SECTION("a VMA without a whole aligned block is not eligible: EINVAL") {
    auto x = replay_ops("", mmap_op(A + P, H) + "," + access_op(A + P, H, "write") + "," +
                                madvise_op(A + P, H, "collapse", 1, "EINVAL"));
    require_clean(x);
  }
  SECTION("only the whole blocks inside the range are collapsed") {
    auto x = replay_ops("", mmap_op(A, 3 * H) + "," + access_op(A, 3 * H, "write") + "," +
                                madvise_op(A + P, 3 * H - P, "collapse") + "," + access_op(A, 3 * H, "read"));
    require_clean(x);
    CHECK_FALSE(pmd_mapped(x, 1, A));
    CHECK(pmd_mapped(x, 1, A + H));
    CHECK(pmd_mapped(x, 1, A + 2 * H));
  }
  SECTION("an empty block under an existing PMD table (SCAN_PMD_NONE) stops the loop: EINVAL") {
    auto x = replay_ops("", mmap_op(A, 2 * H) + "," + access_op(A + H, H, "write") + "," +
                                madvise_op(A, 2 * H, "collapse", 1, "EINVAL"));
    require_clean(x);
    CHECK_FALSE(pmd_mapped(x, 1, A + H));
    CHECK(x.event(THP_COLLAPSE_ALLOC) == 0);
  }
  SECTION("a failure after a success: the first block stays collapsed, the call fails") {
    auto x = replay_ops("", mmap_op(A, 2 * H) + "," + access_op(A, H, "write") + "," +
                                madvise_op(A, 2 * H, "collapse", 1, "EINVAL") + "," + access_op(A, H, "read"));
    require_clean(x);
    CHECK(pmd_mapped(x, 1, A));
  }
  SECTION("a whitelisted failure (SCAN_PAGE_RO) lets the next block collapse; the call still fails") {
    // After fork every PTE is read-only; the parent's writes to the second block make its own
    // writable copies, the first block keeps only read-only PTEs.
    auto x = replay_ops(R"("mm/collapse_requires_writable": 1)", mmap_op(A, 2 * H) + "," + access_op(A, 2 * H, "write") +
                                R"(, {"op": "fork", "pid": 1, "child": 2}, )" + access_op(A + H, H, "write") + "," +
                                madvise_op(A, 2 * H, "collapse", 1, "EINVAL") + "," + access_op(A, 2 * H, "read"));
    require_clean(x);
    CHECK_FALSE(pmd_mapped(x, 1, A));
    CHECK(pmd_mapped(x, 1, A + H));
  }
  SECTION("holes: every VMA is collapsed, then ENOMEM") {
    auto x = replay_ops("", mmap_op(A, H) + "," + mmap_op(A + 2 * H, H) + "," + access_op(A, H, "write") + "," +
                                access_op(A + 2 * H, H, "write") + "," + madvise_op(A, 3 * H, "collapse", 1, "ENOMEM") +
                                "," + access_op(A, H, "read") + "," + access_op(A + 2 * H, H, "read"));
    require_clean(x);
    CHECK(pmd_mapped(x, 1, A));
    CHECK(pmd_mapped(x, 1, A + 2 * H));
  }
  SECTION("already PMD-mapped, or the huge zero page: success without allocating") {
    auto x = replay_ops("", mmap_op(A, 2 * H) + "," + madvise_op(A, 2 * H, "hugepage") + "," +
                                access_op(A, P, "write") + "," + access_op(A + H, P, "read") + R"(,
      {"op": "expect", "pid": 1, "addr": )" + hex(A + H) + R"(, "mapped": "pmd", "zero_page": true},
      {"op": "mark", "label": "c"}, )" + madvise_op(A, 2 * H, "collapse") + R"(,
      {"op": "expect", "vmstat": {"thp_collapse_alloc": 0, "thp_split_pmd": 0, "pgalloc_normal": 0}, "since": "c"})");
    require_clean(x);
  }
}

// ---------------------------------------------------------------------------------------------
// khugepaged: the pass, its budget, the cursor, allocation failure (M74-M76)

TEST_CASE("a pass stops at pages_to_scan progress; the cursor resumes; full_scans ticks at the wrap", "[khugepaged][cursor]") {
  // Two read-only populated ranges: each scan is examined (+512) and refused (SCAN_PAGE_RO)
  // without dropping the lock, so only the budget ends a pass.
  const std::string setup = mmap_op(A, 2 * H) + "," + access_op(A, 2 * H, "write") + R"(,
    {"op": "mprotect", "pid": 1, "addr": )" + hex(A) + R"(, "len": "4M", "prot": "r"}, )" +
                            madvise_op(A, 2 * H, "hugepage");
  auto full_scans_after = [&](const std::string& runs) {
    auto x = replay_ops(R"("transparent_hugepage/khugepaged/pages_to_scan": 512)", setup + "," + runs);
    require_clean(x);
    return x.event(KHUGEPAGED_FULL_SCANS);
  };
  CHECK(full_scans_after(khugepaged_op(1)) == 0);  // mm +1, range 1 +512: budget spent
  CHECK(full_scans_after(khugepaged_op(2)) == 0);  // range 2
  CHECK(full_scans_after(khugepaged_op(3)) == 1);  // no VMA left: wrap, then range 1 again
  CHECK(full_scans_after(R"({"op": "khugepaged", "pages": 1026})") == 0);  // two passes of 513
  CHECK(full_scans_after(R"({"op": "khugepaged", "pages": 1027})") == 1);
  SECTION("with the default budget one pass is one full scan") {
    auto x = replay_ops("", setup + "," + khugepaged_op(3));
    require_clean(x);
    CHECK(x.event(KHUGEPAGED_FULL_SCANS) == 3);
  }
}

TEST_CASE("khugepaged skips prctl-disabled mms and VM_NOHUGEPAGE VMAs", "[khugepaged]") {
  const std::string setup = mmap_op(A, H) + "," + access_op(A, H, "write") + "," + madvise_op(A, H, "hugepage");
  SECTION("PR_SET_THP_DISABLE after the mm joined the list") {
    auto x = replay_ops("", setup + R"(, {"op": "prctl", "pid": 1, "option": "thp_disable", "value": 1}, )" +
                                khugepaged_op(2));
    require_clean(x);
    CHECK_FALSE(pmd_mapped(x, 1, A));
    CHECK(x.event(KHUGEPAGED_FULL_SCANS) == 2);  // visited and passed over
  }
  SECTION("MADV_NOHUGEPAGE keeps the mm listed but the VMA is skipped") {
    auto x = replay_ops("", setup + "," + madvise_op(A, H, "nohugepage") + "," + khugepaged_op(2));
    require_clean(x);
    CHECK_FALSE(pmd_mapped(x, 1, A));
    CHECK(x.event(KHUGEPAGED_FULL_SCANS) == 2);
  }
  SECTION("a VMA too small for an aligned 2M block never puts the mm on the list") {
    auto x = replay_ops("", mmap_op(A, H / 2) + "," + access_op(A, H / 2, "write") + "," +
                                madvise_op(A, H / 2, "hugepage") + "," + khugepaged_op(2));
    require_clean(x);
    CHECK(x.event(KHUGEPAGED_FULL_SCANS) == 0);
  }
}

TEST_CASE("an mm that exits under the cursor is stepped over", "[khugepaged][cursor][exit]") {
  auto x = replay_ops(R"("transparent_hugepage/khugepaged/pages_to_scan": 512)",
                      mmap_op(A, 2 * H) + "," + access_op(A, 2 * H, "write") + R"(,
    {"op": "mprotect", "pid": 1, "addr": )" + hex(A) + R"(, "len": "4M", "prot": "r"}, )" +
                          madvise_op(A, 2 * H, "hugepage") + R"(, {"op": "fork", "pid": 1, "child": 2}, )" +
                          madvise_op(A, 2 * H, "hugepage", 2) + "," + khugepaged_op(1) +  // cursor on mm 1
                          R"(, {"op": "exit", "pid": 1}, )" + khugepaged_op(3) + R"(,
    {"op": "expect", "vmstat": {"full_scans": 1}}, )" + access_op(A, 2 * H, "read", 2));
  require_clean(x);
}

TEST_CASE("allocation failure: thp_collapse_alloc_failed, the second failure ends the pass", "[khugepaged][oom]") {
  fixture f(default_knobs(), 32ull << 20);
  REQUIRE(f.k.sys_mmap(f.init(), 0, A, 3 * H, RW, ANON) == static_cast<long>(A));
  f.write_range(A, 3 * H);
  REQUIRE(f.k.sys_madvise(f.init(), 0, A, 3 * H, MADV_HUGEPAGE) == 0);
  // Fragment memory until no free block of order >= 9 is left.
  const vaddr_t filler = A + 0x40000000;
  REQUIRE(f.k.sys_mmap(f.init(), 0, filler, 32ull << 20, RW, ANON) == static_cast<long>(filler));
  auto big_blocks = [&] {
    std::uint64_t n = 0;
    for (unsigned o = arch::HPAGE_PMD_ORDER; o <= MAX_PAGE_ORDER; ++o) n += f.k.buddy().nr_free_blocks(o);
    return n;
  };
  for (vaddr_t va = filler; big_blocks() > 0; va += P) REQUIRE(f.touch(va, arch::access_kind::write) == fault_outcome::handled);
  f.k.khugepaged_run(0, 1, 0);
  CHECK(f.event(THP_COLLAPSE_ALLOC_FAILED) == 2);
  CHECK(f.event(THP_COLLAPSE_ALLOC) == 0);
  CHECK(f.event(KHUGEPAGED_FULL_SCANS) == 0);
  CHECK_FALSE(f.pmd_mapped(A));
  CHECK(f.k.sys_madvise(f.init(), 0, A, H, MADV_COLLAPSE) == -E_NOMEM);
  CHECK(f.event(THP_COLLAPSE_ALLOC_FAILED) == 3);
  f.require_invariants();
}

TEST_CASE("a collapse of a THP shared with a child copies it: the child keeps the old folio", "[khugepaged][fork]") {
  fixture f;
  REQUIRE(f.k.sys_mmap(f.init(), 0, A, H, RW, ANON) == static_cast<long>(A));
  f.write_range(A, H);
  REQUIRE(f.k.sys_madvise(f.init(), 0, A, H, MADV_COLLAPSE) == 0);
  const pfn_t old = f.k.follow_page(f.mm(), A).pfn;
  REQUIRE(f.k.kernel_clone(1, 2, 0) == 0);
  REQUIRE(f.k.sys_madvise(f.init(), 0, A, P, MADV_NOHUGEPAGE) == 0);  // splits the parent's PMD
  REQUIRE(f.k.sys_madvise(f.init(), 0, A, H, MADV_HUGEPAGE) == 0);
  f.write_range(A, P);  // CoW: one writable PTE, new contents
  const auto free_before = f.k.buddy().nr_free_pages();
  REQUIRE(f.k.sys_madvise(f.init(), 0, A, H, MADV_COLLAPSE) == 0);  // 511 shared PTEs, limit ignored
  CHECK(f.pmd_mapped(A));
  const pfn_t head = f.k.follow_page(f.mm(), A).pfn;
  CHECK(head != old);
  CHECK(f.k.follow_page(*f.k.task(2).mm, A).pfn == old);
  CHECK(f.k.folio_ref_count(f.k.page_folio(old)) == 1);
  CHECK(free_before - f.k.buddy().nr_free_pages() == 511);  // a new 2M, the CoW copy freed
  CHECK(f.hw.mem.peek(head) != f.hw.mem.peek(old));
  for (unsigned i = 1; i < 512; ++i) CHECK(f.hw.mem.peek(head + i) == f.hw.mem.peek(old + i));
  f.require_invariants();
}

// ---------------------------------------------------------------------------------------------
// Seed 003: David Hildenbrand's extreme case, under every mapcount scheme (M88)

TEST_CASE("seed 003 extreme case: which schemes collapse, and the memory it costs", "[khugepaged][seed003]") {
  const auto t = sim::trace::read_trace_file(
      trace_file("seeds/003-khugepaged-shared/extreme-case-max-ptes-shared-0.json").string());
  struct row {
    const char* scheme;
    bool collapses;
  };
  // M88's table: folio_likely_mapped_shared() (large) and never_shared read the THP as
  // exclusive; the others count its 256 PTEs as shared, 256 > max_ptes_shared 0.
  const row table[] = {{"exact", false}, {"legacy", false}, {"large", true}, {"mm_id", false},
                       {"mm_id_nopagemapcount", false}, {"always_shared", false}, {"never_shared", true}};
  REQUIRE(std::size(table) == mapcount::schemes().size());
  for (const row& r : table) {
    DYNAMIC_SECTION(r.scheme) {
      auto x = replay(t, {{"mm/mapcount", r.scheme}});
      for (auto& v : x.res.violations) FAIL_CHECK("ops[" << v.op << "] " << v.what << ": " << v.detail);
      REQUIRE(x.res.violations.empty());
      REQUIRE(x.res.ops_run == t.ops.size());
      CHECK(pmd_mapped(x, 1, A) == r.collapses);
      CHECK_FALSE(pmd_mapped(x, 2, A + H / 2));  // the child has no writable PTE (SCAN_PAGE_RO)
      const auto& at_scan = std::find_if(x.res.marks.begin(), x.res.marks.end(), [](auto& m) { return m.label == "scan"; })->vmstat;
      const std::int64_t used = at_scan.stats[NR_FREE_PAGES] - x.res.vmstat.stats[NR_FREE_PAGES];
      const std::uint64_t parent_rss = x.k().smaps_range(x.mm(1), A, A + H).rss;
      const std::uint64_t child_rss = x.k().smaps_range(x.mm(2), A, A + H).rss;
      CHECK(child_rss == H / 2);
      if (r.collapses) {
        // A new THP (512 pages) replaces the parent's exclusive page (1 freed). 255 of the new
        // pages fill none slots, which max_ptes_none = 511 allows; the other 256 duplicate the
        // shared pages the child still maps: the +1 MiB of M88.
        CHECK(used == 511);
        CHECK((used - 255) * static_cast<std::int64_t>(P) == 1 << 20);
        CHECK(parent_rss == H);
        CHECK(x.event(THP_COLLAPSE_ALLOC) == 1);
        CHECK(x.k().nr_folios() == 2);
      } else {
        CHECK(used == 0);
        CHECK(parent_rss == H / 2 + P);
        CHECK(x.event(THP_COLLAPSE_ALLOC) == 0);
      }
      UNSCOPED_INFO(r.scheme << ": collapsed " << r.collapses << ", extra pages " << used);
    }
  }
}

TEST_CASE("seed 003 extreme case in shadow mode: large's false negatives are recorded", "[khugepaged][seed003][shadow]") {
  const auto t = sim::trace::read_trace_file(
      trace_file("seeds/003-khugepaged-shared/extreme-case-max-ptes-shared-0.json").string());
  auto x = replay(t, {{"mm/shadow", "all"}});
  require_clean(x);
  std::map<std::string, mapcount::shadow_row> site;
  for (auto& row : x.k().shadows()->report())
    if (row.site == "khugepaged_shared_pte") site[row.scheme] = row;
  // Each pass asks about the parent's exclusive page 0, then its first THP PTE (shared: stop),
  // and about the child's first THP PTE: 3 questions a pass, 2 passes.
  for (auto& [name, row] : site) {
    INFO(name);
    CHECK(row.asked == 6);
  }
  CHECK(site["mm_id"].agree == 6);
  CHECK(site["legacy"].agree == 6);
  CHECK(site["exact"].false_negative == 0);
  CHECK(site["large"].false_negative == 4);  // partially mapped everywhere, page 0 unmapped
  CHECK(site["never_shared"].false_negative == 4);
  CHECK(site["always_shared"].false_positive == 2);  // the parent's exclusive page
}
