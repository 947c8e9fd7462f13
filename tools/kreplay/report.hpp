// kreplay's report: the JSON has the shape of `mmsim run --json` where the two overlap
// (trace, signals, errors, expectations with op/field/expected/actual/pass), plus what only a
// real kernel has: skipped/failed reasons, observations, unobservable fields, noisy marks.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>

#include "sim/trace/ops.hpp"
#include "tools/kreplay/result.hpp"

namespace kreplay {

nlohmann::ordered_json to_json(const mmsim::sim::trace::trace& t, const run_result& r);
void print_summary(std::ostream& os, const mmsim::sim::trace::trace& t, const run_result& r);

/// Failed expectations that are not noisy: the ones that make kreplay exit 1.
std::size_t hard_failures(const run_result& r);

}  // namespace kreplay
