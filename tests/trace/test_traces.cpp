// Replays every checked-in trace with invariants and the data-integrity reference on, and
// requires every expectation to pass.
#include <catch2/catch.hpp>
#include <filesystem>

#include "sim/replay.hpp"
#include "sim/trace/reader.hpp"

using namespace mmsim;

namespace {
std::vector<std::string> all_traces() {
  std::vector<std::string> v;
  for (auto& e : std::filesystem::recursive_directory_iterator(MMSIM_TRACE_DIR))
    if (e.is_regular_file() && e.path().extension() == ".json") v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  return v;
}
}  // namespace

TEST_CASE("every checked-in trace replays with all expectations passing", "[traces]") {
  const auto traces = all_traces();
  REQUIRE(traces.size() >= 6);
  for (const auto& path : traces) {
    DYNAMIC_SECTION(path) {
      const auto t = sim::trace::read_trace_file(path);
      sim::replay_options opt;
      opt.check_invariants = true;
      const auto res = sim::replay_trace(t, opt);
      for (auto& v : res.violations) FAIL_CHECK("ops[" << v.op << "] " << v.what << ": " << v.detail);
      for (auto& e : res.expectations)
        if (!e.pass) FAIL_CHECK("ops[" << e.op << "] " << e.field << ": expected " << e.expected << ", got " << e.actual);
      CHECK(res.violations.empty());
      CHECK(res.failed_expectations() == 0);
      CHECK(res.ops_run == t.ops.size());
      CHECK(!res.expectations.empty());
    }
  }
}
