// The real-kernel oracle (tools/kreplay). For every x86_64 trace in traces/:
//  (a) the trace's own expectations must hold on the host kernel: a checked-in expectation
//      must never encode a belief Linux contradicts;
//  (b) mmsim and the kernel must agree on every field both observe, except the explained
//      entries of tools/kreplay/known-differences.json.
// Traces the host cannot run (not root, no kpageflags, a global knob that differs, ...) are
// skipped with kreplay's exact reason, printed as a warning, and counted, so CI shows how many
// traces were really checked against the kernel. Noisy fields (global /proc/vmstat counters
// that other processes move) get up to four more runs; one that never matches is a warning
// with the kernel's values, not a failure, because no host can isolate it.
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "sim/compare.hpp"
#include "sim/replay.hpp"
#include "sim/report/report.hpp"
#include "sim/trace/reader.hpp"

using namespace mmsim;
using nlohmann::json;

namespace {

std::vector<std::string> x86_traces() {
  std::vector<std::string> v;
  for (auto& e : std::filesystem::recursive_directory_iterator(MMSIM_TRACE_DIR))
    if (e.is_regular_file() && e.path().extension() == ".json") v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  std::vector<std::string> out;
  for (auto& p : v) {
    try {
      if (sim::trace::read_trace_file(p).machine.arch == "x86_64") out.push_back(p);
    } catch (const sim::trace::trace_error&) {
      // Not this test's business: tests/trace/test_traces.cpp rejects unreadable traces.
    }
  }
  return out;
}

// Runs kreplay on one trace; the report, or a JSON object with "run_error" if kreplay itself
// misbehaved (crash, timeout, no report).
json kreplay(const std::string& trace) {
  const std::string out = std::filesystem::temp_directory_path() /
                          ("kreplay-test-" + std::to_string(getpid()) + ".json");
  std::filesystem::remove(out);
  const pid_t pid = fork();
  if (pid == 0) {
    execl(KREPLAY_EXE, KREPLAY_EXE, "-q", "--json", out.c_str(), trace.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return json{{"run_error", "kreplay did not finish within 300 s"}};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 2 || WEXITSTATUS(status) == 127)
    return json{{"run_error", "kreplay ended with status " + std::to_string(status)}};
  std::ifstream in(out);
  json j = json::parse(in, nullptr, false);
  std::filesystem::remove(out);
  if (j.is_discarded()) return json{{"run_error", "kreplay wrote no readable report"}};
  return j;
}

// One kreplay run per trace, shared by both test cases.
const json& kernel_report(const std::string& trace) {
  static std::map<std::string, json> cache;
  auto it = cache.find(trace);
  if (it == cache.end()) it = cache.emplace(trace, kreplay(trace)).first;
  return it->second;
}

std::string where(const json& e) {
  return "ops[" + std::to_string(e["op"].get<std::size_t>()) + "] " + e["field"].get<std::string>();
}

struct known_difference {
  std::string trace, field, reason;
  std::size_t op;
};
std::vector<known_difference> known_differences() {
  std::ifstream in(KNOWN_DIFFERENCES);
  const json j = json::parse(in);
  std::vector<known_difference> v;
  for (const json& d : j.at("differences")) {
    known_difference k{d.at("trace"), d.at("field"), d.at("reason"), d.at("op")};
    REQUIRE_FALSE(k.reason.empty());  // every entry explains itself
    v.push_back(std::move(k));
  }
  return v;
}

}  // namespace

TEST_CASE("every x86_64 trace's expectations hold on the real kernel", "[oracle][kernel]") {
  const auto traces = x86_traces();
  REQUIRE(!traces.empty());
  std::size_t checked = 0, skipped = 0;
  // One pass over all traces (no sections: the totals below must count every trace).
  for (const auto& path : traces) {
    {
      const json& r = kernel_report(path);
      if (r.contains("run_error")) {
        FAIL_CHECK(path << ": " << r["run_error"].get<std::string>());
        continue;
      }
      if (r.contains("skipped")) {
        WARN("kreplay skipped " << path << ": " << r["skipped"].get<std::string>());
        ++skipped;
        continue;
      }
      ++checked;
 if (r.contains("failed")) FAIL_CHECK(path << ": the kernel run broke off: " << r["failed"].get<std::string>());
      // Noisy fields that failed: a field passes if any of up to five runs matched.
      std::map<std::string, std::vector<std::string>> noisy;
      for (const json& e : r["expectations"]) {
        if (e["pass"].get<bool>()) continue;
        if (e.value("noisy", false)) {
          noisy[where(e)].push_back(e["actual"].get<std::string>());
          continue;
        }
        FAIL_CHECK(path << ": Linux contradicts the trace: " << where(e) << ": expected " << e["expected"].get<std::string>()
                                                   << ", the kernel has " << e["actual"].get<std::string>());
      }
      for (int retry = 0; retry < 4 && !noisy.empty(); ++retry) {
        const json again = kreplay(path);
        if (!again.contains("expectations")) break;
        std::set<std::string> matched;
        for (const json& e : again["expectations"]) {
          const auto it = noisy.find(where(e));
          if (it == noisy.end()) continue;
          if (e["pass"].get<bool>()) matched.insert(it->first);
          else it->second.push_back(e["actual"].get<std::string>());
        }
        for (auto& m : matched) noisy.erase(m);
      }
      for (auto& [field, values] : noisy) {
        std::string all;
        for (auto& v : values) all += (all.empty() ? "" : ", ") + v;
        WARN(path << ": " << field << " (a global counter) never matched in " << values.size()
                  << " runs; the kernel had " << all);
      }
    }
  }
  WARN("kreplay: " << checked << " trace(s) checked against the real kernel, " << skipped << " skipped");
}

TEST_CASE("mmsim and the real kernel agree on every field both observe", "[oracle][kernel]") {
  const auto known = known_differences();
  std::set<std::size_t> used;
  std::size_t compared = 0, agreed = 0, traces_compared = 0;
  for (const auto& path : x86_traces()) {
    {
      const json& k = kernel_report(path);
      if (k.contains("run_error") || k.contains("skipped")) continue;  // reported by the test above
      const auto t = sim::trace::read_trace_file(path);
      json s;
      try {
        sim::replayer rp(t, {});
        const auto res = rp.run();
        s = sim::report::to_json(rp, res);
      } catch (const sim::config_error& e) {
        WARN("mmsim cannot run " << path << ": " << e.what());
        continue;
      }
      const sim::compare_result c = sim::compare_reports(s, k);
      ++traces_compared;
      compared += c.compared;
      agreed += c.agreed;
      auto differences = c.differ;
      differences.insert(differences.end(), c.event_differ.begin(), c.event_differ.end());
      for (const auto& d : differences) {
        bool listed = false;
        for (std::size_t i = 0; i < known.size(); ++i)
          if (known[i].trace == t.name && known[i].op == d.op && known[i].field == d.field) {
            listed = true;
            used.insert(i);
          }
        if (!listed)
          FAIL_CHECK(path << ": ops[" << d.op << "] " << d.field << ": mmsim has " << d.sim << ", the kernel has " << d.kernel);
      }
    }
  }
  for (std::size_t i = 0; i < known.size(); ++i)
    if (!used.count(i))
      WARN("known-differences.json: " << known[i].trace << " ops[" << known[i].op << "] " << known[i].field
                                      << " no longer differs (or was not run here): remove it if it is fixed");
  WARN("mmsim vs Linux: " << agreed << "/" << compared << " expectation fields agree over " << traces_compared
                          << " trace(s); " << known.size() << " known difference(s) listed");
}
