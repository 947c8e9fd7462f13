// Validation of a whole sweep before any point runs, and report paths (metrics). Every point
// is read through the trace reader and its machine and kernel are built; a failure is blamed
// on the narrowest place of the spec that reproduces the same error on its own (one value, one
// zip row), else on the point with all its values, so the message says what to edit.
#include <algorithm>
#include <memory>
#include <set>

#include "sim/replay.hpp"
#include "sim/report/report.hpp"
#include "sim/sweep/detail.hpp"
#include "sim/trace/reader.hpp"

namespace mmsim::sim::sweep {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

// The help after "no 'pgfalt' in 'vmstat'": the likely intended key, or what there is.
std::string hint(const json& obj, std::string_view seg) {
  std::string best;
  // A third of the letters may be wrong, and never all of them ('2' is not a typo of '1').
  std::size_t best_d = std::min(std::max<std::size_t>(1, seg.size() / 3), seg.size() - 1) + 1;
  std::vector<std::string> keys;
  for (const auto& item : obj.items()) {
    keys.push_back(item.key());
    if (const std::size_t d = edit_distance(item.key(), seg); d < best_d) {
      best_d = d;
      best = item.key();
    }
  }
  if (!best.empty()) return " (did you mean '" + best + "'?)";
  if (keys.size() <= 16) return " (it has " + trace::detail::join_list(keys, " and ") + ")";
  return " (`mmsim run --json` shows the whole report)";
}

const json* step(const json& cur, std::string_view seg, const std::string& at, std::string& why) {
  const std::string where = at.empty() ? "the report" : "'" + at + "'";
  if (cur.is_object()) {
    if (auto it = cur.find(seg); it != cur.end()) return &*it;
    why = "no '" + std::string(seg) + "' in " + where + hint(cur, seg);
    return nullptr;
  }
  if (cur.is_array()) {
    // An index, or a mark's label: "marks.first.vmstat.pgfault" survives inserting a mark.
    if (!seg.empty() && seg.find_first_not_of("0123456789") == seg.npos && seg.size() < 10) {
      if (const auto i = std::stoull(std::string(seg)); i < cur.size()) return &cur[i];
    }
    for (const json& e : cur)
      if (e.is_object() && e.contains("label") && e.at("label") == std::string(seg)) return &e;
    why = "no element '" + std::string(seg) + "' in " + where + " (give an index below " +
          std::to_string(cur.size()) + " or a mark's label)";
    return nullptr;
  }
  why = where + " is a value; it has no '" + std::string(seg) + "'";
  return nullptr;
}

// The report of a run of `t` needs the run only for its values: its shape comes from the
// configuration (CPUs, shadow schemes) plus the processes alive at the end and the marks.
replay_result shaped_result(const trace::trace& t) {
  replay_result res;
  std::set<int> live{1};
  for (const auto& o : t.ops) {
    if (const auto* f = std::get_if<trace::fork_op>(&o.body)) live.insert(f->child);
    if (std::holds_alternative<trace::exit_op>(o.body)) live.erase(o.pid);
    if (const auto* m = std::get_if<trace::mark_op>(&o.body)) res.marks.push_back({m->label, o.index, {}});
  }
  for (int pid : live) res.processes.push_back({pid, {}, 0});
  return res;
}

std::string shape_key(const json& doc, const replay_result& shape) {
  std::string key;
  for (const char* part : {"machine", "kernel"})
    key += (doc.contains(part) ? doc.at(part).dump() : "-") + "\n";
  for (auto& p : shape.processes) key += std::to_string(p.pid) + ",";
  for (auto& m : shape.marks) key += "\n" + m.label;
  return key;
}

class validator {
 public:
  explicit validator(const spec& s) : s_(s) {}

  void check_point(std::uint64_t p) {
    const auto choice = point_choice(s_, p);
    json doc = s_.trace_doc;
    for (std::size_t c = 0; c < s_.columns.size(); ++c)
      set_value(doc, s_.columns[c], s_.columns[c].values[choice[c]]);
    std::unique_ptr<trace::trace> t;
    if (std::string err = read(doc, t); !err.empty()) blame(p, choice, err);
    const replay_result shape = shaped_result(*t);
    // Building a machine costs more than reading a trace: once per configuration and shape.
    if (!checked_.insert(shape_key(doc, shape)).second) return;
    std::unique_ptr<replayer> r;
    if (std::string err = build(*t, r); !err.empty()) blame(p, choice, err);
    const json report = report::to_json(*r, shape);
    for (std::size_t i = 0; i < s_.metrics.size(); ++i) {
      std::string why;
      if (find_metric(report, s_.metrics[i], why)) continue;
      std::string msg = s_.origin + ": metrics[" + std::to_string(i) + "] (\"" + s_.metrics[i] + "\"): " + why;
      if (p) msg += ", at point " + std::to_string(p) + " (" + describe_point(s_, p) + ")";
      throw sweep_error(msg);
    }
  }

 private:
  std::string read(const json& doc, std::unique_ptr<trace::trace>& t) const {
    try {
      t = std::make_unique<trace::trace>(trace::parse_trace(doc.dump(), s_.trace_origin));
      return {};
    } catch (const trace::trace_error& e) {
      return e.what();
    }
  }

  std::string build(const trace::trace& t, std::unique_ptr<replayer>& r) const {
    try {
      r = std::make_unique<replayer>(t, replay_options{});
      return {};
    } catch (const config_error& e) {
      return s_.trace_origin + ": " + e.what();
    }
  }

  // The error a document gives, reading and building; empty if none.
  std::string problem(const json& doc) const {
    std::unique_ptr<trace::trace> t;
    if (std::string err = read(doc, t); !err.empty()) return err;
    std::unique_ptr<replayer> r;
    return build(*t, r);
  }

  [[noreturn]] void blame(std::uint64_t p, const std::vector<std::size_t>& choice, const std::string& err) const {
    auto value_text = [&](std::size_t c) {
      const json& v = s_.columns[c].values[choice[c]];
      return s_.columns[c].key + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    };
    for (std::size_t c = 0; c < s_.columns.size(); ++c) {
      json doc = s_.trace_doc;
      set_value(doc, s_.columns[c], s_.columns[c].values[choice[c]]);
      if (problem(doc) == err)
        throw sweep_error(s_.origin + ": " + s_.columns[c].place + "[" + std::to_string(choice[c]) +
                          "] (" + trace::detail::describe(s_.columns[c].values[choice[c]]) + "): " + err);
    }
    for (const dimension& d : s_.dims) {
      if (d.columns.size() < 2) continue;
      json doc = s_.trace_doc;
      std::string values;
      for (std::size_t c : d.columns) {
        set_value(doc, s_.columns[c], s_.columns[c].values[choice[c]]);
        values += (values.empty() ? "" : ", ") + value_text(c);
      }
      if (problem(doc) == err)
        throw sweep_error(s_.origin + ": " + d.place + " row " + std::to_string(choice[d.columns[0]]) +
                          " (" + values + "): " + err);
    }
    throw sweep_error(s_.origin + ": point " + std::to_string(p) + " (" + describe_point(s_, p) + "): " + err);
  }

  const spec& s_;
  std::set<std::string> checked_;
};

}  // namespace

const json* find_metric(const json& report, std::string_view path, std::string& why) {
  const json* cur = &report;
  std::string at;
  for (std::size_t pos = 0;;) {
    const std::size_t dot = path.find('.', pos);
    const std::string_view seg = path.substr(pos, dot == path.npos ? path.npos : dot - pos);
    cur = step(*cur, seg, at, why);
    if (!cur) return nullptr;
    if (!at.empty()) at += '.';
    at.append(seg);
    if (dot == path.npos) break;
    pos = dot + 1;
  }
  if (cur->is_object() && !cur->empty()) {
    why = "'" + at + "' is a group, not one value (as '" + at + "." + cur->begin().key() + "')";
    return nullptr;
  }
  if (cur->is_structured()) {
    why = "'" + at + "' is a list or group, not one value";
    return nullptr;
  }
  return cur;
}

void validate_spec(const spec& s) {
  validator v(s);
  for (std::uint64_t p = 0; p < s.nr_points; ++p) v.check_point(p);
}

}  // namespace mmsim::sim::sweep
