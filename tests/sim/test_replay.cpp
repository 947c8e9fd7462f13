// Replay-level behaviour: expectations are reported with their op and field, signals and
// errnos are recorded rather than fatal, reports are byte-identical across runs.
#include <catch2/catch.hpp>

#include "sim/replay.hpp"
#include "sim/report/report.hpp"
#include "sim/trace/reader.hpp"

using namespace mmsim;

namespace {
const char* header = R"({"format": "mmsim-trace", "version": 1, "name": "t",
  "machine": {"arch": "x86_64", "cpus": 2, "memory": "64M"}, "ops": [)";

sim::trace::trace parse(const std::string& ops) {
  return sim::trace::parse_trace(std::string(header) + ops + "]}", "test.json");
}
const std::string map16k = R"({"op": "mmap", "addr": "0x7f0000000000", "len": "16K", "prot": "rw",
  "flags": ["private", "anonymous", "fixed"]})";
}  // namespace

TEST_CASE("a failed expectation names its op and field and does not stop replay", "[replay]") {
  auto t = parse(map16k + R"(,
    {"op": "access", "addr": "0x7f0000000000", "len": "4K", "kind": "write"},
    {"op": "expect", "addr": "0x7f0000000000", "mapped": "none", "rss": "4K"},
    {"op": "access", "addr": "0x7f0000001000", "len": "4K", "kind": "write"},
    {"op": "expect", "vmstat": {"pgfault": 2}})");
  const auto res = sim::replay_trace(t);
  REQUIRE(res.ops_run == 5);
  REQUIRE(res.failed_expectations() == 1);
  const auto& bad = *std::find_if(res.expectations.begin(), res.expectations.end(), [](auto& e) { return !e.pass; });
  CHECK(bad.op == 2);
  CHECK(bad.field == "mapped");
  CHECK(bad.expected == "none");
  CHECK(bad.actual == "pte at 0x7f0000000000");
}

TEST_CASE("an access beyond every VMA records SIGSEGV and skips the rest of the op", "[replay]") {
  auto t = parse(map16k + R"(,
    {"op": "access", "addr": "0x7f0000002000", "len": "16K", "kind": "write", "expect_signal": "SIGSEGV"},
    {"op": "expect", "addr": "0x7f0000000000", "len": "16K", "rss": "8K"})");
  const auto res = sim::replay_trace(t);
  REQUIRE(res.signals.size() == 1);
  CHECK(res.signals[0].addr == 0x7f0000004000);
  CHECK(res.signals[0].what == "SIGSEGV");
  CHECK(res.failed_expectations() == 0);
}

TEST_CASE("expect_errno fails when the call succeeds", "[replay]") {
  auto t = parse(map16k + R"(,
    {"op": "munmap", "addr": "0x7f0000000000", "len": "4K", "expect_errno": "EINVAL"})");
  const auto res = sim::replay_trace(t);
  REQUIRE(res.expectations.size() == 1);
  CHECK_FALSE(res.expectations[0].pass);
  CHECK(res.expectations[0].actual == "success");
}

TEST_CASE("the same trace gives a byte-identical JSON report", "[replay][determinism]") {
  auto t = parse(map16k + R"(,
    {"op": "access", "addr": "0x7f0000000000", "len": "16K", "kind": "write", "pattern": "random", "count": 100},
    {"op": "fork", "pid": 1, "child": 2},
    {"op": "access", "pid": 2, "addr": "0x7f0000000000", "len": "16K", "kind": "write"},
    {"op": "exit", "pid": 2})");
  auto run = [&] {
    sim::replayer r(t, {});
    auto res = r.run();
    return sim::report::to_json(r, res).dump();
  };
  const std::string a = run(), b = run();
  REQUIRE(a == b);
  REQUIRE(a.find("\"pgfault\"") != std::string::npos);
}

TEST_CASE("an unknown cpu_model is a configuration error listing the known ones", "[replay]") {
  auto t = sim::trace::parse_trace(R"({"format": "mmsim-trace", "version": 1, "name": "t",
    "machine": {"arch": "x86_64", "cpu_model": "pentium"}, "ops": []})", "t.json");
  REQUIRE_THROWS_WITH(sim::replayer(t, {}), Catch::Contains("skylake") && Catch::Contains("pentium"));
}

TEST_CASE("--set overrides are validated like trace knobs", "[replay]") {
  auto t = parse(map16k);
  sim::replay_options opt;
  opt.overrides = {{"transparent_hugepage/enabled", "sometimes"}};
  REQUIRE_THROWS_WITH(sim::replayer(t, opt), Catch::Contains("transparent_hugepage/enabled"));
  opt.overrides = {{"x86/tlb_single_page_flush_ceiling", "0"}};
  REQUIRE_NOTHROW(sim::replayer(t, opt));
}

TEST_CASE("fork CoW keeps each process's data: the reference model sees no mismatch", "[replay][cow]") {
  auto t = parse(map16k + R"(,
    {"op": "access", "addr": "0x7f0000000000", "len": "16K", "kind": "write"},
    {"op": "fork", "pid": 1, "child": 2},
    {"op": "access", "pid": 2, "addr": "0x7f0000000000", "len": "8K", "kind": "write"},
    {"op": "access", "pid": 1, "addr": "0x7f0000000000", "len": "16K", "kind": "read"},
    {"op": "access", "pid": 2, "addr": "0x7f0000000000", "len": "16K", "kind": "atomic"},
    {"op": "access", "pid": 1, "addr": "0x7f0000000000", "len": "16K", "kind": "write"},
    {"op": "exit", "pid": 2},
    {"op": "access", "pid": 1, "addr": "0x7f0000000000", "len": "16K", "kind": "read"})");
  sim::replay_options opt;
  opt.check_invariants = true;
  const auto res = sim::replay_trace(t, opt);
  for (auto& v : res.violations) FAIL_CHECK(v.what << ": " << v.detail);
  REQUIRE(res.violations.empty());
  REQUIRE(res.invariant_checks == t.ops.size());
}

TEST_CASE("--timeline records faults, flushes and collapses with their kind, on simulated time",
          "[replay][timeline]") {
  auto t = sim::trace::parse_trace(std::string(header) + R"(
    {"op": "mmap", "addr": "0x7f0000000000", "len": "2M", "prot": "rw", "flags": ["private", "anonymous", "fixed"]},
    {"op": "access", "addr": "0x7f0000000000", "len": "2M", "kind": "write"},
    {"op": "madvise", "addr": "0x7f0000000000", "len": "2M", "advice": "collapse"},
    {"op": "fork", "pid": 1, "child": 2},
    {"op": "access", "pid": 2, "addr": "0x7f0000000000", "len": "4K", "kind": "write"}]})", "t.json");
  struct sink final : mm::trace_sink {
    std::vector<mm::trace_event> ev;
    void emit(const mm::trace_event& e) override { ev.push_back(e); }
  } s;
  sim::replay_options opt;
  opt.timeline = &s;
  const auto res = sim::replay_trace(t, opt);
  auto count = [&](const std::string& name, const std::string& detail) {
    return std::count_if(s.ev.begin(), s.ev.end(), [&](const mm::trace_event& e) {
      return name == e.name && e.detail.find(detail) != std::string::npos;
    });
  };
  CHECK(count("page_fault_user", "anon (write)") == 512);
  CHECK(count("mm_collapse_huge_page", "MADV_COLLAPSE: succeed") == 1);
  CHECK(count("tlb_flush", "") >= 1);
  CHECK(count("op:access", "ops[1]") == 1);
  for (const auto& e : s.ev) CHECK(e.end >= e.begin);
  // A fault's box is exactly the cycles charged while it was handled.
  const auto f = std::find_if(s.ev.begin(), s.ev.end(), [](auto& e) { return std::string(e.name) == "page_fault_user"; });
  REQUIRE(f != s.ev.end());
  CHECK(f->end - f->begin > 1000);
  (void)res;
}
