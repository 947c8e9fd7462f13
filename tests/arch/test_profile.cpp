// CPU profiles: every built-in loads and is sane, and the parser rejects anything unknown,
// missing, unsourced or ill-typed, saying where.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "arch/profile.hpp"

using namespace mmsim::arch;
using nlohmann::json;
using Catch::Matchers::Contains;

namespace {

const char* const value_keys[] = {
#define X(key, member, kind) #key,
    MMSIM_PROFILE_FIELDS(X)
#undef X
};

/// A valid profile in which every value is different, so a value landing in the wrong member
/// shows up.
json valid_profile() {
  json values = json::object();
  unsigned n = 0;
  for (const char* k : value_keys) values[k] = {{"value", 100 + n++}, {"source", "estimate"}};
  values["ghz"]["value"] = 2.5;
  values["dtlb_4k_entries"]["value"] = 64;
  values["dtlb_4k_ways"]["value"] = 4;
  values["dtlb_2m_entries"]["value"] = 32;
  values["dtlb_2m_ways"]["value"] = 8;
  values["dtlb_1g_entries"]["value"] = 6;
  values["dtlb_1g_ways"]["value"] = 2;
  return {{"name", "unit"}, {"arch", "x86_64"}, {"description", "for tests"}, {"values", values}};
}

cpu_profile parse(const json& j) { return parse_profile(j.dump(2), "unit.json"); }

}  // namespace

TEST_CASE("every built-in profile loads and is sane", "[arch][profile]") {
  const auto names = profile_names();
  REQUIRE_FALSE(names.empty());
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
  for (const auto& name : names) {
    CAPTURE(name);
    const cpu_profile p = load_profile(name);
    CHECK(p.name == name);
    CHECK((p.arch == "x86_64" || p.arch == "arm64"));
    CHECK_FALSE(p.description.empty());
    CHECK(p.ghz > 0);
    for (const tlb_geometry* g : {&p.dtlb_4k, &p.dtlb_2m, &p.dtlb_1g}) {
      if (g->entries == 0) continue;
      REQUIRE(g->ways > 0);
      CHECK(g->entries % g->ways == 0);
      CHECK(g->ways <= g->entries);
    }
    CHECK(p.access_cycles > 0);
    CHECK(p.walk_read_cycles > 0);
  }
}

TEST_CASE("the built-in profiles include skylake, the x86_64 default", "[arch][profile]") {
  const auto names = profile_names();
  CHECK(std::find(names.begin(), names.end(), "skylake") != names.end());
  CHECK(std::string(default_profile("x86_64")) == "skylake");
  const cpu_profile p = load_profile(default_profile("x86_64"));
  CHECK(p.arch == "x86_64");
  CHECK(p.dtlb_4k.entries == 64);
  CHECK(p.dtlb_4k.ways == 4);
}

TEST_CASE("loading an unknown profile throws profile_error listing the known names",
          "[arch][profile]") {
  CHECK_THROWS_AS(load_profile("nope"), profile_error);
  CHECK_THROWS_WITH(load_profile("nope"), Contains("nope"));
  for (const auto& name : profile_names()) CHECK_THROWS_WITH(load_profile("nope"), Contains(name));
  CHECK_THROWS_AS(load_profile(""), profile_error);
  CHECK_THROWS_AS(load_profile("Skylake"), profile_error);  // names are exact
}

TEST_CASE("parse_profile puts every value in its own member", "[arch][profile]") {
  const json j = valid_profile();
  const cpu_profile p = parse(j);
  CHECK(p.name == "unit");
  CHECK(p.arch == "x86_64");
  CHECK(p.description == "for tests");
#define X(key, member, kind) \
  CHECK(static_cast<double>(p.member) == j["values"][#key]["value"].get<double>());
  MMSIM_PROFILE_FIELDS(X)
#undef X
  CHECK(p.dtlb_2m.ways == 8);
  CHECK(p.walk_read_cycles == j["values"]["walk_read_cycles"]["value"].get<cycles_t>());
}

TEST_CASE("parse_profile accepts arm64 and a missing TLB (0 entries)", "[arch][profile]") {
  json j = valid_profile();
  j["arch"] = "arm64";
  j["values"]["dtlb_1g_entries"]["value"] = 0;
  j["values"]["dtlb_1g_ways"]["value"] = 0;
  const cpu_profile p = parse(j);
  CHECK(p.arch == "arm64");
  CHECK(p.dtlb_1g.entries == 0);
}

TEST_CASE("parse_profile rejects malformed profiles and says what and where", "[arch][profile]") {
  json j = valid_profile();
  REQUIRE_NOTHROW(parse(j));

  SECTION("an unknown top-level key") {
    j["colour"] = "blue";
    CHECK_THROWS_AS(parse(j), profile_error);
    CHECK_THROWS_WITH(parse(j), Contains("unit.json") && Contains("unknown key 'colour'"));
  }
  SECTION("an unknown value key") {
    j["values"]["dtlb_3m_entries"] = {{"value", 4}, {"source", "estimate"}};
    CHECK_THROWS_WITH(parse(j), Contains("values.dtlb_3m_entries") && Contains("unknown value"));
  }
  SECTION("a missing value") {
    j["values"].erase("walk_read_cycles");
    CHECK_THROWS_WITH(parse(j), Contains("values.walk_read_cycles") && Contains("missing"));
  }
  SECTION("a value without a source") {
    j["values"]["invlpg_cycles"].erase("source");
    CHECK_THROWS_WITH(parse(j), Contains("values.invlpg_cycles") && Contains("source"));
  }
  SECTION("a bare number instead of {value, source}") {
    j["values"]["invlpg_cycles"] = 300;
    CHECK_THROWS_WITH(parse(j), Contains("values.invlpg_cycles") && Contains("\"value\""));
  }
  SECTION("an extra field next to value and source") {
    j["values"]["invlpg_cycles"]["note"] = "x";
    CHECK_THROWS_WITH(parse(j), Contains("values.invlpg_cycles"));
  }
  SECTION("an empty source") {
    j["values"]["zero_4k_cycles"]["source"] = "";
    CHECK_THROWS_WITH(parse(j), Contains("values.zero_4k_cycles") && Contains("estimate"));
  }
  SECTION("a source that is not a string") {
    j["values"]["zero_4k_cycles"]["source"] = 12;
    CHECK_THROWS_WITH(parse(j), Contains("values.zero_4k_cycles") && Contains("source"));
  }
  SECTION("a negative number where an unsigned is required") {
    j["values"]["trap_entry_cycles"]["value"] = -440;
    CHECK_THROWS_WITH(parse(j), Contains("values.trap_entry_cycles") && Contains("unsigned"));
  }
  SECTION("a fraction where an unsigned is required") {
    j["values"]["dtlb_4k_ways"]["value"] = 4.5;
    CHECK_THROWS_WITH(parse(j), Contains("values.dtlb_4k_ways") && Contains("unsigned"));
  }
  SECTION("a string where a number is required") {
    j["values"]["access_cycles"]["value"] = "4";
    CHECK_THROWS_WITH(parse(j), Contains("values.access_cycles") && Contains("unsigned"));
  }
  SECTION("a zero, negative or non-numeric clock") {
    j["values"]["ghz"]["value"] = GENERATE(as<json>{}, 0, -3.0, "3GHz");
    CHECK_THROWS_WITH(parse(j), Contains("values.ghz") && Contains("positive"));
  }
  SECTION("TLB entries that are not a multiple of the ways") {
    j["values"]["dtlb_2m_entries"]["value"] = 30;
    CHECK_THROWS_WITH(parse(j), Contains("unit.json") && Contains("multiple of ways"));
  }
  SECTION("a TLB with entries but zero ways") {
    j["values"]["dtlb_4k_ways"]["value"] = 0;
    CHECK_THROWS_WITH(parse(j), Contains("multiple of ways"));
  }
  SECTION("an unknown architecture") {
    j["arch"] = "riscv64";
    CHECK_THROWS_WITH(parse(j), Contains("arch must be x86_64 or arm64"));
  }
  SECTION("a missing or non-string name") {
    j["name"] = 3;
    CHECK_THROWS_WITH(parse(j), Contains("'name' must be a string"));
  }
  SECTION("values that is not an object") {
    j["values"] = json::array();
    CHECK_THROWS_WITH(parse(j), Contains("'values' must be an object"));
  }
  SECTION("text that is not JSON") {
    CHECK_THROWS_AS(parse_profile("{\"name\": ", "broken.json"), profile_error);
    CHECK_THROWS_WITH(parse_profile("{\"name\": ", "broken.json"), Contains("broken.json"));
  }
}

TEST_CASE("parse_profile rejects a value too large for its field instead of truncating it",
          "[arch][profile]") {
  // TLB geometry is `unsigned`; 2^32 + 64 must not silently become 64.
  json j = valid_profile();
  j["values"]["dtlb_4k_entries"]["value"] =
      std::uint64_t{std::numeric_limits<unsigned>::max()} + 1 + 64;
  CHECK_THROWS_AS(parse(j), profile_error);
}
