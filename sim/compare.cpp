#include "sim/compare.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <map>
#include <ostream>
#include <sstream>
#include <tuple>

namespace mmsim::sim {

using nlohmann::json;

namespace {

// (op, field, n-th occurrence): an op checks a field once today, but a report with a repeat
// must not silently collapse two rows into one.
using key = std::tuple<std::size_t, std::string, unsigned>;

struct entry {
  std::string actual;
  bool noisy = false;
};

[[noreturn]] void bad(const std::string& which, const std::string& what) {
  throw compare_error(which + ": " + what);
}

const json& need(const json& j, const char* k, const std::string& which) {
  const auto it = j.find(k);
  if (it == j.end()) bad(which, std::string("no \"") + k + "\" (not an mmsim or kreplay report?)");
  return *it;
}

std::size_t op_of(const json& e, const std::string& which) {
  const json& op = need(e, "op", which);
  if (!op.is_number_unsigned()) bad(which, "an entry's \"op\" is not an op index");
  return op.get<std::size_t>();
}

std::string str_of(const json& e, const char* k, const std::string& which) {
  const json& v = need(e, k, which);
  if (!v.is_string()) bad(which, std::string("an entry's \"") + k + "\" is not a string");
  return v.get<std::string>();
}

std::map<key, entry> expectations(const json& report, const std::string& which) {
  const json& ex = need(report, "expectations", which);
  if (!ex.is_array()) bad(which, "\"expectations\" is not an array");
  std::map<key, entry> m;
  std::map<std::pair<std::size_t, std::string>, unsigned> seen;
  for (const json& e : ex) {
    if (!e.is_object()) bad(which, "an expectation is not an object");
    const std::size_t op = op_of(e, which);
    const std::string field = str_of(e, "field", which);
    const auto noisy = e.find("noisy");
    m[{op, field, seen[{op, field}]++}] = {str_of(e, "actual", which), noisy != e.end() && noisy->is_boolean() && noisy->get<bool>()};
  }
  return m;
}

// Per op: every signal and errno, sorted, as one string.
std::map<std::size_t, std::string> events(const json& report, const std::string& which) {
  std::map<std::size_t, std::vector<std::string>> by_op;
  for (const char* kind : {"signals", "errors"}) {
    const auto it = report.find(kind);
    if (it == report.end()) continue;
    if (!it->is_array()) bad(which, std::string("\"") + kind + "\" is not an array");
    for (const json& e : *it) {
      if (!e.is_object()) bad(which, std::string("an entry of \"") + kind + "\" is not an object");
      std::string what = str_of(e, "what", which);
      if (const auto d = e.find("detail"); d != e.end() && d->is_string() && std::string(kind) == "errors")
        what = d->get<std::string>() + " " + what;
      by_op[op_of(e, which)].push_back(what);
    }
  }
  std::map<std::size_t, std::string> m;
  for (auto& [op, v] : by_op) {
    std::sort(v.begin(), v.end());
    std::string s;
    for (auto& w : v) s += (s.empty() ? "" : ", ") + w;
    m[op] = s;
  }
  return m;
}

std::size_t ops_run(const json& report, const std::string& which) {
  const json& t = need(report, "trace", which);
  const auto it = t.find("ops_run");
  return it != t.end() && it->is_number_unsigned() ? it->get<std::size_t>() : SIZE_MAX;
}

std::string trace_name(const json& report, const std::string& which) {
  const json& t = need(report, "trace", which);
  const auto it = t.find("name");
  return it != t.end() && it->is_string() ? it->get<std::string>() : "";
}

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw compare_error(path + ": cannot open: " + std::strerror(errno));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw compare_error(path + ": not JSON: " + e.what());
  }
}

}  // namespace

compare_result compare_reports(const json& sim, const json& kernel) {
  if (!sim.is_object() || !sim.contains("mmsim_version"))
    bad("SIM", "not an `mmsim run --json` report (no \"mmsim_version\")");
  if (!kernel.is_object() || !kernel.contains("kreplay_version"))
    bad("KERNEL", "not a `kreplay --json` report (no \"kreplay_version\")");
  compare_result r;
  r.trace = trace_name(sim, "SIM");
  if (const std::string k = trace_name(kernel, "KERNEL"); k != r.trace)
    throw compare_error("the reports are of different traces: '" + r.trace + "' and '" + k + "'");
  if (auto it = kernel.find("skipped"); it != kernel.end() && it->is_string()) r.kernel_skipped = *it;
  if (auto it = kernel.find("failed"); it != kernel.end() && it->is_string()) r.kernel_failed = *it;
  if (!r.kernel_skipped.empty()) return r;  // the kernel observed nothing

  const auto s = expectations(sim, "SIM"), k = expectations(kernel, "KERNEL");
  std::map<std::pair<std::size_t, std::string>, std::string> unobservable;
  if (auto it = kernel.find("unobservable"); it != kernel.end() && it->is_array())
    for (const json& u : *it)
      if (u.is_object() && u.contains("op") && u.contains("field"))
        unobservable[{op_of(u, "KERNEL"), str_of(u, "field", "KERNEL")}] =
            u.contains("reason") && u["reason"].is_string() ? u["reason"].get<std::string>() : "";
  const std::size_t kernel_ops = ops_run(kernel, "KERNEL");

  for (const auto& [kk, se] : s) {
    const auto& [op, field, n] = kk;
    const auto ke = k.find(kk);
    if (ke == k.end()) {
      std::string why = "not in the kernel report";
      if (auto u = unobservable.find({op, field}); u != unobservable.end()) why = "unobservable on Linux: " + u->second;
      else if (op >= kernel_ops) why = "the kernel run stopped before this op";
      r.not_compared.push_back({op, field, se.actual, "", why});
    } else if (ke->second.noisy) {
      r.not_compared.push_back({op, field, se.actual, ke->second.actual, "noisy on Linux (a global counter)"});
    } else {
      ++r.compared;
      if (se.actual == ke->second.actual) ++r.agreed;
      else r.differ.push_back({op, field, se.actual, ke->second.actual, ""});
    }
  }
  for (const auto& [kk, ke] : k)
    if (!s.count(kk)) r.not_compared.push_back({std::get<0>(kk), std::get<1>(kk), "", ke.actual, "not in the mmsim report"});
  std::sort(r.not_compared.begin(), r.not_compared.end(),
            [](auto& a, auto& b) { return std::tie(a.op, a.field) < std::tie(b.op, b.field); });

  const auto se = events(sim, "SIM"), ke = events(kernel, "KERNEL");
  const std::size_t sim_ops = ops_run(sim, "SIM");
  std::map<std::size_t, std::pair<std::string, std::string>> all;
  for (auto& [op, w] : se) all[op].first = w;
  for (auto& [op, w] : ke) all[op].second = w;
  for (auto& [op, w] : all) {
    if (op >= kernel_ops || op >= sim_ops) continue;  // one side never ran it
    ++r.events_compared;
    if (w.first == w.second) ++r.events_agreed;
    else r.event_differ.push_back({op, "event", w.first.empty() ? "none" : w.first, w.second.empty() ? "none" : w.second, ""});
  }
  return r;
}

compare_result compare_files(const std::string& sim_path, const std::string& kernel_path) {
  const json sim = read_json(sim_path), kernel = read_json(kernel_path);
  try {
    return compare_reports(sim, kernel);
  } catch (const compare_error& e) {
    std::string m = e.what();
    for (auto [tag, path] : {std::pair{"SIM", &sim_path}, {"KERNEL", &kernel_path}})
      if (m.starts_with(tag)) m = *path + m.substr(std::strlen(tag));
    throw compare_error(m);
  }
}

void print_comparison(std::ostream& os, const compare_result& r) {
  os << "trace " << (r.trace.empty() ? "(unnamed)" : r.trace) << ": mmsim vs Linux\n";
  if (!r.kernel_skipped.empty()) {
    os << "  the kernel run was skipped: " << r.kernel_skipped << "\n  nothing to compare\n";
    return;
  }
  if (!r.kernel_failed.empty()) os << "  the kernel run broke off: " << r.kernel_failed << "\n";
  auto pct = [](std::size_t a, std::size_t b) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(1) << (b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 100.0) << "%";
    return o.str();
  };
  os << "  expectation fields: " << r.agreed << "/" << r.compared << " agree (" << pct(r.agreed, r.compared)
     << "), " << r.not_compared.size() << " not compared\n";
  os << "  signals and errnos: " << r.events_agreed << "/" << r.events_compared << " ops agree\n";
  std::vector<compare_row> rows = r.differ;
  rows.insert(rows.end(), r.event_differ.begin(), r.event_differ.end());
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return std::tie(a.op, a.field) < std::tie(b.op, b.field); });
  if (!rows.empty()) {
    std::size_t wf = 5, ws = 5;
    for (auto& x : rows) {
      wf = std::max(wf, x.field.size());
      ws = std::max(ws, x.sim.size());
    }
    os << "  differences:\n    " << std::left << std::setw(6) << "op" << std::setw(static_cast<int>(wf) + 2) << "field"
       << std::setw(static_cast<int>(ws) + 2) << "mmsim" << "kernel\n";
    for (auto& x : rows)
      os << "    " << std::setw(6) << x.op << std::setw(static_cast<int>(wf) + 2) << x.field
         << std::setw(static_cast<int>(ws) + 2) << x.sim << x.kernel << "\n";
    os << std::right;
  }
  if (!r.not_compared.empty()) {
    os << "  not compared:\n";
    for (auto& x : r.not_compared)
      os << "    ops[" << x.op << "] " << x.field << ": " << x.note
         << (x.sim.empty() ? "" : "; mmsim " + x.sim) << (x.kernel.empty() ? "" : "; kernel " + x.kernel) << "\n";
  }
}

}  // namespace mmsim::sim
