// The two output formats of a sweep and the file primitives under them. A row's text depends
// only on the spec and its point's result (never on time, thread or shard), which is what makes
// --jobs, --resume and sweep-merge byte-identical to one plain run.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <system_error>

#include "sim/sweep/detail.hpp"
#include "sim/version.hpp"

namespace mmsim::sim::sweep {

std::vector<std::string> header_fields(const spec& s) {
  std::vector<std::string> h{"point"};
  for (auto& c : s.columns) h.push_back(c.key);
  h.insert(h.end(), s.metrics.begin(), s.metrics.end());
  for (const char* f : {"status", "error", "mmsim_version"}) h.emplace_back(f);
  return h;
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::string& f = fields[i];
    if (i) line += ',';
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      line += f;
      continue;
    }
    line += '"';
    for (char ch : f) line += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    line += '"';
  }
  return line + "\n";
}

bool csv_split(std::string_view line, std::vector<std::string>& out) {
  out.assign(1, {});
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    std::string& f = out.back();
    if (quoted) {
      if (ch != '"') {
        f += ch;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        f += '"';
        ++i;
      } else {
        quoted = false;
        if (i + 1 < line.size() && line[i + 1] != ',') return false;  // junk after a closing quote
      }
    } else if (ch == ',') {
      out.emplace_back();
    } else if (ch == '"' && f.empty()) {
      quoted = true;
    } else if (ch == '"' || ch == '\n' || ch == '\r') {
      return false;
    } else {
      f += ch;
    }
  }
  return !quoted;
}

std::string cell(const json& v) {
  if (v.is_null()) return {};
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

namespace {

// Both files are read back line by line (resume, merge), so no field may hold a line break; a
// multi-line message (an MM_BUG dump) becomes one line.
std::string one_line(std::string text) {
  for (char& ch : text)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return text;
}

}  // namespace

row render_row(const spec& s, const point_result& r) {
  const bool ok = r.error.empty();
  const std::string error = one_line(r.error);
  const auto choice = point_choice(s, r.point);
  std::vector<std::string> fields{std::to_string(r.point)};
  json j;
  j["point"] = r.point;
  for (std::size_t c = 0; c < s.columns.size(); ++c) {
    const json& v = s.columns[c].values[choice[c]];
    fields.push_back(cell(v));
    j[s.columns[c].key] = v;
  }
  for (std::size_t m = 0; m < s.metrics.size(); ++m) {
    const json v = ok ? r.metrics.at(m) : json(nullptr);  // an error row has no numbers to trust
    fields.push_back(one_line(cell(v)));
    j[s.metrics[m]] = v;
  }
  fields.insert(fields.end(), {ok ? "ok" : "error", error, MMSIM_VERSION});
  j["status"] = ok ? "ok" : "error";
  j["error"] = ok ? json(nullptr) : json(error);
  j["mmsim_version"] = MMSIM_VERSION;
  // replace: an error message quoting a broken byte must not make the whole row unwritable.
  return {r.point, ok, csv_line(fields), j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}

std::string csv_path(const std::string& prefix) { return prefix + ".csv"; }
std::string jsonl_path(const std::string& prefix) { return prefix + ".jsonl"; }

std::string strip_output_suffix(const std::string& name) {
  for (std::string_view suffix : {".csv", ".jsonl"})
    if (name.size() > suffix.size() && name.ends_with(suffix)) return name.substr(0, name.size() - suffix.size());
  return name;
}

std::vector<std::string> read_lines(const std::string& path, std::uint64_t& partial) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) throw sweep_error(path + ": cannot read");
    return lines;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  std::size_t pos = 0;
  for (std::size_t nl; (nl = all.find('\n', pos)) != std::string::npos; pos = nl + 1)
    lines.push_back(all.substr(pos, nl + 1 - pos));
  if (pos < all.size()) ++partial;
  return lines;
}

void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  // `--out results/x` on a fresh checkout or a fresh cluster scratch: make the folder.
  if (const auto dir = std::filesystem::path(path).parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw sweep_error(tmp + ": cannot write");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw sweep_error(path + ": cannot replace: " + ec.message());
}

}  // namespace mmsim::sim::sweep
