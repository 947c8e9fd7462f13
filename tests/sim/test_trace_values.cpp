// Trace values: sizes, the JSON syntax layer (line/column, duplicate keys) and enumerated
// values. A bad value is reported with the file, the place and the value as written.
#include <catch2/catch.hpp>

#include "sim/trace/reader.hpp"

using namespace mmsim;
using Catch::Contains;
using sim::trace::parse_size;
using sim::trace::parse_trace;

namespace {

const std::string head = R"({"format": "mmsim-trace", "version": 1, "name": "t",
  "machine": {"arch": "x86_64", "cpus": 2, "memory": "64M"}, )";
const std::string map16k = R"({"op": "mmap", "addr": "0x7f0000000000", "len": "16K", "prot": "rw",
  "flags": ["private", "anonymous", "fixed"]})";

sim::trace::trace with_ops(const std::string& ops) {
  return parse_trace(head + R"("ops": [)" + ops + "]}", "t.json");
}
sim::trace::trace with_top(const std::string& fields) {
  return parse_trace(R"({"format": "mmsim-trace", "version": 1, )" + fields + "}", "t.json");
}
template <class T>
const T& body(const sim::trace::trace& t, std::size_t i) {
  return std::get<T>(t.ops.at(i).body);
}

}  // namespace

TEST_CASE("parse_size reads decimal, 0x hex and binary K/M/G/T suffixes", "[trace][size]") {
  CHECK(parse_size("4096") == 4096u);
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("0x7f0000000000") == 0x7f0000000000u);
  CHECK(parse_size("0xFFFFFFFFFFFFFFFF") == UINT64_MAX);
  CHECK(parse_size("16K") == 16384u);
  CHECK(parse_size("2M") == 2u << 20);
  CHECK(parse_size("1G") == 1u << 30);
  CHECK(parse_size("3T") == 3ull << 40);
  CHECK(parse_size("16777215T") == 16777215ull << 40);
}

TEST_CASE("parse_size rejects lowercase suffixes, junk and overflow", "[trace][size]") {
  for (const char* bad : {"4k", "2m", "", "0x", "0X10", "-1", "+1", " 1", "1 ", "1.5M", "2MB",
                          "0x10K", "K", "1e3", "ten", "0x-1"})
    CHECK_FALSE(parse_size(bad));
  CHECK_FALSE(parse_size("18446744073709551616"));
  CHECK_FALSE(parse_size("0x10000000000000000"));
  CHECK_FALSE(parse_size("16777216T"));
  CHECK_FALSE(parse_size("17179869184G"));
  CHECK_FALSE(parse_size("99999999999999999999x"));
}

TEST_CASE("a bad size names the file, op index and field", "[trace][size]") {
  const std::string acc = R"(,{"op": "access", "addr": "0x7f0000000000", "len": "4K", "stride": )";
  REQUIRE_THROWS_WITH(with_ops(map16k + acc + R"("4k"})"),
                      Contains(R"(t.json: ops[1].stride: "4k" is not a size)"));
  REQUIRE_THROWS_WITH(with_ops(map16k + acc + "-4096}"),
                      Contains("ops[1].stride: -4096 is not a size"));
  REQUIRE_THROWS_WITH(with_ops(map16k + acc + "1.5}"),
                      Contains("ops[1].stride: 1.5 is not a size"));
  REQUIRE_THROWS_WITH(with_ops(map16k + acc + "true}"),
                      Contains("ops[1].stride: true is not a size"));
  REQUIRE_THROWS_WITH(with_ops(map16k + acc + R"("99999999999T"})"),
                      Contains("ops[1].stride") && Contains("too large"));
  REQUIRE_THROWS_WITH(with_ops(map16k + acc + "18446744073709551616}"),
                      Contains("ops[1].stride") && Contains("is not a size"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "munmap", "addr": "0x7f0000000000", "len": "16 K"})"),
                      Contains(R"(ops[0].len: "16 K" is not a size)"));
}

TEST_CASE("sizes accept JSON integers and every string form", "[trace][size]") {
  auto t = with_ops(R"({"op": "munmap", "addr": 139637976727552, "len": 8192},
                       {"op": "munmap", "addr": "0x7f0000000000", "len": "8192"})");
  CHECK(body<sim::trace::munmap_op>(t, 0).addr == 0x7f0000000000u);
  CHECK(body<sim::trace::munmap_op>(t, 0).len == 8192u);
  CHECK(body<sim::trace::munmap_op>(t, 1).len == 8192u);
}

TEST_CASE("invalid JSON is reported with the file, line and column", "[trace][json]") {
  REQUIRE_THROWS_WITH(
      parse_trace("{\"format\": \"mmsim-trace\",\n  \"version\": 1,\n  \"ops\": [,]}", "bad.json"),
      Contains("bad.json: invalid JSON") && Contains("line 3, column"));
  REQUIRE_THROWS_WITH(parse_trace("", "empty.json"), Contains("empty.json: invalid JSON"));
}

TEST_CASE("a duplicate key is an error naming where it is", "[trace][json]") {
  REQUIRE_THROWS_WITH(with_ops(map16k + R"(, {"op": "access", "addr": "0x7f0000000000", "len": "4K",
                                 "kind": "write", "kind": "read"})"),
                      Contains("t.json: ops[1]: duplicate field 'kind'"));
  REQUIRE_THROWS_WITH(with_top(R"("seed": 1, "seed": 2, "ops": [])"),
                      Contains("top level: duplicate field 'seed'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "expect", "vmstat": {"pgfault": 1, "pgfault": 2}})"),
                      Contains("ops[0].vmstat: duplicate field 'pgfault'"));
  REQUIRE_THROWS_WITH(with_ops(map16k + R"(, {"op": "mmap", "flags": [{"a": 1, "a": 2}]})"),
                      Contains("ops[1].flags[0]: duplicate field 'a'"));
  // What an annotation holds is the author's business.
  CHECK_NOTHROW(with_top(R"("x-meta": {"k": [{"a": 1, "a": 2}]}, "ops": [])"));
}

TEST_CASE("prot is one of none, r, rw, rx, rwx", "[trace][mmap]") {
  auto t =
      with_ops(map16k + R"(,{"op": "mprotect", "addr": "0x7f0000000000", "len": "4K", "prot": "rx"},
                                  {"op": "mprotect", "addr": "0x7f0000000000", "len": "4K", "prot": "none"})");
  CHECK(body<sim::trace::mprotect_op>(t, 1).prot ==
        (sim::trace::PROT_READ | sim::trace::PROT_EXEC));
  CHECK(body<sim::trace::mprotect_op>(t, 2).prot == sim::trace::PROT_NONE);
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "mprotect", "addr": 0, "len": 0, "prot": "w"})"),
                      Contains("ops[0].prot: unknown protection 'w'"));
  REQUIRE_THROWS_WITH(with_ops(R"({"op": "mprotect", "addr": 0, "len": 0, "prot": "RW"})"),
                      Contains("ops[0].prot: unknown protection 'RW'"));
}
