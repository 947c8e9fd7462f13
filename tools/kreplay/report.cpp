#include "tools/kreplay/report.hpp"

#include <ostream>

#include "sim/version.hpp"
#include "tools/kreplay/host.hpp"

namespace kreplay {

using nlohmann::ordered_json;

namespace {

ordered_json events_json(const std::vector<event>& v) {
  ordered_json a = ordered_json::array();
  for (auto& e : v) {
    ordered_json j{{"op", e.op}, {"pid", e.pid}, {"what", e.what}};
    if (e.addr) j["addr"] = e.addr;
    if (!e.detail.empty()) j["detail"] = e.detail;
    a.push_back(j);
  }
  return a;
}

ordered_json strings(const std::vector<std::string>& v) {
  ordered_json a = ordered_json::array();
  for (auto& s : v) a.push_back(s);
  return a;
}

}  // namespace

std::size_t hard_failures(const run_result& r) {
  std::size_t n = 0;
  for (auto& e : r.expectations) n += !e.pass && !e.noisy;
  return n;
}

ordered_json to_json(const mmsim::sim::trace::trace& t, const run_result& r) {
  ordered_json j;
  j["kreplay_version"] = MMSIM_VERSION;
  j["trace"] = {{"name", t.name}, {"seed", t.seed}, {"ops", r.ops}, {"ops_run", r.ops_run}};
  j["host"] = {{"kernel", kernel_release()}, {"arch", t.machine.arch}};
  ordered_json knobs = ordered_json::object();
  for (auto& [k, v] : r.knobs) knobs[k] = v;
  j["config"] = {{"kernel", knobs}, {"ignored", strings(r.ignored)}, {"notes", strings(r.notes)}};
  if (!r.skipped.empty()) j["skipped"] = r.skipped;
  if (!r.failed.empty()) j["failed"] = r.failed;
  j["signals"] = events_json(r.signals);
  j["errors"] = events_json(r.errors);
  ordered_json ex = ordered_json::array();
  std::size_t noisy_failed = 0;
  for (auto& e : r.expectations) {
    ordered_json x{{"op", e.op}, {"field", e.field}, {"expected", e.expected}, {"actual", e.actual}, {"pass", e.pass}};
    if (e.noisy) x["noisy"] = true;
    x["source"] = e.source;
    ex.push_back(x);
    noisy_failed += !e.pass && e.noisy;
  }
  j["expectations"] = ex;
  const std::size_t hard = hard_failures(r);
  j["expectations_passed"] = r.expectations.size() - hard - noisy_failed;
  j["expectations_failed"] = hard;
  j["expectations_noisy_failed"] = noisy_failed;
  ordered_json obs = ordered_json::array();
  for (auto& o : r.observations) obs.push_back({{"op", o.op}, {"field", o.field}, {"value", o.value}});
  j["observations"] = obs;
  ordered_json un = ordered_json::array();
  for (auto& u : r.unobservables) un.push_back({{"op", u.op}, {"field", u.field}, {"reason", u.reason}});
  j["unobservable"] = un;
  ordered_json procs = ordered_json::object();
  for (auto& [pid, f] : r.faults_by_pid) procs[std::to_string(pid)] = {{"minor_faults", f}};
  j["processes"] = procs;
  return j;
}

void print_summary(std::ostream& os, const mmsim::sim::trace::trace& t, const run_result& r) {
  os << "trace " << (t.name.empty() ? "(unnamed)" : t.name) << " on Linux " << kernel_release() << "\n";
  if (!r.skipped.empty()) {
    os << "  skipped: " << r.skipped << "\n";
    return;
  }
  for (auto& n : r.notes) os << "  note: " << n << "\n";
  os << "  ops run: " << r.ops_run << "/" << r.ops << "\n";
  if (!r.failed.empty()) os << "  FAILED: " << r.failed << "\n";
  for (auto& s : r.signals) os << "  ops[" << s.op << "] pid " << s.pid << ": " << s.what << " at 0x" << std::hex << s.addr << std::dec << "\n";
  for (auto& e : r.errors) os << "  ops[" << e.op << "] pid " << e.pid << ": " << e.detail << " failed with " << e.what << "\n";
  std::size_t noisy_failed = 0;
  for (auto& e : r.expectations) {
    if (e.pass) continue;
    noisy_failed += e.noisy;
    os << "  ops[" << e.op << "] " << e.field << ": expected " << e.expected << ", kernel has " << e.actual
       << (e.noisy ? "  (noisy: a global counter)" : "") << "\n";
  }
  os << "  expectations: " << r.expectations.size() - hard_failures(r) - noisy_failed << " passed, "
     << hard_failures(r) << " failed";
  if (noisy_failed) os << ", " << noisy_failed << " noisy failed";
  os << "; " << r.unobservables.size() << " unobservable\n";
}

}  // namespace kreplay
