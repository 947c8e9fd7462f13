// Scaling past one machine on existing engines (GNU parallel, Slurm job arrays): --shard I/N
// picks a deterministic slice of the points, and sweep-merge joins the slices' outputs back
// into point order. Rows do not depend on the shard, so the merge is byte for byte the output
// of one unsharded run; the merge refuses anything that would break that (cut lines, two specs,
// a point twice or missing).
#include <charconv>
#include <filesystem>
#include <iostream>

#include "sim/sweep/detail.hpp"

namespace mmsim::sim::sweep {

shard parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  shard sh{0, 0};
  auto num = [](std::string_view t, unsigned& out) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc{} && end == t.data() + t.size() && !t.empty();
  };
  if (slash == text.npos || !num(text.substr(0, slash), sh.index) || !num(text.substr(slash + 1), sh.count) ||
      sh.count == 0 || sh.index == 0 || sh.index > sh.count)
    throw sweep_error("--shard " + std::string(text) + ": expected I/N with 1 <= I <= N (as 2/8)");
  return sh;
}

namespace {

using point_lines = std::map<std::uint64_t, std::string>;

std::uint64_t csv_point(const std::string& file, const std::string& line) {
  const std::string_view f = std::string_view(line).substr(0, line.find(','));
  std::uint64_t p = 0;
  auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), p);
  if (ec != std::errc{} || end != f.data() + f.size() || f.empty())
    throw sweep_error(file + ": a row does not start with its point number: " + line.substr(0, 60));
  return p;
}

std::uint64_t jsonl_point(const std::string& file, const std::string& line) {
  try {
    const json j = json::parse(line);
    if (j.is_object() && j.contains("point") && j["point"].is_number_unsigned()) return j["point"].get<std::uint64_t>();
  } catch (const json::exception&) {
  }
  throw sweep_error(file + ": a line is not a sweep row: " + line.substr(0, 60));
}

// One shard's output: its header and its rows by point, both files agreeing.
struct shard_output {
  std::string header;
  point_lines csv, jsonl;
};

shard_output read_shard(const std::string& prefix) {
  shard_output out;
  const std::string cp = csv_path(prefix), jp = jsonl_path(prefix);
  std::error_code ec;
  if (!std::filesystem::exists(cp, ec) || !std::filesystem::exists(jp, ec))
    throw sweep_error(prefix + ": needs both " + cp + " and " + jp);
  std::uint64_t partial = 0;
  std::vector<std::string> csv = read_lines(cp, partial), jsonl = read_lines(jp, partial);
  if (partial || csv.empty())
    throw sweep_error(prefix + ": a line is cut short: an interrupted sweep (finish it with --resume first)");
  out.header = csv[0];
  for (std::size_t i = 1; i < csv.size(); ++i)
    if (!out.csv.emplace(csv_point(cp, csv[i]), csv[i]).second)
      throw sweep_error(cp + ": point " + std::to_string(csv_point(cp, csv[i])) + " is there twice");
  for (auto& line : jsonl)
    if (!out.jsonl.emplace(jsonl_point(jp, line), line).second)
      throw sweep_error(jp + ": point " + std::to_string(jsonl_point(jp, line)) + " is there twice");
  for (auto a = out.csv.begin(), b = out.jsonl.begin();; ++a, ++b) {
    if (a == out.csv.end() && b == out.jsonl.end()) break;
    if (a == out.csv.end() || b == out.jsonl.end() || a->first != b->first)
      throw sweep_error(prefix + ": the .csv and .jsonl hold different points: an interrupted sweep "
                        "(finish it with --resume first)");
  }
  return out;
}

}  // namespace

void merge_outputs(const std::vector<std::string>& inputs, const std::string& out_prefix) {
  if (inputs.empty()) throw sweep_error("no outputs to merge");
  const std::string out = strip_output_suffix(out_prefix);
  std::string header, first;
  point_lines csv, jsonl;
  std::map<std::uint64_t, std::string> source;
  for (const std::string& name : inputs) {
    const std::string prefix = strip_output_suffix(name);
    if (prefix == out) throw sweep_error(name + ": is also the merge's output");
    shard_output s = read_shard(prefix);
    if (first.empty()) {
      header = s.header;
      first = prefix;
    } else if (s.header != header) {
      throw sweep_error(prefix + ": its columns differ from " + first + "'s: outputs of different specs");
    }
    for (auto& [p, line] : s.csv) {
      if (auto [it, fresh] = source.emplace(p, prefix); !fresh)
        throw sweep_error("point " + std::to_string(p) + " is in both " + it->second + " and " + prefix);
      csv.emplace(p, std::move(line));
      jsonl.emplace(p, std::move(s.jsonl.at(p)));
    }
  }
  // Points are numbered from 0 with no gap, so a hole is a shard that is missing or unfinished.
  // (Points missing after the last one present cannot be seen here; `mmsim sweep --resume`
  // on the merged output would run them.)
  std::uint64_t next = 0;
  for (auto& [p, line] : csv) {
    if (p != next) throw sweep_error("point " + std::to_string(next) + " is in none of the outputs (a shard is missing?)");
    ++next;
  }
  std::string csv_text = header, jsonl_text;
  for (auto& [p, line] : csv) csv_text += line;
  for (auto& [p, line] : jsonl) jsonl_text += line;
  write_file_atomic(csv_path(out), csv_text);
  write_file_atomic(jsonl_path(out), jsonl_text);
}

int merge_command(const std::vector<std::string>& inputs, const std::string& out) {
  try {
    merge_outputs(inputs, out);
    const std::string prefix = strip_output_suffix(out);
    std::cerr << "mmsim sweep-merge: " << inputs.size() << " outputs -> " << csv_path(prefix) << ", "
              << jsonl_path(prefix) << "\n";
    return 0;
  } catch (const sweep_error& e) {
    std::cerr << "mmsim sweep-merge: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace mmsim::sim::sweep
