// Internals shared by the files of sim/sweep/ (and its tests); nothing else includes this.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sim/sweep/sweep.hpp"

namespace mmsim::sim::sweep {

/// Sets one column's value in a trace document (spec.cpp).
void set_value(json& doc, const column& c, const json& v);

/// What one point produced: its metric values in spec order, or the error that stopped it.
struct point_result {
  std::uint64_t point = 0;
  std::vector<json> metrics;
  std::string error;  // empty: ok
};

/// One output row exactly as it is (or was) written, newline included.
struct row {
  std::uint64_t point = 0;
  bool ok = true;
  std::string csv, jsonl;
};

// ---- rows.cpp: the two output formats ------------------------------------------------------

/// point, every column key, every metric, status, error, mmsim_version.
std::vector<std::string> header_fields(const spec& s);
/// RFC 4180 line: a field with a comma, quote or line break is quoted. Ends with '\n'.
std::string csv_line(const std::vector<std::string>& fields);
/// Splits a line (without its '\n') as csv_line wrote it; false if it is malformed.
bool csv_split(std::string_view line, std::vector<std::string>& out);
/// A value as a CSV cell: strings bare, null empty, numbers and bools as JSON writes them.
std::string cell(const json& v);
row render_row(const spec& s, const point_result& r);

std::string csv_path(const std::string& prefix);
std::string jsonl_path(const std::string& prefix);
/// An output name given as PREFIX, PREFIX.csv or PREFIX.jsonl -> PREFIX.
std::string strip_output_suffix(const std::string& name);
/// The '\n'-terminated lines of a file, newline kept; an unterminated last line (a write cut
/// short) is dropped and counted in `partial`. A missing file has no lines.
std::vector<std::string> read_lines(const std::string& path, std::uint64_t& partial);
/// Replaces `path` with `text` via a temporary file and rename(), so a crash leaves either the
/// old or the new file, never half of one.
void write_file_atomic(const std::string& path, const std::string& text);

// ---- resume.cpp ----------------------------------------------------------------------------

struct previous_rows {
  std::map<std::uint64_t, row> rows;  // complete in both files
  std::uint64_t dropped = 0;          // partial or unreadable lines, and rows in one file only
  std::set<std::string> versions;     // mmsim_version of the kept rows
};
/// The rows an earlier run of the same spec left at `prefix`. Throws sweep_error if the output
/// belongs to another spec or shard.
previous_rows read_previous(const spec& s, const std::string& prefix, shard sh);

}  // namespace mmsim::sim::sweep
