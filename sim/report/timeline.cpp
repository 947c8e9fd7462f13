#include "sim/report/timeline.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "arch/hex.hpp"

namespace mmsim::sim::report {

void timeline::write(const std::string& path, double ghz, unsigned nr_cpus) const {
  using nlohmann::ordered_json;
  ordered_json ev = ordered_json::array();
  for (unsigned c = 0; c < nr_cpus; ++c)
    ev.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", c},
                  {"args", {{"name", "cpu" + std::to_string(c)}}}});
  const double per_us = ghz * 1000.0;
  for (const auto& e : events_) {
    ordered_json args = {{"detail", e.detail}, {"cycles", e.end - e.begin}};
    if (e.addr) args["addr"] = arch::hex(e.addr);
    const std::string name = e.name;
    ev.push_back({{"name", name},
                  {"cat", name.starts_with("op:") ? "op" : "mm"},
                  {"ph", "X"},
                  {"ts", static_cast<double>(e.begin) / per_us},
                  {"dur", static_cast<double>(e.end - e.begin) / per_us},
                  {"pid", 0},
                  {"tid", e.cpu},
                  {"args", args}});
  }
  ordered_json j = {{"traceEvents", ev}, {"displayTimeUnit", "ns"}};
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << j.dump() << "\n";
}

}  // namespace mmsim::sim::report
