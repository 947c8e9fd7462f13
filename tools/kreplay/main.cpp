// kreplay: replays a format-v1 trace on the host Linux kernel and reports what the kernel did,
// in the shape of `mmsim run --json`, so that `mmsim compare` can set the two side by side.
// Exit codes: 0 every expectation held, 1 an expectation failed on the kernel (noisy global
// counters excepted), 2 bad input, 3 the run broke off (a worker died or did not answer),
// 77 skipped (the host cannot run the trace as written; the reason is printed).
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sys/personality.h>
#include <unistd.h>

#include "sim/trace/reader.hpp"
#include "sim/version.hpp"
#include "tools/kreplay/controller.hpp"
#include "tools/kreplay/report.hpp"

namespace {

// Address-space randomisation off, like `setarch -R`: kreplay's own libraries and stack then
// sit just below 0x7ffff8000000 and its heap near 0x555555554000, far from trace addresses
// such as 0x7f0000000000 that MAP_FIXED would otherwise be able to land on.
void reexec_without_aslr(char** argv) {
  const int cur = personality(0xffffffff);
  if (cur == -1 || (cur & ADDR_NO_RANDOMIZE)) return;
  if (personality(static_cast<unsigned long>(cur) | ADDR_NO_RANDOMIZE) == -1) return;
  execv("/proc/self/exe", argv);
  // Still here: run with ASLR; the workers check for collisions anyway.
}

}  // namespace

int main(int argc, char** argv) {
  reexec_without_aslr(argv);
  CLI::App app{"kreplay: replay an mmsim trace on this host's Linux kernel and check its expectations"};
  app.set_version_flag("--version", MMSIM_VERSION);
  std::string trace_path, json_out;
  bool set_global = false, prctl_never = false, quiet = false;
  double timeout_s = 10;
  app.add_option("trace", trace_path, "trace file (format v1)")->required();
  app.add_option("--json", json_out, "write the report as JSON (the shape of `mmsim run --json`)");
  app.add_flag("--set-global", set_global,
               "change global sysfs knobs the trace needs for the run, then restore them (machines you own)");
  app.add_flag("--thp-never-via-prctl", prctl_never,
               "run transparent_hugepage/enabled=never traces with prctl(PR_SET_THP_DISABLE) instead of skipping");
  app.add_option("--timeout", timeout_s, "seconds a worker may take to answer one op (default 10)")
      ->check(CLI::Range(0.1, 86400.0));
  app.add_flag("-q,--quiet", quiet, "no summary on stdout");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  mmsim::sim::trace::trace t;
  try {
    t = mmsim::sim::trace::read_trace_file(trace_path);
  } catch (const mmsim::sim::trace::trace_error& e) {
    std::cerr << "kreplay: " << e.what() << "\n";
    return 2;
  }
  kreplay::run_options opt;
  opt.timeout_ms = static_cast<int>(timeout_s * 1000);
  opt.host.set_global = set_global;
  opt.host.thp_never_via_prctl = prctl_never;
  const kreplay::run_result r = kreplay::replay_on_host(t, opt);

  if (!quiet) kreplay::print_summary(std::cout, t, r);
  if (!json_out.empty()) {
    std::ofstream out(json_out);
    out << kreplay::to_json(t, r).dump(1) << "\n";
    if (!out) {
      std::cerr << "kreplay: cannot write " << json_out << "\n";
      return 2;
    }
  }
  if (!r.skipped.empty()) {
    if (quiet) std::cerr << "kreplay: skipped: " << r.skipped << "\n";
    return 77;
  }
  if (!r.failed.empty()) {
    if (quiet) std::cerr << "kreplay: failed: " << r.failed << "\n";
    return 3;
  }
  return kreplay::hard_failures(r) ? 1 : 0;
}
