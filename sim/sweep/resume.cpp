// --resume: what an earlier, possibly interrupted run of the same spec left in the output.
// Each row is written to the CSV, then to the JSON lines, and both are flushed, so a kill leaves
// at most one cut line per file and a row in the CSV only. Those are dropped and run again;
// anything that looks like another spec's or another shard's output is an error instead,
// because silently mixing two sweeps is worse than stopping.
#include <charconv>

#include "sim/sweep/detail.hpp"

namespace mmsim::sim::sweep {

namespace {

struct csv_row {
  row r;
  std::string version;
};

std::optional<std::uint64_t> point_number(std::string_view f) {
  std::uint64_t p = 0;
  auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), p);
  if (ec != std::errc{} || end != f.data() + f.size() || f.empty()) return std::nullopt;
  return p;
}

class previous_reader {
 public:
  previous_reader(const spec& s, const std::string& prefix, shard sh)
      : s_(s), sh_(sh), csv_(csv_path(prefix)), jsonl_(jsonl_path(prefix)), header_(header_fields(s)) {}

  previous_rows read() {
    previous_rows out;
    std::map<std::uint64_t, csv_row> csv = read_csv(out.dropped);
    for (const std::string& line : read_lines(jsonl_, out.dropped)) {
      std::optional<std::pair<std::uint64_t, bool>> got = read_jsonl_row(line);
      if (!got) {
        ++out.dropped;
        continue;
      }
      auto it = csv.find(got->first);
      if (it == csv.end() || it->second.r.ok != got->second || !it->second.r.jsonl.empty()) {
        ++out.dropped;  // in the JSON lines only, or twice there: run it again
        continue;
      }
      it->second.r.jsonl = line;
    }
    for (auto& [p, c] : csv) {
      if (c.r.jsonl.empty()) {
        ++out.dropped;  // the CSV line was written, the JSON line was not
        continue;
      }
      out.versions.insert(c.version);
      out.rows.emplace(p, std::move(c.r));
    }
    return out;
  }

 private:
  [[noreturn]] void foreign(const std::string& file, const std::string& why) const {
    throw sweep_error(file + ": " + why + "; it is not an output of " + s_.origin +
                      " (use another --out, or remove it)");
  }

  // A row's point must belong to this spec and shard, and its values must be this point's.
  std::uint64_t check_point(const std::string& file, std::string_view field) const {
    const auto p = point_number(field);
    if (!p) return UINT64_MAX;
    if (*p >= s_.nr_points) foreign(file, "point " + std::to_string(*p) + " is beyond the spec's " + std::to_string(s_.nr_points) + " points");
    if (!in_shard(*p, sh_))
      foreign(file, "point " + std::to_string(*p) + " is not in shard " + std::to_string(sh_.index) + "/" +
                        std::to_string(sh_.count));
    return *p;
  }

  std::map<std::uint64_t, csv_row> read_csv(std::uint64_t& dropped) const {
    std::map<std::uint64_t, csv_row> rows;
    std::set<std::uint64_t> twice;
    const std::vector<std::string> lines = read_lines(csv_, dropped);
    if (lines.empty()) return rows;  // cut before the header was whole: nothing to keep
    if (lines[0] != csv_line(header_)) foreign(csv_, "its header differs from the columns of this spec");
    std::vector<std::string> f;
    for (std::size_t i = 1; i < lines.size(); ++i) {
      const std::string& line = lines[i];
      if (!csv_split(std::string_view(line).substr(0, line.size() - 1), f) || f.size() != header_.size() ||
          (f[f.size() - 3] != "ok" && f[f.size() - 3] != "error")) {
        ++dropped;
        continue;
      }
      const std::uint64_t p = check_point(csv_, f[0]);
      if (p == UINT64_MAX) {
        ++dropped;
        continue;
      }
      const auto choice = point_choice(s_, p);
      for (std::size_t c = 0; c < s_.columns.size(); ++c)
        if (f[1 + c] != cell(s_.columns[c].values[choice[c]]))
          foreign(csv_, "point " + std::to_string(p) + " has " + s_.columns[c].key + "=" + f[1 + c] +
                            ", the spec gives " + cell(s_.columns[c].values[choice[c]]));
      if (rows.contains(p) || twice.contains(p)) {
        dropped += rows.erase(p) + 1;  // only a second writer could do this; run it again
        twice.insert(p);
        continue;
      }
      rows[p] = {{p, f[f.size() - 3] == "ok", line, {}}, f.back()};
    }
    return rows;
  }

  // The point and whether it is ok; nullopt for a line that is not a whole row of this spec.
  std::optional<std::pair<std::uint64_t, bool>> read_jsonl_row(const std::string& line) const {
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception&) {
      return std::nullopt;
    }
    if (!j.is_object() || j.size() != header_.size()) return std::nullopt;
    std::size_t i = 0;
    for (const auto& item : j.items())
      if (item.key() != header_[i++]) foreign(jsonl_, "its rows' fields differ from the columns of this spec");
    if (!j["point"].is_number_unsigned() || !j["status"].is_string()) return std::nullopt;
    const std::uint64_t p = check_point(jsonl_, std::to_string(j["point"].get<std::uint64_t>()));
    const std::string status = j["status"].get<std::string>();
    if (status != "ok" && status != "error") return std::nullopt;
    return std::pair{p, status == "ok"};
  }

  const spec& s_;
  shard sh_;
  std::string csv_, jsonl_;
  std::vector<std::string> header_;
};

}  // namespace

previous_rows read_previous(const spec& s, const std::string& prefix, shard sh) {
  return previous_reader(s, prefix, sh).read();
}

}  // namespace mmsim::sim::sweep
