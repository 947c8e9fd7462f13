// Parameter sweeps (issue 7): one trace replayed at every point of a grid of kernel knobs,
// machine fields and trace fields, one output row per point in CSV and JSON lines. The spec
// format, the output columns and the GNU parallel / Slurm recipes are in sim/sweep/README.md.
//
// Files: spec.cpp (parse, expand into points, validate every point before any runs),
// metrics.cpp (report paths), rows.cpp (CSV/JSONL rows), resume.cpp (reading an earlier,
// possibly interrupted output), shard.cpp (--shard and sweep-merge), sweep.cpp (the run).
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sim/trace/ops.hpp"

namespace mmsim::sim::sweep {

using json = nlohmann::ordered_json;

/// Bad input: a spec, an option, or an output file that belongs to another sweep. The message
/// names the file and the place ("s.json: grid[\"kernel.x\"][2]: ..."), ready to print.
struct sweep_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What a varied column sets in the trace.
enum class target { seed, kernel, machine, op };

/// One varied value of the trace: an output column ("kernel.transparent_hugepage/enabled",
/// "machine.cpus", "ops[3].len", "seed").
struct column {
  std::string key;
  std::string place;  // where the spec lists its values, for messages: grid["ops[3].len"]
  target what = target::seed;
  std::string name;         // the knob or field it sets
  std::size_t op_index = 0;  // target::op only
  std::vector<json> values;  // scalars (string, integer or bool), no duplicates
};

/// Columns varied together: one grid entry, one zip group, or the seed list.
struct dimension {
  std::vector<std::size_t> columns;  // indexes into spec::columns
  std::size_t size = 0;
  std::string place;  // a zip group's place ("zip", "zip[1]"); empty for one column
};

struct spec {
  std::string origin;        // the spec file, for messages
  std::string trace_origin;  // the trace file as messages name it
  json trace_doc;            // the base trace; a point is this with its values set
  std::vector<column> columns;   // output order: grid keys, zip keys, seed
  std::vector<dimension> dims;   // point order: the last dimension varies fastest
  std::vector<std::string> metrics;
  std::uint64_t nr_points = 1;
};

/// Parses and checks a spec on its own (keys, knob names and values, metric syntax). The trace
/// path is relative to `base_dir`. Throws sweep_error.
spec parse_spec(std::string_view text, const std::string& origin, const std::filesystem::path& base_dir);
spec read_spec_file(const std::string& path);

/// The index into each column's values at point `index` (spec::columns order).
std::vector<std::size_t> point_choice(const spec& s, std::uint64_t index);
/// "kernel.x=always, ops[3].len=2M": a point's values, for messages.
std::string describe_point(const spec& s, std::uint64_t index);
/// The trace of one point, read back through the trace reader. Throws trace::trace_error.
trace::trace resolve_point(const spec& s, std::uint64_t index);

/// Checks every point before any runs: its trace resolves, its machine and kernel build, and
/// every metric exists in its report. Throws sweep_error naming the spec place at fault.
void validate_spec(const spec& s);

/// The value at a dotted report path ("vmstat.pgfault", "marks.first.vmstat.pgfault"), or
/// nullptr with `why` set. Only scalars count: an object is not a metric.
const json* find_metric(const json& report, std::string_view path, std::string& why);

/// --shard I/N: this run owns the points with index % N == I - 1 (I is 1-based).
struct shard {
  unsigned index = 1, count = 1;
};
shard parse_shard(std::string_view text);  // throws sweep_error
inline bool in_shard(std::uint64_t point, shard sh) { return point % sh.count == sh.index - 1; }

enum class progress_mode { none, plain, bar };

struct run_options {
  std::string out_prefix;  // writes out_prefix.csv and out_prefix.jsonl
  unsigned jobs = 1;
  shard sh;
  bool resume = false;        // keep the rows an earlier run of this spec left in the output
  bool retry_failed = false;  // as resume, and run again the points whose row is an error
  progress_mode progress = progress_mode::none;
};

struct run_summary {
  std::uint64_t points = 0;  // in this shard
  std::uint64_t kept = 0;    // rows kept from an earlier run
  std::uint64_t ran = 0;
  std::uint64_t failed = 0;  // error rows in the final output
};

/// Validates the spec, then runs the points of the shard that the output lacks. `log` gets
/// progress and warnings. Throws sweep_error on bad input; a failing point is a row, not a throw.
run_summary run_sweep(const spec& s, const run_options& opt, std::ostream& log);

/// Joins shard outputs (prefixes, or their .csv/.jsonl names) into out_prefix.csv/.jsonl in
/// point order: the result is byte for byte what one unsharded run writes. Throws sweep_error.
void merge_outputs(const std::vector<std::string>& inputs, const std::string& out_prefix);

/// `mmsim sweep` as sim/main.cpp hands it over.
struct cli_options {
  std::string spec_path, out, shard;
  unsigned jobs = 0;  // 0: one per core
  bool resume = false, retry_failed = false, dry_run = false;
};
/// Both print their errors and return the exit code: 0 every point ok, 1 some point failed,
/// 2 bad input.
int sweep_command(const cli_options& o);
int merge_command(const std::vector<std::string>& inputs, const std::string& out);

}  // namespace mmsim::sim::sweep
