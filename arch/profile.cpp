#include "arch/profile.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace mmsim::arch {

extern const std::pair<std::string_view, std::string_view> builtin_profiles[];
extern const unsigned nr_builtin_profiles;

namespace {

using nlohmann::json;

template <class T>
void read_value(const json& values, const char* key, T& out, std::string_view origin) {
  auto err = [&](const std::string& what) {
    return profile_error(std::string(origin) + ": values." + key + ": " + what);
  };
  if (!values.contains(key)) throw err("missing");
  const json& v = values.at(key);
  if (!v.is_object() || !v.contains("value") || !v.contains("source") || v.size() != 2)
    throw err("expected {\"value\": ..., \"source\": \"...\"}");
  if (!v.at("source").is_string() || v.at("source").get<std::string>().empty())
    throw err("source must name where the number comes from, or say \"estimate\"");
  const json& x = v.at("value");
  if constexpr (std::is_same_v<T, double>) {
    if (!x.is_number() || x.get<double>() <= 0) throw err("expected a positive number");
    out = x.get<double>();
  } else {
    if (!x.is_number_unsigned()) throw err("expected an unsigned integer");
    const auto v = x.get<std::uint64_t>();
    if (v > std::numeric_limits<T>::max()) throw err("value too large");
    out = static_cast<T>(v);
  }
}

}  // namespace

cpu_profile parse_profile(std::string_view text, std::string_view origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw profile_error(std::string(origin) + ": " + e.what());
  }
  cpu_profile p;
  for (const char* k : {"name", "arch", "description"})
    if (!j.contains(k) || !j.at(k).is_string())
      throw profile_error(std::string(origin) + ": '" + k + "' must be a string");
  p.name = j.at("name").get<std::string>();
  p.arch = j.at("arch").get<std::string>();
  p.description = j.at("description").get<std::string>();
  if (p.arch != "x86_64" && p.arch != "arm64")
    throw profile_error(std::string(origin) + ": arch must be x86_64 or arm64");
  for (auto& [k, v] : j.items())
    if (k != "name" && k != "arch" && k != "description" && k != "values")
      throw profile_error(std::string(origin) + ": unknown key '" + k + "'");
  if (!j.contains("values") || !j.at("values").is_object())
    throw profile_error(std::string(origin) + ": 'values' must be an object");
  const json& values = j.at("values");
  std::set<std::string> known;
#define X(key, member, kind)                      \
  read_value(values, #key, p.member, origin);      \
  known.insert(#key);
  MMSIM_PROFILE_FIELDS(X)
#undef X
  for (auto& [k, v] : values.items())
    if (!known.count(k)) throw profile_error(std::string(origin) + ": values." + k + ": unknown value");
  for (const tlb_geometry* g : {&p.dtlb_4k, &p.dtlb_2m, &p.dtlb_1g})
    if (g->entries && (g->ways == 0 || g->entries % g->ways))
      throw profile_error(std::string(origin) + ": TLB entries must be a multiple of ways");
  return p;
}

std::vector<std::string> profile_names() {
  std::vector<std::string> names;
  for (unsigned i = 0; i < nr_builtin_profiles; ++i) names.emplace_back(builtin_profiles[i].first);
  std::sort(names.begin(), names.end());
  return names;
}

cpu_profile load_profile(std::string_view name) {
  for (unsigned i = 0; i < nr_builtin_profiles; ++i)
    if (builtin_profiles[i].first == name)
      return parse_profile(builtin_profiles[i].second, "arch/profiles/" + std::string(name) + ".json");
  std::string known;
  for (auto& n : profile_names()) known += (known.empty() ? "" : ", ") + n;
  throw profile_error("unknown cpu_model '" + std::string(name) + "'; known: " + known);
}

const char* default_profile(std::string_view arch) {
  return arch == "arm64" ? "neoverse-n1" : "skylake";
}

}  // namespace mmsim::arch
