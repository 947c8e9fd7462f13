// Presentation of a replay: the JSON report (trace-format.md "The report") and the text
// summary. Models never format output; only this folder does.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>

#include "sim/replay.hpp"

namespace mmsim::sim::report {

nlohmann::ordered_json to_json(const replayer& r, const replay_result& res);
void print_summary(std::ostream& os, const replayer& r, const replay_result& res);

}  // namespace mmsim::sim::report
