// mmsim command line. Exit codes: 0 every expectation passed, 1 an expectation failed,
// 2 bad input (trace, knob or option), 3 the simulator itself is wrong (an invariant or the
// data-integrity reference was violated).
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <spdlog/spdlog.h>

#include "arch/profile.hpp"
#include "mm/knobs.hpp"
#include "mm/mapcount/registry.hpp"
#include "sim/compare.hpp"
#include "sim/replay.hpp"
#include "sim/report/report.hpp"
#include "sim/report/timeline.hpp"
#include "sim/sweep/sweep.hpp"
#include "sim/trace/reader.hpp"
#include "sim/version.hpp"

namespace {

using namespace mmsim;

int cmd_run(const std::string& path, const std::string& json_out,
            const std::vector<std::string>& sets, bool check, const std::string& shadow,
            const std::string& timeline_out) {
  sim::replay_options opt;
  opt.check_invariants = check;
  sim::report::timeline timeline;
  if (!timeline_out.empty()) opt.timeline = &timeline;
  if (!shadow.empty()) opt.overrides.emplace_back("mm/shadow", shadow);
  for (auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "mmsim: --set " << s << ": expected KNOB=VALUE\n";
      return 2;
    }
    opt.overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  sim::trace::trace t = sim::trace::read_trace_file(path);
  sim::replayer r(t, opt);
  const sim::replay_result res = r.run();
  sim::report::print_summary(std::cout, r, res);
  if (!json_out.empty()) {
    std::ofstream out(json_out);
    if (!out) {
      std::cerr << "mmsim: cannot write " << json_out << "\n";
      return 2;
    }
    out << sim::report::to_json(r, res).dump(1) << "\n";
  }
  if (!timeline_out.empty()) {
    try {
      timeline.write(timeline_out, r.hw().profile.ghz, r.hw().nr_cpus());
    } catch (const std::exception& e) {
      std::cerr << "mmsim: " << e.what() << "\n";
      return 2;
    }
  }
  if (!res.violations.empty()) return 3;
  return res.failed_expectations() ? 1 : 0;
}

void cmd_knobs() {
  for (auto& row : mm::knob_table())
    std::cout << row.name << "\n    default " << row.default_value << "; allowed " << row.allowed
              << "\n    " << row.help << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mmsim: a simulator of the Linux memory-management core and the MMU beneath it"};
  app.set_version_flag("--version", MMSIM_VERSION);
  app.require_subcommand(1);

  std::string trace_path, json_out;
  std::vector<std::string> sets;
  bool check = false;
  std::string shadow, timeline_out;
  auto* run = app.add_subcommand("run", "replay a trace and report what happened");
  run->add_option("trace", trace_path, "trace file (format v1)")->required();
  run->add_option("--json", json_out, "write the full report as JSON");
  run->add_option("--set", sets, "override a kernel knob: KNOB=VALUE (repeatable)");
  run->add_flag("--check-invariants", check, "check every invariant and every read after every op");
  run->add_option("--shadow", shadow,
                  "run other mapcount schemes as shadows: 'all' or a comma-separated list "
                  "(same as --set mm/shadow=...)");
  run->add_option("--timeline", timeline_out,
                  "write a Chrome/Perfetto trace-event JSON of the run (faults, TLB flushes, "
                  "khugepaged scans and collapses, trace ops; one track per CPU)");

  std::string validate_path;
  auto* validate = app.add_subcommand("validate", "check a trace without running it");
  validate->add_option("trace", validate_path, "trace file")->required();

  auto* knobs = app.add_subcommand("knobs", "list every kernel knob with default and allowed values");
  auto* schemes = app.add_subcommand("schemes", "list the mapcount schemes");
  auto* profiles = app.add_subcommand("profiles", "list the CPU profiles");

  std::string cmp_sim, cmp_kernel;
  auto* compare = app.add_subcommand(
      "compare", "list where mmsim and the real kernel disagree on a trace (tools/kreplay/README.md)");
  compare->add_option("sim", cmp_sim, "report of `mmsim run --json`")->required();
  compare->add_option("kernel", cmp_kernel, "report of `kreplay --json` for the same trace")->required();

  // Sweeps (sim/sweep/README.md): a spec's grid of knobs, machine and trace fields -> CSV + JSON lines.
  sim::sweep::cli_options sw;
  auto* sweep = app.add_subcommand("sweep", "run a trace at every point of a grid (sim/sweep/README.md)");
  sweep->add_option("spec", sw.spec_path, "sweep spec (JSON)")->required();
  sweep->add_option("--out", sw.out, "write PREFIX.csv and PREFIX.jsonl (default: beside the spec)");
  sweep->add_option("--jobs,-j", sw.jobs, "points run at once (default: one per core)");
  sweep->add_option("--shard", sw.shard, "run only points with index % N == I-1 (I/N, 1-based)");
  sweep->add_flag("--resume", sw.resume, "keep the rows already in the output, run the rest");
  sweep->add_flag("--retry-failed", sw.retry_failed, "as --resume, and run failed points again");
  sweep->add_flag("--dry-run", sw.dry_run, "validate the spec and every point, run nothing");
  std::vector<std::string> merge_in;
  std::string merge_out;
  auto* sweep_merge = app.add_subcommand("sweep-merge", "join shard outputs of one sweep in point order");
  sweep_merge->add_option("outputs", merge_in, "shard outputs (PREFIX, PREFIX.csv or PREFIX.jsonl)")->required();
  sweep_merge->add_option("-o,--out", merge_out, "merged output PREFIX")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*run) return cmd_run(trace_path, json_out, sets, check, shadow, timeline_out);
    if (*sweep) return sim::sweep::sweep_command(sw);
    if (*sweep_merge) return sim::sweep::merge_command(merge_in, merge_out);
    if (*validate) {
      auto t = sim::trace::read_trace_file(validate_path);
      sim::replayer r(t, {});  // builds the machine: catches bad profiles and knobs too
      std::cout << validate_path << ": ok (" << t.ops.size() << " ops)\n";
      return 0;
    }
    if (*compare) {  // exit 0: they agree on everything both observed, 1: they differ
      const auto r = sim::compare_files(cmp_sim, cmp_kernel);
      sim::print_comparison(std::cout, r);
      return r.agree() ? 0 : 1;
    }
    if (*knobs) cmd_knobs();
    if (*schemes)
      for (auto& s : mm::mapcount::schemes()) std::cout << s.name << "\n    " << s.description << "\n";
    if (*profiles)
      for (auto& n : arch::profile_names()) {
        auto p = arch::load_profile(n);
        std::cout << n << " (" << p.arch << ")\n    " << p.description << "\n";
      }
    return 0;
  } catch (const sim::trace::trace_error& e) {
    std::cerr << "mmsim: " << e.what() << "\n";
    return 2;
  } catch (const sim::compare_error& e) {
    std::cerr << "mmsim compare: " << e.what() << "\n";
    return 2;
  } catch (const sim::config_error& e) {
    std::cerr << "mmsim: " << e.what() << "\n";
    return 2;
  } catch (const mm::mm_bug& e) {
    std::cerr << "mmsim: internal error: " << e.what() << "\n";
    return 3;
  }
}
