// What a replay on the host kernel produced. Field names and value formats follow mmsim's
// replay_result (sim/replay.hpp) so that `mmsim compare` can put the two side by side: an
// expectation's `actual` is spelled exactly as sim/expect.cpp spells it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kreplay {

struct expectation {
  std::size_t op = 0;
  std::string field, expected, actual;
  bool pass = false;
  /// A global counter other processes move too: reported, never trusted alone.
  bool noisy = false;
  std::string source;  // where the kernel's value came from
};

/// The value a checked field had, even where it passed (the first page's value, or a run list
/// when the pages of the range differ).
struct observation {
  std::size_t op = 0;
  std::string field, value;
};

/// A field of an expect that the host kernel does not expose (e.g. `writable`).
struct unobservable {
  std::size_t op = 0;
  std::string field, reason;
};

struct event {
  std::size_t op = 0;
  int pid = 0;
  std::string what;  // "SIGSEGV", "EINVAL", ...
  std::uint64_t addr = 0;
  std::string detail;
};

struct run_result {
  std::string skipped;  // non-empty: the trace was not run, and why
  std::string failed;   // non-empty: the run broke off (worker timeout or death), and why
  std::size_t ops = 0, ops_run = 0;
  std::vector<expectation> expectations;
  std::vector<observation> observations;
  std::vector<unobservable> unobservables;
  std::vector<event> signals, errors;
  /// Knobs as checked on the host (name, value) and trace settings that do not apply.
  std::vector<std::pair<std::string, std::string>> knobs;
  std::vector<std::string> ignored;
  std::vector<std::string> notes;
  std::map<int, std::uint64_t> faults_by_pid;  // minor faults inside measured windows

  std::size_t failed_expectations() const {
    std::size_t n = 0;
    for (auto& e : expectations) n += !e.pass;
    return n;
  }
};

}  // namespace kreplay
