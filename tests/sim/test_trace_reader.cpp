// The trace reader: every typo or unsupported feature is an error naming the file, the place
// and the problem; valid traces come out with the documented defaults filled in.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "sim/trace/reader.hpp"

using namespace mmsim;
using Catch::Contains;
using sim::trace::parse_trace;

namespace {

const std::string head = R"({"format": "mmsim-trace", "version": 1, "name": "t",
  "machine": {"arch": "x86_64", "cpus": 2, "memory": "64M"}, )";
const std::string map16k = R"({"op": "mmap", "addr": "0x7f0000000000", "len": "16K", "prot": "rw",
  "flags": ["private", "anonymous", "fixed"]})";

sim::trace::trace with_ops(const std::string& ops) {
  return parse_trace(head + R"("ops": [)" + ops + "]}", "t.json");
}
// `fields` replaces name/machine: for top-level, machine and kernel tests.
sim::trace::trace with_top(const std::string& fields) {
  return parse_trace(R"({"format": "mmsim-trace", "version": 1, )" + fields + "}", "t.json");
}
sim::trace::trace with_machine(const std::string& machine) {
  return with_top(R"("machine": )" + machine + R"(, "ops": [])");
}
sim::trace::trace with_kernel(const std::string& kernel) {
  return with_top(R"("kernel": )" + kernel + R"(, "ops": [])");
}
template <class T>
const T& body(const sim::trace::trace& t, std::size_t i) {
  return std::get<T>(t.ops.at(i).body);
}

// Copies of shared/examples/*.json (the reader must accept or reject them as documented).
const char* fork_cow_small = R"({"format": "mmsim-trace", "version": 1, "name": "fork-cow-small",
 "description": "fork shares private anonymous pages read-only; the first write in either process copies (or reuses, once exclusive).",
 "machine": {"arch": "x86_64", "cpus": 2, "memory": "1G"},
 "kernel": {"transparent_hugepage/enabled": "never"},
 "ops": [
  {"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "len": "8K", "prot": "rw", "flags": ["private", "anonymous", "fixed"]},
  {"op": "access", "pid": 1, "addr": "0x7f0000000000", "len": "8K", "kind": "write"},
  {"op": "fork", "pid": 1, "child": 2},
  {"op": "expect", "pid": 2, "addr": "0x7f0000000000", "len": "8K", "mapped": "pte", "mapped_shared": true, "writable": false},
  {"op": "access", "pid": 1, "addr": "0x7f0000000000", "len": "4K", "kind": "write"},
  {"op": "expect", "pid": 1, "addr": "0x7f0000000000", "len": "4K", "mapped_shared": false, "writable": true},
  {"op": "expect", "vmstat": {"pgfault": 3}}]})";
const char* uffd_wp_unpopulated =
    R"({"format": "mmsim-trace", "version": 1, "name": "uffd-wp-unpopulated",
 "description": "write-protect an empty range with UFFD_FEATURE_WP_UNPOPULATED",
 "machine": {"arch": "x86_64", "cpus": 2, "memory": "1G"},
 "kernel": {"transparent_hugepage/enabled": "madvise"},
 "ops": [
  {"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "len": "2M", "prot": "rw", "flags": ["private", "anonymous", "fixed"]},
  {"op": "uffd_open", "pid": 1, "uffd": "u", "features": ["wp_unpopulated"]},
  {"op": "uffd_register", "uffd": "u", "addr": "0x7f0000000000", "len": "2M", "mode": ["wp"],
   "resolve": {"action": "wp_clear", "latency": "10us"}},
  {"op": "uffdio_writeprotect", "uffd": "u", "addr": "0x7f0000000000", "len": "2M", "wp": true},
  {"op": "expect", "pid": 1, "addr": "0x7f0000000000", "len": "2M", "mapped": "none", "uffd_wp": true, "rss": 0}]})";
const char* atomic_rmw_arm64 =
    R"({"format": "mmsim-trace", "version": 1, "name": "atomic-rmw-arm64",
 "description": "an atomic add first touching fresh THP-eligible memory on arm64",
 "machine": {"arch": "arm64", "granule": "4K", "va_bits": 48, "cpus": 4, "memory": "8G", "cpu_model": "neoverse-n1"},
 "kernel": {"transparent_hugepage/enabled": "madvise", "mm/huge_zero_wp": "allocate", "mm/arm64_atomic_write_fault": false},
 "ops": [
  {"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "len": "4M", "prot": "rw", "flags": ["private", "anonymous", "fixed"]},
  {"op": "madvise", "pid": 1, "addr": "0x7f0000000000", "len": "4M", "advice": "hugepage"},
  {"op": "access", "pid": 1, "addr": "0x7f0000000000", "len": "4M", "stride": "2M", "kind": "atomic"},
  {"op": "expect", "pid": 1, "addr": "0x7f0000000000", "len": "4M", "mapped": "pmd", "thp": true, "anon_huge": "4M",
   "vmstat": {"pgfault": 4, "thp_fault_alloc": 2}}]})";

}  // namespace

TEST_CASE("format and version are checked before anything else", "[trace][top]") {
  REQUIRE_THROWS_WITH(parse_trace(R"({"format": "mmsim", "version": 1, "ops": []})", "a.json"),
                      Contains("a.json: format:") && Contains("mmsim-trace"));
  REQUIRE_THROWS_WITH(parse_trace(R"({"version": 1, "ops": []})", "a.json"),
                      Contains("a.json: format: missing"));
  REQUIRE_THROWS_WITH(
      parse_trace(R"({"format": "mmsim-trace", "version": 2, "newthing": 1})", "a.json"),
      Contains("a.json: version: 2 is not supported"));
  REQUIRE_THROWS_WITH(parse_trace(R"({"format": "mmsim-trace", "ops": []})", "a.json"),
                      Contains("version: missing"));
  REQUIRE_THROWS_WITH(parse_trace(R"([1, 2])", "a.json"),
                      Contains("a.json: the top level is [1,2]"));
}

TEST_CASE("unknown top-level keys are errors, x- keys are annotations", "[trace][top]") {
  REQUIRE_THROWS_WITH(with_top(R"("nmae": "t", "ops": [])"),
                      Contains("t.json: unknown field 'nmae'"));
  REQUIRE_THROWS_WITH(with_top(R"("name": "t")"), Contains("t.json: missing field 'ops'"));
  REQUIRE_THROWS_WITH(with_top(R"("ops": {})"), Contains("ops: {} is not an array"));
  REQUIRE_THROWS_WITH(with_top(R"("name": 3, "ops": [])"), Contains("name: 3 is not a string"));
  REQUIRE_THROWS_WITH(with_top(R"("seed": -1, "ops": [])"),
                      Contains("seed: -1 is not an unsigned integer"));
  auto t = with_top(
      R"("x-generator": {"any": ["thing"]}, "name": "n", "description": "d", "seed": 42, "ops": [])");
  CHECK(t.name == "n");
  CHECK(t.description == "d");
  CHECK(t.seed == 42u);
}

TEST_CASE("defaults are filled in when fields are absent", "[trace][defaults]") {
  auto t = with_top(R"("ops": [{"op": "access", "addr": "0x7f0000000000", "len": "8K"}])");
  CHECK(t.seed == 1u);
  CHECK(t.machine.arch == "x86_64");
  CHECK(t.machine.va_bits == 48u);
  CHECK(t.machine.cpus == 2u);
  CHECK(t.machine.memory == 1ull << 30);
  CHECK(t.machine.cpu_model.empty());
  CHECK(t.kernel.empty());
  const auto& o = t.ops.at(0);
  CHECK(o.index == 0u);
  CHECK(o.pid == 1);
  CHECK_FALSE(o.cpu);
  CHECK_FALSE(o.expect_errno);
  CHECK_FALSE(o.expect_signal);
  const auto& a = std::get<sim::trace::access_op>(o.body);
  CHECK(a.stride == 4096u);
  CHECK(a.kind == arch::access_kind::read);
  CHECK(a.count == 0u);
  CHECK(a.pattern == sim::trace::access_pattern::seq);
  CHECK(a.repeat == 1u);
}

TEST_CASE("read_trace_file reads a file and names it in errors", "[trace][file]") {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / "mmsim_test_trace_reader.json").string();
  { std::ofstream(path) << fork_cow_small; }
  CHECK(sim::trace::read_trace_file(path).ops.size() == 7u);
  {
    std::ofstream(path)
        << "{\"format\": \"mmsim-trace\", \"version\": 1, \"ops\": [{\"op\": \"nop\"}]}";
  }
  REQUIRE_THROWS_WITH(sim::trace::read_trace_file(path),
                      Contains(path + ": ops[0].op: unknown op 'nop'"));
  std::filesystem::remove(path);
  REQUIRE_THROWS_WITH(sim::trace::read_trace_file(path), Contains(path + ": cannot open"));
  REQUIRE_THROWS_WITH(sim::trace::read_trace_file(dir.string()), Contains("is a directory"));
}

TEST_CASE("machine fields are validated", "[trace][machine]") {
  REQUIRE_THROWS_WITH(with_machine(R"({"arch": "x86_64", "cpu": 2})"),
                      Contains("t.json: machine: unknown field 'cpu'"));
  REQUIRE_THROWS_WITH(with_machine(R"({"arch": "riscv64"})"),
                      Contains("machine.arch: unknown arch 'riscv64'"));
  REQUIRE_THROWS_WITH(with_machine(R"({"arch": "x86_64", "granule": "4K"})"),
                      Contains("machine.granule: only arm64 has a granule"));
  REQUIRE_THROWS_WITH(with_machine(R"({"va_bits": 39})"),
                      Contains("machine.va_bits: 39 is not valid for x86_64"));
  REQUIRE_THROWS_WITH(with_machine(R"({"cpus": 0})"), Contains("machine.cpus: 0 is out of range"));
  REQUIRE_THROWS_WITH(with_machine(R"({"cpus": 65})"),
                      Contains("machine.cpus: 65 is out of range"));
  REQUIRE_THROWS_WITH(with_machine(R"({"memory": "8M"})"),
                      Contains("machine.memory") && Contains("from 16M to 1T"));
  REQUIRE_THROWS_WITH(with_machine(R"({"memory": "2T"})"), Contains("machine.memory"));
  REQUIRE_THROWS_WITH(with_machine(R"({"memory": 16777217})"),
                      Contains("machine.memory") && Contains("multiple of 4K"));
  REQUIRE_THROWS_WITH(with_machine(R"({"cpu_model": 7})"),
                      Contains("machine.cpu_model: 7 is not a string"));
  auto t = with_machine(R"({"arch": "x86_64", "va_bits": 57, "cpus": 64, "memory": "1T",
                            "cpu_model": "whatever", "x-note": "profiles are checked later"})");
  CHECK(t.machine.va_bits == 57u);
  CHECK(t.machine.cpus == 64u);
  CHECK(t.machine.memory == 1ull << 40);
  CHECK(t.machine.cpu_model == "whatever");
}

TEST_CASE("arm64 is validated in full, then refused for now", "[trace][machine][arm64]") {
  REQUIRE_THROWS_WITH(with_machine(R"({"arch": "arm64", "granule": "16K", "va_bits": 39})"),
                      Contains("machine.va_bits: 39 is not valid for arm64 with a 16K granule"));
  REQUIRE_THROWS_WITH(with_machine(R"({"arch": "arm64", "granule": "64K", "va_bits": 47})"),
                      Contains("machine.va_bits: 47"));
  REQUIRE_THROWS_WITH(with_machine(R"({"arch": "arm64", "granule": "8K"})"),
                      Contains("machine.granule: unknown granule '8K'"));
  for (const char* ok :
       {R"({"arch": "arm64"})", R"({"arch": "arm64", "granule": "64K", "va_bits": 42})",
        R"({"arch": "arm64", "granule": "16K", "va_bits": 47})"})
    REQUIRE_THROWS_WITH(with_machine(ok),
                        Contains("t.json: machine.arch: arm64 is not supported yet"));
}

TEST_CASE("kernel knobs are validated against the knob table and kept in order",
          "[trace][kernel]") {
  auto t = with_kernel(
      R"({"x86/tlb_single_page_flush_ceiling": 40, "transparent_hugepage/enabled": "never",
                           "x-why": "annotation", "transparent_hugepage/use_zero_page": false})");
  REQUIRE(t.kernel.size() == 3u);
  CHECK(t.kernel[0] ==
        std::pair<std::string, std::string>{"x86/tlb_single_page_flush_ceiling", "40"});
  CHECK(t.kernel[1] ==
        std::pair<std::string, std::string>{"transparent_hugepage/enabled", "never"});
  CHECK(t.kernel[2] ==
        std::pair<std::string, std::string>{"transparent_hugepage/use_zero_page", "0"});
  CHECK(with_kernel(R"({"transparent_hugepage/use_zero_page": true})").kernel[0].second == "1");
  REQUIRE_THROWS_WITH(with_kernel(R"({"transparent_hugepage/enabeld": "never"})"),
                      Contains("t.json: kernel.transparent_hugepage/enabeld: unknown kernel knob"));
  REQUIRE_THROWS_WITH(with_kernel(R"({"transparent_hugepage/enabled": "sometimes"})"),
                      Contains("kernel.transparent_hugepage/enabled: 'sometimes': expected"));
  REQUIRE_THROWS_WITH(with_kernel(R"({"transparent_hugepage/use_zero_page": -1})"),
                      Contains("kernel.transparent_hugepage/use_zero_page:") && Contains("'-1'"));
  REQUIRE_THROWS_WITH(with_kernel(R"({"transparent_hugepage/use_zero_page": 1.0})"),
                      Contains("is not a string, integer or bool"));
  REQUIRE_THROWS_WITH(with_kernel(R"(["transparent_hugepage/enabled"])"),
                      Contains("kernel: ") && Contains("is not an object"));
}

TEST_CASE("knobs the format promises but the simulator lacks are 'not supported yet'",
          "[trace][kernel]") {
  for (const char* k :
       {"hugepages-2048kB/nr_hugepages", "mm/arm64_atomic_write_fault", "mm/hgm_collapse",
        "vm/overcommit_memory"})
    REQUIRE_THROWS_WITH(with_kernel(std::string(R"({")") + k + R"(": 0})"),
                        Contains(std::string("kernel.") + k + ": not supported yet"));
}

TEST_CASE("unknown and not-yet-supported ops name their index", "[trace][ops]") {
  REQUIRE_THROWS_WITH(with_ops(map16k + R"(, {"op": "mmapp"})"),
                      Contains("t.json: ops[1].op: unknown op 'mmapp'"));
  REQUIRE_THROWS_WITH(with_ops(map16k + R"(, {"pid": 1})"), Contains("ops[1]: missing field 'op'"));
  REQUIRE_THROWS_WITH(with_ops(map16k + R"(, 7)"), Contains("ops[1]: 7 is not an object"));
  for (const char* op :
       {"memfd_create", "mremap", "uffd_open", "uffd_register", "uffdio_copy",
        "uffdio_zeropage", "uffdio_continue", "uffdio_writeprotect", "uffdio_poison"})
    REQUIRE_THROWS_WITH(with_ops(std::string(R"({"op": ")") + op + R"("})"),
                        Contains(std::string("ops[0].op: '") + op + "' is not supported yet"));
}

TEST_CASE("unknown fields in an op are errors; x- fields are not", "[trace][ops]") {
  REQUIRE_THROWS_WITH(
      with_ops(map16k + R"(,{"op": "access", "addr": "0x7f0000000000", "lenght": "4K"})"),
      Contains("t.json: ops[1]: unknown field 'lenght' for op 'access'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "mark", "label": "a", "pid": 1})"),
                      Contains("ops[0]: unknown field 'pid' for op 'mark'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "cpu": 0, "nr_folios": 0})"),
                      Contains("ops[0]: unknown field 'cpu' for op 'expect'"));
  auto t = with_ops(
      map16k +
      R"(,{"op": "access", "addr": "0x7f0000000000", "len": "4K", "x-comment": "warm up"})");
  CHECK(t.ops.size() == 2u);
}

TEST_CASE("expect_errno and expect_signal take Linux names, on ops that can produce them",
          "[trace][ops]") {
  auto t = with_ops(map16k + R"(,{"op": "mmap", "addr": "0x7f0000000000", "len": "4K", "prot": "r",
      "flags": ["private", "anonymous", "fixed"], "expect_errno": "EEXIST"},
    {"op": "access", "addr": "0x7f0000000000", "len": "4K", "expect_signal": "SIGSEGV"},
    {"op": "access", "addr": "0x7f0000000000", "len": "4K", "expect_signal": "SIGBUS"})");
  CHECK(t.ops[1].expect_errno == 17);
  CHECK(t.ops[2].expect_signal == 11);
  CHECK(t.ops[3].expect_signal == 7);
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "munmap", "addr": 0, "len": 0, "expect_errno": "EFOO"})"),
                      Contains("ops[0].expect_errno: unknown errno 'EFOO'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "munmap", "addr": 0, "len": 0, "expect_errno": 22})"),
                      Contains("ops[0].expect_errno: 22 is not a string"));
  REQUIRE_THROWS_WITH(
      with_ops(R"({"op": "access", "addr": 0, "len": 1, "expect_signal": "SIGKILL"})"),
      Contains("ops[0].expect_signal: unknown signal 'SIGKILL'"));
  REQUIRE_THROWS_WITH(
      with_ops(R"({"op": "access", "addr": 0, "len": 1, "expect_errno": "EFAULT"})"),
      Contains("ops[0].expect_errno: op 'access' cannot fail with an errno"));
  REQUIRE_THROWS_WITH(
      with_ops(R"({"op": "munmap", "addr": 0, "len": 0, "expect_signal": "SIGSEGV"})"),
      Contains("ops[0].expect_signal: only an access can raise a signal"));
}

TEST_CASE("mmap: only fixed private anonymous mappings for now", "[trace][mmap]") {
  const std::string m = R"({"op": "mmap", "addr": "0x7f0000000000", "len": "4K", "prot": "rw", )";
  auto t = with_ops(m + R"("flags": ["private", "anonymous", "fixed", "populate"]})");
  const auto& op = body<sim::trace::mmap_op>(t, 0);
  CHECK(op.prot == (sim::trace::PROT_READ | sim::trace::PROT_WRITE));
  using namespace sim::trace;
  CHECK(op.flags == (MF_PRIVATE | MF_ANONYMOUS | MF_FIXED | MF_POPULATE));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": ["shared", "anonymous", "fixed"]})"),
                      Contains("ops[0].flags: 'shared' is not supported yet"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": ["private", "anonymous", "fixed", "hugetlb"]})"),
                      Contains("ops[0].flags: 'hugetlb' is not supported yet"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": ["private", "anonymous", "fixed", "noreserve"]})"),
                      Contains("ops[0].flags: 'noreserve' is not supported yet"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": ["private", "fixed"]})"),
                      Contains("ops[0].flags: file-backed mappings are not supported yet"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": ["private", "anonymous"]})"),
                      Contains("ops[0].flags: only MAP_FIXED mappings are supported"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": ["private", "anon", "fixed"]})"),
                      Contains("ops[0].flags[1]: unknown flag 'anon'"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": ["private", "private", "anonymous", "fixed"]})"),
                      Contains("ops[0].flags[1]: \"private\" is listed twice"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": "private"})"),
                      Contains("ops[0].flags: \"private\" is not an array"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("flags": ["private", "anonymous", "fixed"], "memfd": "m"})"),
                      Contains("ops[0].memfd:") && Contains("not supported yet"));
  REQUIRE_THROWS_WITH(
      with_ops(m + R"("flags": ["private", "anonymous", "fixed"], "hugetlb_size": "2M"})"),
      Contains("ops[0].hugetlb_size:") && Contains("not supported yet"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "mmap", "addr": 0, "prot": "rw", "flags": []})"),
                      Contains("ops[0]: missing field 'len'"));
}

TEST_CASE("THP knobs and khugepaged/prctl ops parse; their values are validated", "[trace][thp]") {
  auto t = with_kernel(R"({"transparent_hugepage/khugepaged/max_ptes_none": 0, "mm/huge_zero_wp": "split",
                           "transparent_hugepage/hugepages-64kB/enabled": "always"})");
  REQUIRE(t.kernel.size() == 3);
  REQUIRE_THROWS_WITH(with_kernel(R"({"transparent_hugepage/khugepaged/max_ptes_none": 512})"),
                      Contains("max_ptes_none") && Contains("out of range"));
  auto k = with_ops(R"({"op": "khugepaged", "scans": 3}, {"op": "prctl", "option": "thp_disable", "value": 1})");
  CHECK(body<sim::trace::khugepaged_op>(k, 0).scans == 3);
  CHECK(body<sim::trace::prctl_op>(k, 1).value == 1);
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "khugepaged"})"), Contains("exactly one of 'scans' and 'pages'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "khugepaged", "scans": 1, "pages": 4})"),
                      Contains("exactly one of 'scans' and 'pages'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "prctl", "option": "thp_enable", "value": 1})"),
                      Contains("ops[0].option"));
}

TEST_CASE("madvise: supported advice parses; free and HGM split wait for their issues",
          "[trace][madvise]") {
  const std::string m = R"({"op": "madvise", "addr": "0x7f0000000000", "len": "4K", "advice": )";
  auto t = with_ops(m + R"("populate_write"})");
  CHECK(body<sim::trace::madvise_op>(t, 0).advice == sim::trace::madvise_advice::populate_write);
  auto c = with_ops(m + R"("collapse"})");
  CHECK(body<sim::trace::madvise_op>(c, 0).advice == sim::trace::madvise_advice::collapse);
  for (const char* a : {"free", "split"})
    REQUIRE_THROWS_WITH(with_ops(m + "\"" + a + "\"}"),
                        Contains(std::string("ops[0].advice: '") + a + "' is not supported yet"));
  REQUIRE_THROWS_WITH(with_ops(m + R"("dont_need"})"),
                      Contains("ops[0].advice: unknown advice 'dont_need'"));
}

TEST_CASE("access: every field parses; empty and wrapping ranges are errors", "[trace][access]") {
  auto t = with_ops(
      R"({"op": "access", "addr": "0x7f0000000000", "len": "2M", "stride": "64K", "kind": "atomic",
                        "count": 10, "pattern": "random", "repeat": 3, "cpu": 1})");
  const auto& a = body<sim::trace::access_op>(t, 0);
  CHECK(a.len == 2u << 20);
  CHECK(a.stride == 64u << 10);
  CHECK(a.kind == arch::access_kind::atomic);
  CHECK(a.count == 10u);
  CHECK(a.pattern == sim::trace::access_pattern::random);
  CHECK(a.repeat == 3u);
  CHECK(t.ops[0].cpu == 1u);
  const std::string acc = R"({"op": "access", "addr": "0x7f0000000000", )";
  REQUIRE_THROWS_WITH(with_ops(acc + R"("len": 0})"), Contains("ops[0].len: must be > 0"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "access", "addr": "0xfffffffffffff000", "len": "8K"})"),
                      Contains("ops[0].len: addr + len is beyond the 64-bit address space"));
  REQUIRE_THROWS_WITH(with_ops(acc + R"("len": "4K", "stride": 0})"),
                      Contains("ops[0].stride: must be > 0"));
  REQUIRE_THROWS_WITH(with_ops(acc + R"("len": "4K", "count": 0})"),
                      Contains("ops[0].count: 0 is out of range"));
  REQUIRE_THROWS_WITH(with_ops(acc + R"("len": "4K", "repeat": 0})"),
                      Contains("ops[0].repeat: 0 is out of range"));
  REQUIRE_THROWS_WITH(with_ops(acc + R"("len": "4K", "kind": "rmw"})"),
                      Contains("ops[0].kind: unknown kind 'rmw'"));
  REQUIRE_THROWS_WITH(with_ops(acc + R"("len": "4K", "pattern": "stride"})"),
                      Contains("ops[0].pattern: unknown pattern 'stride'"));
  REQUIRE_THROWS_WITH(with_ops(acc + R"("len": "4K", "cpu": 2})"),
                      Contains("ops[0].cpu: 2 is out of range (machine.cpus is 2)"));
  // Alignment is the simulated kernel's business (Linux answers it), not the reader's.
  CHECK_NOTHROW(with_ops(R"({"op": "munmap", "addr": "0x7f0000000800", "len": "0x10"})"));
}

TEST_CASE("pids are tracked through fork and exit in trace order", "[trace][pid]") {
  auto t = with_ops(map16k + R"(,{"op": "fork", "child": 2}, {"op": "exit", "pid": 2},
      {"op": "fork", "pid": 1, "child": 2}, {"op": "access", "pid": 2, "addr": "0x7f0000000000", "len": "4K"},
      {"op": "exit", "pid": 1}, {"op": "expect", "vmstat": {"pgfault": 1}}, {"op": "mark", "label": "end"})");
  CHECK(body<sim::trace::fork_op>(t, 1).child == 2);
  CHECK(t.ops[4].pid == 2);
  REQUIRE_THROWS_WITH(
      with_ops(R"({"op": "fork", "child": 2}, {"op": "fork", "pid": 1, "child": 2})"),
      Contains("t.json: ops[1].child: pid 2 already exists"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "fork", "child": 1})"),
                      Contains("ops[0].child: pid 1 already exists"));
  REQUIRE_THROWS_WITH(with_ops(map16k + R"(,{"op": "access", "pid": 3, "addr": 0, "len": 1})"),
                      Contains("ops[1].pid: no process 3 at this point"));
  REQUIRE_THROWS_WITH(
      with_ops(R"({"op": "fork", "child": 2}, {"op": "exit", "pid": 2}, {"op": "exit", "pid": 2})"),
      Contains("ops[2].pid: no process 2 at this point"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "exit"}, {"op": "munmap", "addr": 0, "len": 0})"),
                      Contains("ops[1].pid: no process 1 at this point"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "exit", "pid": 0})"),
                      Contains("ops[0].pid: 0 is out of range"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "fork"})"), Contains("ops[0]: missing field 'child'"));
}

TEST_CASE("expect: per-address checks need addr, len defaults to one page", "[trace][expect]") {
  auto t = with_ops(map16k +
                    R"(,{"op": "expect", "addr": "0x7f0000000000", "mapped": "pte", "thp": false,
      "folio_order": 0, "zero_page": false, "writable": true, "uffd_wp": false, "mapped_shared": false,
      "mapcount": {"folio": 1, "page": 1, "entire": 0}, "rss": "4K", "pss": 4096, "anon_huge": 0})");
  const auto& e = body<sim::trace::expect_op>(t, 1);
  CHECK(e.addr == 0x7f0000000000u);
  CHECK(e.len == 4096u);
  CHECK(e.mapped == sim::trace::mapped_level::pte);
  CHECK(e.writable == true);
  CHECK(e.mapcount_folio == 1);
  CHECK(e.mapcount_entire == 0);
  CHECK(e.rss == 4096u);
  CHECK(e.anon_huge == 0u);
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "rss": "4K"})"),
                      Contains("ops[0].rss: needs an addr"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "len": "4K", "nr_folios": 0})"),
                      Contains("ops[0].len: needs an addr"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "addr": 0})"),
                      Contains("ops[0].addr: nothing to check"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect"})"), Contains("ops[0]: expect checks nothing"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "addr": 0, "mapped": "contpte"})"),
                      Contains("ops[0].mapped: \"contpte\" exists only on arm64"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "addr": 0, "mapped": "huge"})"),
                      Contains("ops[0].mapped: unknown mapping level 'huge'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "addr": 0, "mapcount": {"folios": 1}})"),
                      Contains("ops[0].mapcount: unknown field 'folios'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "addr": 0, "thp": "yes"})"),
                      Contains("ops[0].thp: \"yes\" is not true or false"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "pid": 2, "addr": 0, "thp": true})"),
                      Contains("ops[0].pid: no process 2 at this point"));
}

TEST_CASE("expect: vmstat names are checked and kept in trace order", "[trace][expect]") {
  auto t = with_ops(
      R"({"op": "expect", "vmstat": {"pgfault": 2, "nr_anon_pages": -1, "pgalloc_normal": 0},
                        "free_hugepages": 0, "nr_folios": 3})");
  const auto& e = body<sim::trace::expect_op>(t, 0);
  REQUIRE(e.vmstat.size() == 3u);
  CHECK(e.vmstat[0] == std::pair<std::string, std::int64_t>{"pgfault", 2});
  CHECK(e.vmstat[1] == std::pair<std::string, std::int64_t>{"nr_anon_pages", -1});
  CHECK(e.vmstat[2].first == "pgalloc_normal");
  CHECK(e.nr_folios == 3);
  REQUIRE_THROWS_WITH(
      with_ops(R"({"op": "expect", "vmstat": {"pgfaults": 1}})"),
      Contains("t.json: ops[0].vmstat.pgfaults: unknown vmstat counter 'pgfaults'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "vmstat": {"pgfault": "1"}})"),
                      Contains("ops[0].vmstat.pgfault: \"1\" is not a 64-bit integer"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "nr_folios": -1})"),
                      Contains("ops[0].nr_folios: -1"));
}

TEST_CASE("expect: since must name an earlier mark", "[trace][expect]") {
  auto t = with_ops(
      R"({"op": "mark", "label": "a"}, {"op": "expect", "vmstat": {"pgfault": 0}, "since": "a"})");
  CHECK(body<sim::trace::expect_op>(t, 1).since == "a");
  CHECK(body<sim::trace::mark_op>(t, 0).label == "a");
  REQUIRE_THROWS_WITH(
      with_ops(
          R"({"op": "expect", "vmstat": {"pgfault": 0}, "since": "a"}, {"op": "mark", "label": "a"})"),
      Contains("t.json: ops[0].since: no mark 'a' before this op"));
  REQUIRE_THROWS_WITH(
      with_ops(R"({"op": "mark", "label": "a"}, {"op": "expect", "nr_folios": 0, "since": "a"})"),
      Contains("ops[1].since: only vmstat counts from a mark"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "mark", "label": ""})"),
                      Contains("ops[0].label: must not be empty"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "mark"})"), Contains("ops[0]: missing field 'label'"));
}

TEST_CASE("shared example fork-cow-small parses with every value", "[trace][examples]") {
  const auto t = parse_trace(fork_cow_small, "fork-cow-small.json");
  CHECK(t.name == "fork-cow-small");
  CHECK(t.machine.memory == 1ull << 30);
  REQUIRE(t.kernel.size() == 1u);
  CHECK(t.kernel[0].second == "never");
  REQUIRE(t.ops.size() == 7u);
  CHECK(body<sim::trace::mmap_op>(t, 0).len == 8192u);
  CHECK(body<sim::trace::access_op>(t, 1).kind == arch::access_kind::write);
  CHECK(body<sim::trace::fork_op>(t, 2).child == 2);
  CHECK(t.ops[3].pid == 2);
  CHECK(body<sim::trace::expect_op>(t, 3).mapped_shared == true);
  CHECK(body<sim::trace::expect_op>(t, 5).len == 4096u);
  CHECK(body<sim::trace::expect_op>(t, 6).vmstat.at(0).second == 3);
  for (std::size_t i = 0; i < t.ops.size(); ++i) CHECK(t.ops[i].index == i);
}

TEST_CASE("shared examples that need later issues fail naming the place", "[trace][examples]") {
  REQUIRE_THROWS_WITH(parse_trace(uffd_wp_unpopulated, "u.json"),
                      Contains("u.json: ops[1].op: 'uffd_open' is not supported yet"));
  REQUIRE_THROWS_WITH(parse_trace(atomic_rmw_arm64, "a.json"),
                      Contains("a.json: machine.arch: arm64 is not supported yet"));
}
