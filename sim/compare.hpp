// `mmsim compare SIM.json KERNEL.json`: sets an `mmsim run --json` report beside a kreplay
// report of the same trace (tools/kreplay) and lists every checked field where the simulator
// and the real kernel disagree. Both reports spell an expectation's `actual` the same way
// (sim/expect.cpp), so two fields agree exactly when their `actual` strings are equal.
// Not compared: fields the kernel marks noisy (global counters other processes move; the
// per-process ones, such as pgfault from getrusage, are not marked and are compared), fields
// the kernel lists as unobservable (e.g. `writable`), and fields only one report has.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace mmsim::sim {

/// A report that is not JSON, not a report, or not of the same trace as the other one.
struct compare_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct compare_row {
  std::size_t op = 0;
  std::string field, sim, kernel;
  std::string note;  // why a row was not compared
};

struct compare_result {
  std::string trace;
  std::string kernel_skipped, kernel_failed;  // the kernel run's own reasons, verbatim
  std::size_t compared = 0, agreed = 0;       // expectation fields both reports observed
  std::vector<compare_row> differ;            // compared, and different
  std::vector<compare_row> not_compared;
  std::size_t events_compared = 0, events_agreed = 0;  // per op: signals and errnos
  std::vector<compare_row> event_differ;

  bool agree() const { return differ.empty() && event_differ.empty(); }
};

/// Throws compare_error on malformed input. The order of the arguments matters: `sim` is an
/// `mmsim run --json` report, `kernel` a `kreplay --json` report.
compare_result compare_reports(const nlohmann::json& sim, const nlohmann::json& kernel);
/// Reads both files first; unreadable or non-JSON files are compare_errors naming the file.
compare_result compare_files(const std::string& sim_path, const std::string& kernel_path);

void print_comparison(std::ostream& os, const compare_result& r);

}  // namespace mmsim::sim
