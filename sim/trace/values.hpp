// Scalar values of a trace (sizes, counts, names) and the strict field checks the reader is
// built from. Every check throws trace_error naming the place ("ops[17].stride") so a typo in
// a hand-written trace is reported where it is, never silently defaulted.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mmsim::sim::trace {

/// Bad input. The message is "<file>: <place>: <problem>", ready to print.
struct trace_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// "4096", "0x7f0000000000" or a decimal number with a binary suffix K, M, G, T ("2M").
/// nullopt for anything else, including values beyond 2^64 - 1.
std::optional<std::uint64_t> parse_size(std::string_view s);

// Helpers for sim/trace/reader.cpp, kept out of the way of code that includes reader.hpp.
namespace detail {

// Ordered, so kernel knobs and vmstat expectations keep the order the author wrote.
using json = nlohmann::ordered_json;

/// Parses JSON text, rejecting duplicate keys (the parser would keep only one of them).
/// Throws trace_error without a file prefix; the caller adds it.
json parse_json_text(std::string_view text);

[[noreturn]] void fail(const std::string& where, const std::string& problem);
/// "ops[3]" + "len" -> "ops[3].len"; "" + "machine" -> "machine".
std::string join_path(const std::string& where, std::string_view key);
/// A value as JSON, shortened for messages.
std::string describe(const json& v);
bool is_annotation(std::string_view key);  // "x-..." keys are free-form

std::uint64_t size_value(const json& v, const std::string& where);
std::uint64_t uint_value(const json& v, const std::string& where, std::uint64_t lo = 0,
                         std::uint64_t hi = UINT64_MAX);
std::int64_t int_value(const json& v, const std::string& where);
bool bool_value(const json& v, const std::string& where);
const std::string& string_value(const json& v, const std::string& where);

/// "r", "rw", "rx", "rwx", "none" -> PROT_* bits (ops.hpp).
unsigned prot_value(const json& v, const std::string& where);
/// ["private", "anonymous", ...] -> MF_* bits (ops.hpp); unknown or repeated names are errors.
unsigned mmap_flags_value(const json& v, const std::string& where);

inline bool one_of(std::string_view s, std::initializer_list<std::string_view> set) {
  for (auto x : set)
    if (x == s) return true;
  return false;
}

/// "a, b or c", for the "expected ..." part of messages.
template <class T>
std::string join_list(const std::vector<T>& items, std::string_view last_sep = " or ") {
  std::string s;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) s += i + 1 == items.size() ? last_sep : ", ";
    if constexpr (std::is_arithmetic_v<T>)
      s += std::to_string(items[i]);
    else
      s += items[i];
  }
  return s;
}

template <class T>
struct name_value {
  std::string_view name;
  T value;
};
/// The value whose name the JSON string `v` spells; `what` names the domain in the message.
template <class T>
T enum_value(const json& v, const std::string& where, std::string_view what,
             std::initializer_list<name_value<T>> names) {
  const std::string& s = string_value(v, where);
  std::vector<std::string_view> expected;
  for (auto& nv : names) {
    if (nv.name == s) return nv.value;
    expected.push_back(nv.name);
  }
  fail(where,
       "unknown " + std::string(what) + " '" + s + "' (expected " + join_list(expected) + ")");
}

/// A JSON object whose every key must be one of `known` (or an x- annotation). Checked once at
/// construction, so later lookups can simply treat absence as "use the default".
class object_fields {
 public:
  object_fields(const json& v, std::string where, std::vector<std::string_view> known,
                std::string_view owner = {});

  const json* find(std::string_view key) const;
  const json& need(std::string_view key) const;  // a missing key is an error
  bool has(std::string_view key) const { return find(key) != nullptr; }
  std::string at(std::string_view key) const { return join_path(where_, key); }
  const std::string& where() const { return where_; }

 private:
  const json& obj_;
  std::string where_;
};

}  // namespace detail
}  // namespace mmsim::sim::trace
