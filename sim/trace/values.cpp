#include "sim/trace/values.hpp"

#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "sim/trace/ops.hpp"

namespace mmsim::sim::trace {
namespace detail {
namespace {

enum class size_status { ok, bad_syntax, overflow };

// One parser for both parse_size and the reader, which wants to tell "too large" from "typo".
size_status parse_size_status(std::string_view s, std::uint64_t& out) {
  int base = 10;
  unsigned shift = 0;
  constexpr std::string_view suffixes = "KMGT";  // binary: K = 2^10, M = 2^20, ...
  if (s.size() > 2 && s.substr(0, 2) == "0x") {
    base = 16;
    s.remove_prefix(2);
  } else if (auto pos = s.empty() ? s.npos : suffixes.find(s.back()); pos != s.npos) {
    shift = 10 * static_cast<unsigned>(pos + 1);
    s.remove_suffix(1);
  }
  // from_chars takes no sign, space or prefix for unsigned types, so requiring it to consume
  // everything is the whole syntax check.
  if (s.empty()) return size_status::bad_syntax;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec == std::errc::invalid_argument || end != s.data() + s.size())
    return size_status::bad_syntax;
  if (ec == std::errc::result_out_of_range) return size_status::overflow;
  if (v > (UINT64_MAX >> shift)) return size_status::overflow;
  out = v << shift;
  return size_status::ok;
}

// Tracks where the parser is, so a duplicate key can be reported as "ops[3]: duplicate ...".
class duplicate_key_finder {
 public:
  bool operator()(int, json::parse_event_t ev, json& parsed) {
    using e = json::parse_event_t;
    if (!first_.empty()) return true;
    switch (ev) {
      case e::object_start:
      case e::array_start: {
        element_started();
        frames_.push_back({ev == e::object_start, child_is_free_form(), {}, {}, 0});
        break;
      }
      case e::object_end:
      case e::array_end:
        frames_.pop_back();
        break;
      case e::key: {
        frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second && !f.free_form)
          first_ = place() + ": duplicate field '" + f.key + "'";
        break;
      }
      case e::value:
        element_started();
        break;
    }
    return true;
  }
  const std::string& first() const { return first_; }

 private:
  struct frame {
    bool is_object;
    bool free_form;  // inside an x- annotation, which is the author's business
    std::set<std::string> keys;
    std::string key;    // object: the key being parsed
    std::size_t count;  // array: elements seen so far
  };
  bool child_is_free_form() const {
    if (frames_.empty()) return false;
    const frame& parent = frames_.back();
    return parent.free_form || (parent.is_object && is_annotation(parent.key));
  }
  void element_started() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().count;
  }
  // The path of the innermost object, i.e. every frame but the last.
  std::string place() const {
    std::string p;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      const frame& f = frames_[i];
      p = f.is_object ? join_path(p, f.key) : p + "[" + std::to_string(f.count - 1) + "]";
    }
    return p.empty() ? "top level" : p;
  }

  std::vector<frame> frames_;
  std::string first_;
};

std::string strip_exception_id(const std::string& what) {
  // "[json.exception.parse_error.101] parse error at line 3, column 7: ..." -> from "parse".
  if (!what.empty() && what[0] == '[') {
    auto close = what.find("] ");
    if (close != std::string::npos) return what.substr(close + 2);
  }
  return what;
}

}  // namespace

}  // namespace detail

std::optional<std::uint64_t> parse_size(std::string_view s) {
  std::uint64_t v = 0;
  if (detail::parse_size_status(s, v) != detail::size_status::ok) return std::nullopt;
  return v;
}

namespace detail {

json parse_json_text(std::string_view text) {
  duplicate_key_finder finder;
  json doc;
  try {
    // std::ref: the parser copies its callback, and the copy would keep the finding.
    doc = json::parse(text.begin(), text.end(), std::ref(finder));
  } catch (const nlohmann::json::exception& e) {
    throw trace_error("invalid JSON: " + strip_exception_id(e.what()));
  }
  if (!finder.first().empty()) throw trace_error(finder.first());
  return doc;
}

void fail(const std::string& where, const std::string& problem) {
  throw trace_error(where.empty() ? problem : where + ": " + problem);
}

std::string join_path(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

std::string describe(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr std::size_t max = 60;
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

bool is_annotation(std::string_view key) { return key.substr(0, 2) == "x-"; }

std::uint64_t size_value(const json& v, const std::string& where) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  const char* syntax =
      " (expected an unsigned integer, or a string: decimal, 0x hex, or a number "
      "with suffix K, M, G or T)";
  if (v.is_string()) {
    std::uint64_t out = 0;
    switch (parse_size_status(v.get_ref<const std::string&>(), out)) {
      case size_status::ok:
        return out;
      case size_status::overflow:
        fail(where, describe(v) + " is too large for 64 bits");
      case size_status::bad_syntax:
        break;
    }
  }
  fail(where, describe(v) + " is not a size" + syntax);
}

std::uint64_t uint_value(const json& v, const std::string& where, std::uint64_t lo,
                         std::uint64_t hi) {
  if (!v.is_number_unsigned()) fail(where, describe(v) + " is not an unsigned integer");
  const auto x = v.get<std::uint64_t>();
  if (x < lo || x > hi)
    fail(where, describe(v) + " is out of range (expected " +
                    (hi == UINT64_MAX ? "at least " + std::to_string(lo)
                                      : std::to_string(lo) + ".." + std::to_string(hi)) +
                    ")");
  return x;
}

std::int64_t int_value(const json& v, const std::string& where) {
  if (v.is_number_unsigned() && v.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.get<std::uint64_t>());
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<std::int64_t>();
  fail(where, describe(v) + " is not a 64-bit integer");
}

bool bool_value(const json& v, const std::string& where) {
  if (!v.is_boolean()) fail(where, describe(v) + " is not true or false");
  return v.get<bool>();
}

const std::string& string_value(const json& v, const std::string& where) {
  if (!v.is_string()) fail(where, describe(v) + " is not a string");
  return v.get_ref<const std::string&>();
}

unsigned prot_value(const json& v, const std::string& where) {
  return enum_value<unsigned>(v, where, "protection",
                              {{"none", PROT_NONE},
                               {"r", PROT_READ},
                               {"rw", PROT_READ | PROT_WRITE},
                               {"rx", PROT_READ | PROT_EXEC},
                               {"rwx", PROT_READ | PROT_WRITE | PROT_EXEC}});
}

unsigned mmap_flags_value(const json& v, const std::string& where) {
  if (!v.is_array()) fail(where, describe(v) + " is not an array of flags");
  unsigned flags = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const unsigned f = enum_value<unsigned>(v[i], at, "flag",
                                            {{"private", MF_PRIVATE},
                                             {"shared", MF_SHARED},
                                             {"anonymous", MF_ANONYMOUS},
                                             {"fixed", MF_FIXED},
                                             {"hugetlb", MF_HUGETLB},
                                             {"populate", MF_POPULATE},
                                             {"noreserve", MF_NORESERVE}});
    // Harmless to Linux, but in a hand-written list it is usually a slip for another flag.
    if (flags & f) fail(at, describe(v[i]) + " is listed twice");
    flags |= f;
  }
  return flags;
}

object_fields::object_fields(const json& v, std::string where, std::vector<std::string_view> known,
                             std::string_view owner)
    : obj_(v), where_(std::move(where)) {
  if (!v.is_object()) fail(where_, describe(v) + " is not an object");
  for (const auto& item : v.items()) {
    const std::string& key = item.key();
    if (is_annotation(key)) continue;
    bool ok = false;
    for (auto k : known) ok = ok || k == key;
    if (ok) continue;
    std::string list;
    for (auto k : known) list += std::string(k) + ", ";
    std::string msg = "unknown field '" + key + "'";
    if (!owner.empty()) msg += " for " + std::string(owner);
    fail(where_, msg + " (expected " + list + "or x-...)");
  }
}

const json* object_fields::find(std::string_view key) const {
  auto it = obj_.find(key);
  return it == obj_.end() ? nullptr : &*it;
}

const json& object_fields::need(std::string_view key) const {
  if (const json* v = find(key)) return *v;
  fail(where_, "missing field '" + std::string(key) + "'");
}

}  // namespace detail
}  // namespace mmsim::sim::trace
