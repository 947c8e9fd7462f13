// Sweeps: a spec is checked whole before any point runs and its errors name the spec place;
// the output does not depend on --jobs, --resume or --shard; failed points run again alone.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "sim/sweep/detail.hpp"

using namespace mmsim::sim;
namespace fs = std::filesystem;

namespace {

const std::string thp_trace = std::string(MMSIM_TRACE_DIR) + "/thp/pmd-fault-zero-cow-split.json";

// A fresh directory per test case, removed at the end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static int n = 0;
    path = fs::temp_directory_path() / ("mmsim-test-sweep-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spill(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The spec's JSON around a grid and metrics; the trace is the checked-in THP life cycle, whose
// ops[5] is a 2M write access.
std::string spec_text(const std::string& body) {
  return R"({"trace": ")" + thp_trace + R"(", )" + body + "}";
}
sweep::spec parse(const std::string& body) { return sweep::parse_spec(spec_text(body), "s.json", "."); }

// The message the spec's check (parse, then every point) gives, or "" if it passes.
std::string spec_problem(const std::string& body) {
  try {
    sweep::validate_spec(parse(body));
  } catch (const sweep::sweep_error& e) {
    return e.what();
  }
  return {};
}

const std::string small_grid = R"("grid": {"kernel.transparent_hugepage/enabled": ["always", "never"],
  "ops[5].len": ["4K", "2M"]}, "metrics": ["vmstat.pgfault", "vmstat.thp_fault_alloc",
  "cycles.all.total", "processes.1.Rss", "marks.zero.vmstat.pgfault"])";

sweep::run_summary run(const sweep::spec& s, const std::string& prefix, unsigned jobs = 1,
                       sweep::shard sh = {}, bool resume = false, bool retry = false) {
  std::ostringstream log;
  sweep::run_options o;
  o.out_prefix = prefix;
  o.jobs = jobs;
  o.sh = sh;
  o.resume = resume;
  o.retry_failed = retry;
  return sweep::run_sweep(s, o, log);
}

std::vector<std::vector<std::string>> csv_rows(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(slurp(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    REQUIRE(sweep::csv_split(line, f));
    rows.push_back(f);
  }
  return rows;
}

}  // namespace

TEST_CASE("spec errors name the place in the spec", "[sweep]") {
  CHECK_THAT(spec_problem(R"("grid": {"kernel.transparent_hugepage/enabled": ["always", "madvise", "sometimes"]},
                             "metrics": ["vmstat.pgfault"])"),
             Catch::StartsWith("s.json: grid[\"kernel.transparent_hugepage/enabled\"][2]: 'sometimes'"));
  CHECK_THAT(spec_problem(R"("grid": {"kernel.transparent_hugepage/enable": ["always"]}, "metrics": ["vmstat.pgfault"])"),
             Catch::StartsWith("s.json: grid[\"kernel.transparent_hugepage/enable\"]: unknown knob"));
  CHECK_THAT(spec_problem(R"("grid": {"ops[5].len": ["4K", 0]}, "metrics": ["vmstat.pgfault"])"),
             Catch::StartsWith("s.json: grid[\"ops[5].len\"][1] (0): ") && Catch::EndsWith("ops[5].len: must be > 0"));
  CHECK_THAT(spec_problem(R"("grid": {"ops[5].len": ["4K", "4k"]}, "metrics": ["vmstat.pgfault"])"),
             Catch::Contains("grid[\"ops[5].len\"][1] (\"4k\")") && Catch::Contains("is not a size"));
  CHECK_THAT(spec_problem(R"("grid": {"ops[99].len": ["4K"]}, "metrics": ["vmstat.pgfault"])"),
             Catch::Contains("grid[\"ops[99].len\"]: the trace has 25 ops"));
  CHECK_THAT(spec_problem(R"("grid": {"machine.cpu": [1]}, "metrics": ["vmstat.pgfault"])"),
             Catch::Contains("grid[\"machine.cpu\"]: unknown machine field 'cpu'"));
  CHECK_THAT(spec_problem(R"("zip": {"machine.cpus": [1, 2], "ops[3].cpu": [0]}, "metrics": ["vmstat.pgfault"])"),
             Catch::Contains("zip[\"ops[3].cpu\"]: has 1 values, zip[\"machine.cpus\"] has 2"));
  CHECK_THAT(spec_problem(R"("metrics": ["vmstat.pgfault", "vmstat.pgfalt"])"),
             Catch::Equals("s.json: metrics[1] (\"vmstat.pgfalt\"): no 'pgfalt' in 'vmstat' (did you mean 'pgfault'?)"));
  CHECK_THAT(spec_problem(R"("metrics": ["vmstat"])"), Catch::Contains("metrics[0] (\"vmstat\"): 'vmstat' is a group"));
  CHECK_THAT(spec_problem(R"("gird": {}, "metrics": ["vmstat.pgfault"])"), Catch::Contains("unknown field 'gird'"));
  CHECK_THAT(spec_problem(R"("grid": {"ops[5].len": ["4K", "4K"]}, "metrics": ["vmstat.pgfault"])"),
             Catch::Contains("grid[\"ops[5].len\"][1]: \"4K\" repeats grid[\"ops[5].len\"][0]"));
  CHECK_THAT(spec_problem(R"("seeds": [1, 2], "repeat": 3, "metrics": ["vmstat.pgfault"])"),
             Catch::Contains("repeat: give either 'seeds' or 'repeat'"));
  CHECK_THAT(spec_problem(R"("metrics": ["vmstat.pgfault"], "metrics": ["vmstat.pgfault"])"),
             Catch::Contains("duplicate field 'metrics'"));
  // Generators come with workloads/; until then a spec naming one must not silently do nothing.
  try {
    sweep::parse_spec(R"({"workload": "postcopy", "metrics": ["vmstat.pgfault"]})", "s.json", ".");
    FAIL("a workload spec was accepted");
  } catch (const sweep::sweep_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("workload: workload generators are not supported yet"));
  }
}

TEST_CASE("a value valid only with another value of its point is judged by the whole point", "[sweep]") {
  // ops[3].cpu = 3 alone is out of range for the trace's 2 CPUs, but the zip pairs it with 4.
  CHECK(spec_problem(R"("zip": {"machine.cpus": [1, 4], "ops[3].cpu": [0, 3]}, "metrics": ["vmstat.pgfault"])") == "");
  // In a grid, cpus=1 meets cpu=3: the point is named with all its values.
  CHECK_THAT(spec_problem(R"("grid": {"machine.cpus": [1, 4], "ops[3].cpu": [0, 3]}, "metrics": ["vmstat.pgfault"])"),
             Catch::StartsWith("s.json: point 1 (machine.cpus=1, ops[3].cpu=3): ") &&
                 Catch::EndsWith("ops[3].cpu: 3 is out of range (machine.cpus is 1)"));
  // A metric that exists at point 0 but not at a later point still fails before anything runs.
  CHECK_THAT(spec_problem(R"("grid": {"machine.cpus": [4, 1]}, "metrics": ["tlb.cpu3.walks"])"),
             Catch::Contains("metrics[0] (\"tlb.cpu3.walks\"): no 'cpu3' in 'tlb'") &&
                 Catch::EndsWith("at point 1 (machine.cpus=1)"));
}

TEST_CASE("varied op, machine, kernel and seed values reach the typed trace", "[sweep]") {
  temp_dir d;
  spill(d / "t.json", R"({"format": "mmsim-trace", "version": 1, "seed": 7,
    "kernel": {"transparent_hugepage/enabled": "never"},
    "ops": [
      {"op": "mmap", "addr": "0x7f0000000000", "len": "4M", "prot": "rw", "flags": ["private", "anonymous", "fixed"]},
      {"op": "madvise", "addr": "0x7f0000000000", "len": "2M", "advice": "hugepage"},
      {"op": "access", "addr": "0x7f0000000000", "len": "2M"},
      {"op": "khugepaged", "scans": 1},
      {"op": "munmap", "addr": "0x7f0000000000", "len": "4K"}]})");
  // The trace path is relative to the spec's folder.
  const auto s = sweep::parse_spec(R"({"trace": "t.json", "grid": {
      "ops[0].addr": ["0x7f0000200000"], "ops[0].len": ["8M"],
      "ops[1].addr": ["0x7f0000200000"], "ops[1].len": ["4M"],
      "ops[2].addr": ["0x7f0000201000"], "ops[2].len": ["1M"], "ops[2].stride": ["8K"],
      "ops[2].count": [5], "ops[2].kind": ["atomic"], "ops[2].pattern": ["random"], "ops[2].repeat": [3],
      "ops[3].scans": [1, 4],
      "ops[4].addr": ["0x7f0000400000"], "ops[4].len": ["2M"],
      "machine.cpus": [3], "machine.memory": ["512M"],
      "kernel.transparent_hugepage/enabled": ["always"],
      "kernel.transparent_hugepage/khugepaged/max_ptes_none": [0]},
    "seeds": [11, 12], "metrics": ["vmstat.pgfault"]})",
                                   "s.json", d.path);
  REQUIRE(s.nr_points == 4);
  sweep::validate_spec(s);
  const auto t = sweep::resolve_point(s, 3);  // scans = 4, seed = 12
  namespace tr = mmsim::sim::trace;
  const auto& mm = std::get<tr::mmap_op>(t.ops[0].body);
  CHECK((mm.addr == 0x7f0000200000 && mm.len == 8 << 20));
  const auto& ma = std::get<tr::madvise_op>(t.ops[1].body);
  CHECK((ma.addr == 0x7f0000200000 && ma.len == 4 << 20));
  const auto& a = std::get<tr::access_op>(t.ops[2].body);
  CHECK((a.addr == 0x7f0000201000 && a.len == 1 << 20 && a.stride == 8192 && a.count == 5 && a.repeat == 3));
  CHECK((a.kind == mmsim::arch::access_kind::atomic && a.pattern == tr::access_pattern::random));
  CHECK(std::get<tr::khugepaged_op>(t.ops[3].body).scans == 4);
  const auto& mu = std::get<tr::munmap_op>(t.ops[4].body);
  CHECK((mu.addr == 0x7f0000400000 && mu.len == 2 << 20));
  CHECK((t.machine.cpus == 3 && t.machine.memory == 512 << 20 && t.seed == 12));
  // A knob the trace sets is replaced in place; a new one is added.
  CHECK(t.kernel == std::vector<std::pair<std::string, std::string>>{
                        {"transparent_hugepage/enabled", "always"}, {"transparent_hugepage/khugepaged/max_ptes_none", "0"}});
  CHECK(sweep::describe_point(s, 3).find("ops[3].scans=4") != std::string::npos);
}

TEST_CASE("a typo at the last point stops the sweep before the first point runs", "[sweep]") {
  temp_dir d;
  const auto s = parse(R"("grid": {"ops[5].len": ["4K", "8K", "16K", "0x"]}, "metrics": ["vmstat.pgfault"])");
  CHECK(s.nr_points == 4);
  CHECK_THROWS_WITH(run(s, d / "out"), Catch::Contains("grid[\"ops[5].len\"][3] (\"0x\")"));
  CHECK_FALSE(fs::exists(d / "out.csv"));
  CHECK_FALSE(fs::exists(d / "out.jsonl"));
}

TEST_CASE("a small grid gives one row per point with plausible numbers", "[sweep]") {
  temp_dir d;
  const auto s = parse(small_grid);
  REQUIRE(s.nr_points == 4);
  const auto sum = run(s, d / "out", 2);
  CHECK(sum.ran == 4);
  CHECK(sum.failed == 0);
  const auto rows = csv_rows(d / "out.csv");
  REQUIRE(rows.size() == 5);
  CHECK(rows[0] == std::vector<std::string>{"point", "kernel.transparent_hugepage/enabled", "ops[5].len",
                                            "vmstat.pgfault", "vmstat.thp_fault_alloc", "cycles.all.total",
                                            "processes.1.Rss", "marks.zero.vmstat.pgfault", "status", "error",
                                            "mmsim_version"});
  std::map<std::string, std::vector<std::string>> by;  // "always/2M" -> row
  for (std::size_t i = 1; i < rows.size(); ++i) {
    CHECK(rows[i][0] == std::to_string(i - 1));  // point order
    CHECK(rows[i][8] == "ok");
    CHECK(rows[i][10] != "unknown");  // the library is built with the project version
    by[rows[i][1] + "/" + rows[i][2]] = rows[i];
  }
  auto num = [&](const std::string& k, std::size_t col) { return std::stoll(by.at(k)[col]); };
  // THP: one fault per 2M; no THP: one per 4K page, so a longer write costs more faults.
  CHECK(num("always/2M", 4) > 0);
  CHECK(num("never/2M", 4) == 0);
  CHECK(num("never/2M", 3) > 10 * num("always/2M", 3));
  CHECK(num("never/2M", 3) > num("never/4K", 3));
  CHECK(num("always/2M", 3) == num("always/4K", 3));  // the first write already mapped the THP
  CHECK(num("never/2M", 5) > num("always/2M", 5));    // and faults cost cycles

  // The JSON lines carry the same row with typed values.
  std::istringstream jl(slurp(d / "out.jsonl"));
  std::string line;
  REQUIRE(std::getline(jl, line));
  const auto j = sweep::json::parse(line);
  CHECK(j["point"] == 0);
  CHECK(j["kernel.transparent_hugepage/enabled"] == "always");
  CHECK(j["vmstat.pgfault"] == std::stoll(rows[1][3]));
  CHECK(j["status"] == "ok");
  CHECK(j["error"].is_null());
}

TEST_CASE("--jobs changes nothing in the output", "[sweep]") {
  temp_dir d;
  const auto s = parse(small_grid + R"(, "repeat": 2)");
  run(s, d / "j1", 1);
  run(s, d / "j2", 2);
  run(s, d / "j5", 5);
  CHECK(slurp(d / "j1.csv") == slurp(d / "j2.csv"));
  CHECK(slurp(d / "j1.jsonl") == slurp(d / "j2.jsonl"));
  CHECK(slurp(d / "j1.csv") == slurp(d / "j5.csv"));
  CHECK(csv_rows(d / "j1.csv").size() == 9);
}

TEST_CASE("--resume after a cut output completes it without duplicates", "[sweep]") {
  temp_dir d;
  const auto s = parse(small_grid + R"(, "seeds": [1, 2, 3])");
  run(s, d / "full");
  const std::string csv = slurp(d / "full.csv"), jsonl = slurp(d / "full.jsonl");
  // An interrupted run: the CSV cut in the middle of a row, the JSON lines one row shorter.
  const std::size_t csv_cut = csv.size() * 3 / 5, jsonl_cut = jsonl.rfind('\n', jsonl.size() * 2 / 5 - 1) + 1;
  spill(d / "cut.csv", csv.substr(0, csv_cut));
  spill(d / "cut.jsonl", jsonl.substr(0, jsonl_cut));
  CHECK_THROWS_WITH(run(s, d / "cut"), Catch::Contains("exists (continue it with --resume"));
  const auto sum = run(s, d / "cut", 2, {}, true);
  CHECK(sum.kept > 0);
  CHECK(sum.kept + sum.ran == 12);
  CHECK(slurp(d / "cut.csv") == csv);
  CHECK(slurp(d / "cut.jsonl") == jsonl);
  // Resuming a finished sweep runs nothing and changes nothing.
  CHECK(run(s, d / "cut", 2, {}, true).ran == 0);
  CHECK(slurp(d / "cut.csv") == csv);

  // Another spec's output is refused, not mixed in.
  const auto other = parse(R"("grid": {"ops[5].len": ["4K"]}, "metrics": ["vmstat.pgfault"])");
  CHECK_THROWS_WITH(run(other, d / "cut", 1, {}, true), Catch::Contains("header differs"));
  // A spec whose values changed under the same columns is refused too.
  const auto edited = parse(R"("grid": {"kernel.transparent_hugepage/enabled": ["always", "madvise"],
    "ops[5].len": ["4K", "2M"]}, "metrics": ["vmstat.pgfault", "vmstat.thp_fault_alloc",
    "cycles.all.total", "processes.1.Rss", "marks.zero.vmstat.pgfault"], "seeds": [1, 2, 3])");
  CHECK_THROWS_WITH(run(edited, d / "cut", 1, {}, true),
                    Catch::Contains("has kernel.transparent_hugepage/enabled=never, the spec gives madvise"));
}

TEST_CASE("--retry-failed runs the failed points again and only them", "[sweep]") {
  temp_dir d;
  const auto s = parse(small_grid);
  run(s, d / "out");
  const std::string good_csv = slurp(d / "out.csv"), good_jsonl = slurp(d / "out.jsonl");
  // Point 2 failed in an earlier run (say the host ran out of memory): its row is an error.
  const auto bad = sweep::render_row(s, {2, {}, "std::bad_alloc, \"host\""});
  CHECK_FALSE(bad.ok);
  auto replace_line = [](std::string text, std::size_t n, const std::string& with) {
    std::size_t begin = 0;
    for (std::size_t i = 0; i < n; ++i) begin = text.find('\n', begin) + 1;
    return text.replace(begin, text.find('\n', begin) + 1 - begin, with);
  };
  spill(d / "out.csv", replace_line(good_csv, 3, bad.csv));  // line 0 is the header
  spill(d / "out.jsonl", replace_line(good_jsonl, 2, bad.jsonl));
  CHECK_THAT(slurp(d / "out.csv"), Catch::Contains(",error,\"std::bad_alloc, \"\"host\"\"\","));

  // --resume keeps the error row; --retry-failed runs that point alone.
  auto sum = run(s, d / "out", 2, {}, true);
  CHECK(sum.ran == 0);
  CHECK(sum.failed == 1);
  sum = run(s, d / "out", 2, {}, false, true);
  CHECK(sum.ran == 1);
  CHECK(sum.kept == 3);
  CHECK(sum.failed == 0);
  CHECK(slurp(d / "out.csv") == good_csv);
  CHECK(slurp(d / "out.jsonl") == good_jsonl);
}

TEST_CASE("three shards merge into the unsharded output byte for byte", "[sweep]") {
  temp_dir d;
  const auto s = parse(small_grid + R"(, "repeat": 2)");  // 8 points: shards of 3, 3 and 2
  run(s, d / "all", 2);
  std::vector<std::string> parts;
  for (unsigned i = 1; i <= 3; ++i) {
    parts.push_back(d / ("part" + std::to_string(i)));
    CHECK(run(s, parts.back(), 1, {i, 3}).ran == (i < 3 ? 3 : 2));
    for (const auto& r : csv_rows(parts.back() + ".csv"))
      if (r[0] != "point") CHECK(std::stoul(r[0]) % 3 == i - 1);
  }
  sweep::merge_outputs({parts[2] + ".csv", parts[0], parts[1] + ".jsonl"}, d / "merged");
  CHECK(slurp(d / "merged.csv") == slurp(d / "all.csv"));
  CHECK(slurp(d / "merged.jsonl") == slurp(d / "all.jsonl"));

  CHECK_THROWS_WITH(sweep::merge_outputs({parts[0], parts[2]}, d / "m2"), Catch::Contains("point 1 is in none"));
  CHECK_THROWS_WITH(sweep::merge_outputs({parts[0], parts[0]}, d / "m2"), Catch::Contains("point 0 is in both"));
  // A shard's output cannot be resumed as another shard's.
  CHECK_THROWS_WITH(run(s, parts[0], 1, {2, 3}, true), Catch::Contains("is not in shard 2/3"));
  // A cut shard is not merged: it would silently lose its last row.
  const std::string p2 = slurp(parts[1] + ".csv");
  spill(parts[1] + ".csv", p2.substr(0, p2.size() - 3));
  CHECK_THROWS_WITH(sweep::merge_outputs(parts, d / "m2"), Catch::Contains("cut short"));

  CHECK_THROWS_WITH(sweep::parse_shard("0/3"), Catch::Contains("expected I/N"));
  CHECK_THROWS_WITH(sweep::parse_shard("4/3"), Catch::Contains("expected I/N"));
  CHECK_THROWS_WITH(sweep::parse_shard("1/"), Catch::Contains("expected I/N"));
  CHECK(sweep::parse_shard("2/8").index == 2);
}

TEST_CASE("report paths reach values by key, index or mark label", "[sweep]") {
  const auto report = sweep::json::parse(R"({"vmstat": {"pgfault": 3},
    "marks": [{"label": "a", "vmstat": {"pgfault": 1}}, {"label": "b", "vmstat": {"pgfault": 2}}]})");
  std::string why;
  CHECK(*sweep::find_metric(report, "vmstat.pgfault", why) == 3);
  CHECK(*sweep::find_metric(report, "marks.b.vmstat.pgfault", why) == 2);
  CHECK(*sweep::find_metric(report, "marks.0.vmstat.pgfault", why) == 1);
  CHECK(sweep::find_metric(report, "marks.2.vmstat.pgfault", why) == nullptr);
  CHECK_THAT(why, Catch::Contains("no element '2' in 'marks'"));
  CHECK(sweep::find_metric(report, "vmstat.pgfault.x", why) == nullptr);
  CHECK_THAT(why, Catch::Contains("'vmstat.pgfault' is a value"));
}

TEST_CASE("CSV fields with commas, quotes and line breaks survive a round trip", "[sweep]") {
  const std::vector<std::string> fields{"1", "", "a,b", "say \"hi\"", "two\nlines", "plain"};
  const std::string line = sweep::csv_line(fields);
  CHECK(line == "1,,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\n");
  std::vector<std::string> back;
  REQUIRE(sweep::csv_split(std::string_view(line).substr(0, line.size() - 1), back));
  CHECK(back == fields);
  CHECK_FALSE(sweep::csv_split("\"open", back));
  CHECK_FALSE(sweep::csv_split("\"a\"b", back));
}
