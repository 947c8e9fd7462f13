// --timeline: a Chrome/Perfetto trace-event JSON of a run (open it in ui.perfetto.dev or
// chrome://tracing). One track per simulated CPU; time is that CPU's simulated time (every
// cycle charged to it), so a fault's box is as long as the work the cost model charged for it.
// Kernel events keep their tracepoint names; trace ops appear as "op:<name>" boxes around them.
#pragma once

#include <string>
#include <vector>

#include "mm/trace_events.hpp"

namespace mmsim::sim::report {

class timeline final : public mm::trace_sink {
 public:
  void emit(const mm::trace_event& e) override { events_.push_back(e); }
  std::size_t size() const { return events_.size(); }
  /// Writes the trace-event JSON; `ghz` converts cycles to microseconds.
  void write(const std::string& path, double ghz, unsigned nr_cpus) const;

 private:
  std::vector<mm::trace_event> events_;
};

}  // namespace mmsim::sim::report
