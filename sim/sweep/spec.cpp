// Sweep specs: parse, expand into points, apply a point to the trace. A point's values are set
// in the trace's JSON and the result is read back by the trace reader, so a varied value gets
// exactly the checks (and the messages) the same value would get written in the trace, and no
// second copy of the reader's rules can drift from it.
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "mm/knobs.hpp"
#include "sim/sweep/detail.hpp"
#include "sim/trace/reader.hpp"

namespace mmsim::sim::sweep {

using trace::detail::describe;
using trace::detail::fail;
using trace::detail::join_list;
using trace::detail::object_fields;

namespace {

// Beyond this a sweep is a typo (a 10-valued axis repeated by mistake), not an experiment.
constexpr std::uint64_t MAX_POINTS = 100'000'000, MAX_REPEAT = 1'000'000;
const std::vector<std::string_view> machine_fields = {"arch",   "va_bits", "granule",
                                                      "cpus",   "memory",  "cpu_model"};
// Output columns every row has; a metric or key of the same name would make rows ambiguous.
const std::vector<std::string_view> fixed_columns = {"point", "status", "error", "mmsim_version"};

std::string keyed(std::string_view base, std::string_view key) {
  return std::string(base) + "[\"" + std::string(key) + "\"]";
}
std::string indexed(const std::string& base, std::size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

// Linux's sysfs takes text; JSON 1/0 and true/false both mean what the trace reader says.
std::string knob_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  return v.dump();
}

// "ops[12].len" -> 12 and "len"; nullopt if `key` is not of that form.
std::optional<std::pair<std::size_t, std::string>> op_key(std::string_view key) {
  if (!key.starts_with("ops[")) return std::nullopt;
  const auto close = key.find("].");
  if (close == key.npos || close == 4) return std::nullopt;
  const std::string_view digits = key.substr(4, close - 4);
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;  // one spelling per op
  std::size_t i = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return std::pair{i, std::string(key.substr(close + 2))};
}

// What a key names; the values are checked separately.
column read_key(const std::string& key, const std::string& place, const json& trace_doc) {
  column c{key, place, target::seed, {}, 0, {}};
  const auto dot = key.find('.');
  const std::string head = key.substr(0, dot), rest = dot == key.npos ? "" : key.substr(dot + 1);
  if (key == "seed") return c;
  if (head == "kernel" && !rest.empty()) {
    if (!mm::find_knob(rest)) fail(place, "unknown knob '" + rest + "' (`mmsim knobs` lists them)");
    c.what = target::kernel;
  } else if (head == "machine" && !rest.empty()) {
    if (std::ranges::find(machine_fields, rest) == machine_fields.end())
      fail(place, "unknown machine field '" + rest + "' (expected " + join_list(machine_fields) + ")");
    c.what = target::machine;
  } else if (auto op = op_key(key)) {
    const std::size_t n = trace_doc.at("ops").size();
    if (op->first >= n)
      fail(place, "the trace has " + std::to_string(n) + " ops (ops[0] to ops[" +
                      std::to_string(n ? n - 1 : 0) + "])");
    if (op->second == "op") fail(place, "the kind of an op cannot be varied, only its fields");
    if (op->second.empty() || op->second.find_first_of(".[") != std::string::npos)
      fail(place, "expected a field of the op, as in ops[3].len");
    c.what = target::op;
    c.op_index = op->first;
    c.name = op->second;
    return c;
  } else {
    fail(place, "unknown key (expected kernel.<knob>, machine.<field>, ops[<i>].<field> or seed)");
  }
  c.name = rest;
  return c;
}

// A column's value list: scalars only (a row cell holds one), each value once.
void read_values(column& c, const json& v) {
  if (!v.is_array() || v.empty()) fail(c.place, describe(v) + " is not a non-empty array of values");
  for (std::size_t i = 0; i < v.size(); ++i) {
    const json& x = v[i];
    const std::string at = indexed(c.place, i);
    if (!x.is_string() && !x.is_boolean() && !(x.is_number_integer()))
      fail(at, describe(x) + " is not a string, integer or bool");
    // A value is a cell of a line-based CSV.
    if (x.is_string() && x.get_ref<const std::string&>().find_first_of("\r\n") != std::string::npos)
      fail(at, describe(x) + " holds a line break");
    for (std::size_t j = 0; j < i; ++j)
      if (v[j] == x) fail(at, describe(x) + " repeats " + indexed(c.place, j));
    // A knob's value does not depend on the rest of the point, so it is checked here, once.
    if (c.what == target::kernel) {
      mm::kernel_knobs scratch = mm::default_knobs();
      std::string err = mm::set_knob(scratch, c.name, knob_text(x));
      const std::string redundant = "knob '" + c.name + "': ";
      if (err.starts_with(redundant)) err = err.substr(redundant.size());
      if (!err.empty()) fail(at, err);  // set_knob's message quotes the value
    }
    c.values.push_back(x);
  }
}

class spec_reader {
 public:
  spec_reader(spec& s, const std::filesystem::path& base_dir) : s_(s), base_dir_(base_dir) {}

  void read(const json& doc) {
    if (!doc.is_object()) fail("", "the top level is " + describe(doc) + ", not an object");
    const object_fields f(doc, "", {"format", "version", "name", "description", "trace", "workload",
                                    "params", "grid", "zip", "seeds", "repeat", "metrics"});
    if (const json* v = f.find("format"); v && *v != "mmsim-sweep")
      fail("format", describe(*v) + " is not \"mmsim-sweep\"");
    if (const json* v = f.find("version"); v && *v != 1)
      fail("version", describe(*v) + " is not supported (this build reads version 1)");
    if (const json* v = f.find("name")) trace::detail::string_value(*v, "name");
    if (const json* v = f.find("description")) trace::detail::string_value(*v, "description");
    if (f.has("workload")) fail("workload", "workload generators are not supported yet (give \"trace\")");
    if (f.has("params")) fail("params", "generator parameters are not supported yet");
    read_trace(f.need("trace"));
    if (const json* g = f.find("grid")) read_grid(*g);
    if (const json* z = f.find("zip")) read_zip(*z);
    read_seeds(f.find("seeds"), f.find("repeat"));
    read_metrics(f.need("metrics"));
    count_points();
  }

 private:
  void read_trace(const json& v) {
    const std::string& rel = trace::detail::string_value(v, "trace");
    if (rel.empty()) fail("trace", "must name a trace file");
    const auto path = (base_dir_ / rel).lexically_normal();
    s_.trace_origin = path.string();
    std::ifstream in(path, std::ios::binary);
    if (!in || std::filesystem::is_directory(path)) fail("trace", "cannot open " + s_.trace_origin);
    std::ostringstream text;
    text << in.rdbuf();
    try {
      trace::parse_trace(text.str(), s_.trace_origin);  // the base trace must be valid on its own
      s_.trace_doc = trace::detail::parse_json_text(text.str());
    } catch (const trace::trace_error& e) {
      fail("trace", e.what());
    }
  }

  void add_column(column c) {
    for (auto& o : s_.columns)
      if (o.key == c.key) fail(c.place, "'" + c.key + "' is already varied by " + o.place);
    if (std::ranges::find(fixed_columns, c.key) != fixed_columns.end())
      fail(c.place, "'" + c.key + "' is a fixed output column");
    s_.columns.push_back(std::move(c));
  }

  column read_entry(const std::string& key, const std::string& place, const json& values) {
    column c = read_key(key, place, s_.trace_doc);
    read_values(c, values);
    return c;
  }

  void read_grid(const json& g) {
    if (!g.is_object()) fail("grid", describe(g) + " is not an object");
    for (const auto& item : g.items()) {
      column c = read_entry(item.key(), keyed("grid", item.key()), item.value());
      s_.dims.push_back({{s_.columns.size()}, c.values.size(), {}});
      add_column(std::move(c));
    }
  }

  // One object is one group; an array of objects is several groups, each its own dimension.
  void read_zip(const json& z) {
    if (z.is_object()) return read_zip_group(z, "zip");
    if (!z.is_array() || z.empty()) fail("zip", describe(z) + " is not an object or a non-empty array of objects");
    for (std::size_t i = 0; i < z.size(); ++i) {
      if (!z[i].is_object()) fail(indexed("zip", i), describe(z[i]) + " is not an object");
      read_zip_group(z[i], indexed("zip", i));
    }
  }

  void read_zip_group(const json& z, const std::string& where) {
    if (z.empty()) fail(where, "an empty zip varies nothing");
    dimension d{{}, 0, where};
    std::string first;
    for (const auto& item : z.items()) {
      column c = read_entry(item.key(), keyed(where, item.key()), item.value());
      if (d.columns.empty()) {
        d.size = c.values.size();
        first = c.place;
      } else if (c.values.size() != d.size) {
        fail(c.place, "has " + std::to_string(c.values.size()) + " values, " + first + " has " +
                          std::to_string(d.size) + " (zipped lists vary together)");
      }
      d.columns.push_back(s_.columns.size());
      add_column(std::move(c));
    }
    s_.dims.push_back(std::move(d));
  }

  // "seeds": [1, 5, 9] or "repeat": N (seeds base .. base + N - 1) add a seed column that varies
  // fastest, so the repeats of one setting sit next to each other.
  void read_seeds(const json* seeds, const json* repeat) {
    if (!seeds && !repeat) return;
    if (seeds && repeat) fail("repeat", "give either 'seeds' or 'repeat', not both");
    column c{"seed", seeds ? "seeds" : "repeat", target::seed, {}, 0, {}};
    if (seeds) {
      read_values(c, *seeds);
      for (std::size_t i = 0; i < c.values.size(); ++i)
        if (!c.values[i].is_number_unsigned())
          fail(indexed("seeds", i), describe(c.values[i]) + " is not an unsigned integer");
    } else {
      const auto n = trace::detail::uint_value(*repeat, "repeat", 1, MAX_REPEAT);
      const json* base = s_.trace_doc.contains("seed") ? &s_.trace_doc["seed"] : nullptr;
      const std::uint64_t first = base ? base->get<std::uint64_t>() : trace::trace{}.seed;
      if (first > UINT64_MAX - n) fail("repeat", "the trace's seed + repeat overflows 64 bits");
      for (std::uint64_t i = 0; i < n; ++i) c.values.push_back(first + i);
    }
    s_.dims.push_back({{s_.columns.size()}, c.values.size(), {}});
    add_column(std::move(c));
  }

  void read_metrics(const json& m) {
    if (!m.is_array() || m.empty()) fail("metrics", describe(m) + " is not a non-empty array of report paths");
    for (std::size_t i = 0; i < m.size(); ++i) {
      const std::string at = indexed("metrics", i);
      const std::string& p = trace::detail::string_value(m[i], at);
      if (p.empty() || p.front() == '.' || p.back() == '.' || p.find("..") != p.npos)
        fail(at, describe(m[i]) + " is not a dotted report path such as \"vmstat.pgfault\"");
      if (std::ranges::find(s_.metrics, p) != s_.metrics.end()) fail(at, describe(m[i]) + " is listed twice");
      if (std::ranges::find(fixed_columns, p) != fixed_columns.end())
        fail(at, describe(m[i]) + " is a fixed output column");
      for (auto& c : s_.columns)
        if (c.key == p) fail(at, describe(m[i]) + " is already the column of " + c.place);
      s_.metrics.push_back(p);
    }
  }

  void count_points() {
    for (auto& d : s_.dims) {
      if (s_.nr_points > MAX_POINTS / d.size)
        fail("grid", "more than " + std::to_string(MAX_POINTS) + " points");
      s_.nr_points *= d.size;
    }
  }

  spec& s_;
  const std::filesystem::path& base_dir_;
};

}  // namespace

spec parse_spec(std::string_view text, const std::string& origin, const std::filesystem::path& base_dir) {
  spec s;
  s.origin = origin;
  try {
    spec_reader(s, base_dir).read(trace::detail::parse_json_text(text));
  } catch (const trace::trace_error& e) {
    throw sweep_error(origin + ": " + e.what());
  }
  return s;
}

spec read_spec_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path)) throw sweep_error(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_spec(text.str(), path, std::filesystem::path(path).parent_path());
}

std::vector<std::size_t> point_choice(const spec& s, std::uint64_t index) {
  std::vector<std::size_t> choice(s.columns.size(), 0);
  for (auto d = s.dims.rbegin(); d != s.dims.rend(); ++d) {
    for (std::size_t c : d->columns) choice[c] = static_cast<std::size_t>(index % d->size);
    index /= d->size;
  }
  return choice;
}

std::string describe_point(const spec& s, std::uint64_t index) {
  const auto choice = point_choice(s, index);
  std::string out;
  for (std::size_t c = 0; c < s.columns.size(); ++c) {
    const json& v = s.columns[c].values[choice[c]];
    out += (c ? ", " : "") + s.columns[c].key + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out.empty() ? "the trace as written" : out;
}

void set_value(json& doc, const column& c, const json& v) {
  switch (c.what) {
    case target::seed: doc["seed"] = v; break;
    case target::kernel: doc["kernel"][c.name] = v; break;
    case target::machine: doc["machine"][c.name] = v; break;
    case target::op: doc["ops"][c.op_index][c.name] = v; break;
  }
}

trace::trace resolve_point(const spec& s, std::uint64_t index) {
  const auto choice = point_choice(s, index);
  json doc = s.trace_doc;
  for (std::size_t c = 0; c < s.columns.size(); ++c)
    set_value(doc, s.columns[c], s.columns[c].values[choice[c]]);
  return trace::parse_trace(doc.dump(), s.trace_origin);
}

}  // namespace mmsim::sim::sweep
