#include <iomanip>
#include <ostream>
#include <sstream>

#include "sim/report/report.hpp"

namespace mmsim::sim::report {

namespace {
std::string kib(std::uint64_t bytes) { return std::to_string(bytes / 1024) + " kB"; }
}  // namespace

void print_summary(std::ostream& os, const replayer& r, const replay_result& res) {
  const auto& hw = r.hw();
  const auto& k = r.kernel();
  const auto& v = k.vmstat();
  auto row = [&](const std::string& name, const std::string& value) {
    os << "  " << std::left << std::setw(30) << name << std::right << std::setw(14) << value << "\n";
  };
  os << "mmsim: " << r.trace().name << " (" << res.ops_run << "/" << r.trace().ops.size()
     << " ops, " << r.trace().machine.arch << " " << hw.profile.name << ", mapcount "
     << k.driving_scheme().name() << ")\n";
  os << "faults and memory\n";
  row("pgfault", std::to_string(v.events[mm::PGFAULT]));
  for (unsigned i = 0; i < mm::NR_FAULT_KINDS; ++i)
    if (k.fault_kinds()[i])
      row("  faults: " + std::string(mm::fault_kind_name(static_cast<mm::fault_kind>(i))),
          std::to_string(k.fault_kinds()[i]));
  row("pgalloc_normal", std::to_string(v.events[mm::PGALLOC_NORMAL]));
  row("pgfree", std::to_string(v.events[mm::PGFREE]));
  row("nr_anon_pages", std::to_string(v.stats[mm::NR_ANON_MAPPED]));
  row("nr_page_table_pages", std::to_string(v.stats[mm::NR_PAGETABLE]));
  row("TLB shootdowns", std::to_string(v.events[mm::NR_TLB_REMOTE_FLUSH]));
  row("thp_fault_alloc", std::to_string(v.events[mm::THP_FAULT_ALLOC]));
  row("thp_collapse_alloc", std::to_string(v.events[mm::THP_COLLAPSE_ALLOC]));
  row("thp_split_pmd", std::to_string(v.events[mm::THP_SPLIT_PMD]));
  row("AnonHugePages", std::to_string(v.stats[mm::NR_ANON_THPS] * 2048) + " kB");
  for (auto& p : res.processes)
    row("pid " + std::to_string(p.pid) + " Rss / Pss", kib(p.smaps.rss) + " / " + kib(p.smaps.pss));

  std::uint64_t acc = 0, misses = 0;
  for (auto& m : hw.cpus) {
    acc += m.stats().accesses;
    misses += m.stats().walks;
  }
  os << "translation\n";
  row("accesses", std::to_string(acc));
  row("page walks", std::to_string(misses));
  std::ostringstream rate;
  rate << std::fixed << std::setprecision(2) << (acc ? 100.0 * static_cast<double>(misses) / static_cast<double>(acc) : 0.0) << " %";
  row("TLB miss rate", rate.str());

  os << "cycles (all CPUs, " << hw.profile.ghz << " GHz)\n";
  arch::cpu_cycles total;
  for (unsigned c = 0; c < hw.led.nr_cpus(); ++c)
    for (unsigned i = 0; i < arch::NR_COST; ++i) total.by[i] += hw.led.cpu(c).by[i];
  for (unsigned i = 0; i < arch::NR_COST; ++i)
    if (total.by[i]) row(arch::cost_name(static_cast<arch::cost>(i)), std::to_string(total.by[i]));
  std::ostringstream us;
  us << std::fixed << std::setprecision(1) << static_cast<double>(total.total()) / (hw.profile.ghz * 1000.0) << " us";
  row("total", std::to_string(total.total()) + " (" + us.str() + ")");

  if (const auto* sh = k.shadows()) {
    os << "mapcount schemes at decision sites (vs the exact truth)\n";
    os << "  " << std::left << std::setw(22) << "scheme" << std::setw(24) << "site" << std::right
       << std::setw(8) << "asked" << std::setw(8) << "FP" << std::setw(8) << "FN" << "\n";
    for (auto& r : sh->report())
      if (r.asked)
        os << "  " << std::left << std::setw(22) << r.scheme << std::setw(24) << r.site << std::right
           << std::setw(8) << r.asked << std::setw(8) << r.false_positive << std::setw(8)
           << r.false_negative << "\n";
  }
  os << "outcome\n";
  row("signals", std::to_string(res.signals.size()));
  row("failed syscalls", std::to_string(res.errors.size()));
  row("expectations passed", std::to_string(res.expectations.size() - res.failed_expectations()));
  row("expectations failed", std::to_string(res.failed_expectations()));
  if (res.invariant_checks) row("invariant checks", std::to_string(res.invariant_checks));
  for (auto& e : res.expectations)
    if (!e.pass)
      os << "  FAIL ops[" << e.op << "] " << e.field << ": expected " << e.expected << ", got " << e.actual << "\n";
  for (auto& e : res.violations)
    os << "  VIOLATION ops[" << e.op << "] " << e.what << ": " << e.detail << "\n";
}

}  // namespace mmsim::sim::report
