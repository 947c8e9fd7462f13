#include <string>

#include "mm/knobs.hpp"
#include "mm/mapcount/registry.hpp"
#include "sim/report/report.hpp"
#include "sim/version.hpp"

namespace mmsim::sim::report {

using nlohmann::ordered_json;

namespace {

ordered_json vmstat_json(const mm::vm_counters& c) {
  ordered_json j = ordered_json::object();
  for (unsigned i = 0; i < mm::NR_VM_EVENT_ITEMS; ++i)
    j[mm::vm_event_name(static_cast<mm::vm_event_item>(i))] = c.events[i];
  for (unsigned i = 0; i < mm::NR_VM_NODE_STAT_ITEMS; ++i)
    j[mm::node_stat_name(static_cast<mm::node_stat_item>(i))] = c.stats[i];
  return j;
}

ordered_json events_json(const std::vector<op_event>& v) {
  ordered_json a = ordered_json::array();
  for (auto& e : v) {
    ordered_json j{{"op", e.op}, {"pid", e.pid}, {"what", e.what}};
    if (e.addr) j["addr"] = e.addr;
    if (!e.detail.empty()) j["detail"] = e.detail;
    a.push_back(j);
  }
  return a;
}

ordered_json tlb_json(const arch::tlb_stats& s, unsigned capacity) {
  return {{"entries", capacity}, {"hits", s.hits},           {"misses", s.misses},
          {"fills", s.fills},    {"evictions", s.evictions}, {"invalidations", s.invalidations}};
}

}  // namespace

ordered_json to_json(const replayer& r, const replay_result& res) {
  const auto& t = r.trace();
  const auto& hw = r.hw();
  const auto& k = r.kernel();
  ordered_json j;
  j["mmsim_version"] = MMSIM_VERSION;
  j["trace"] = {{"name", t.name}, {"seed", t.seed}, {"ops", t.ops.size()}, {"ops_run", res.ops_run}};

  ordered_json knobs = ordered_json::object();
  for (auto& row : mm::knob_table()) knobs[row.name] = mm::get_knob(r.knobs(), row);
  ordered_json prof = ordered_json::object();
#define X(key, member, kind) prof[#key] = hw.profile.member;
  MMSIM_PROFILE_FIELDS(X)
#undef X
  j["config"] = {{"machine",
                  {{"arch", t.machine.arch},
                   {"va_bits", t.machine.va_bits},
                   {"cpus", t.machine.cpus},
                   {"memory", t.machine.memory},
                   {"cpu_model", hw.profile.name}}},
                 {"kernel", knobs},
                 {"profile", prof}};

  j["vmstat"] = vmstat_json(k.vmstat());
  ordered_json mthp = ordered_json::object();
  const auto& ms = k.mthp();
  for (unsigned o = 2; o < mm::mthp_stats::NR_ORDERS; ++o)
    mthp["hugepages-" + std::to_string(4u << o) + "kB"] = {
        {"anon_fault_alloc", ms.anon_fault_alloc[o]},
        {"anon_fault_fallback", ms.anon_fault_fallback[o]},
        {"split", ms.split[o]},
        {"split_failed", ms.split_failed[o]},
        {"split_deferred", ms.split_deferred[o]},
        {"swpout_fallback", ms.swpout_fallback[o]},
        {"nr_anon", ms.nr_anon[o]},
        {"nr_anon_partially_mapped", ms.nr_anon_partially_mapped[o]}};
  j["mthp_stats"] = mthp;
  ordered_json kinds = ordered_json::object();
  for (unsigned i = 0; i < mm::NR_FAULT_KINDS; ++i)
    kinds[mm::fault_kind_name(static_cast<mm::fault_kind>(i))] = k.fault_kinds()[i];
  j["user_faults_by_kind"] = kinds;
  ordered_json marks = ordered_json::array();
  for (auto& m : res.marks) marks.push_back({{"label", m.label}, {"op", m.op}, {"vmstat", vmstat_json(m.vmstat)}});
  j["marks"] = marks;

  ordered_json procs = ordered_json::object();
  for (auto& p : res.processes)
    procs[std::to_string(p.pid)] = {{"Rss", p.smaps.rss},
                                    {"Pss", p.smaps.pss},
                                    {"Anonymous", p.smaps.anonymous},
                                    {"AnonHugePages", p.smaps.anon_huge},
                                    {"VmPTE", p.vm_pte}};
  j["processes"] = procs;

  ordered_json cycles = ordered_json::object();
  arch::cpu_cycles total;
  for (unsigned c = 0; c < hw.led.nr_cpus(); ++c) {
    ordered_json cj = ordered_json::object();
    const auto& cc = hw.led.cpu(c);
    for (unsigned i = 0; i < arch::NR_COST; ++i) {
      cj[arch::cost_name(static_cast<arch::cost>(i))] = cc.by[i];
      total.by[i] += cc.by[i];
    }
    cj["total"] = cc.total();
    cycles["cpu" + std::to_string(c)] = cj;
  }
  ordered_json tj = ordered_json::object();
  for (unsigned i = 0; i < arch::NR_COST; ++i) tj[arch::cost_name(static_cast<arch::cost>(i))] = total.by[i];
  tj["total"] = total.total();
  cycles["all"] = tj;
  j["cycles"] = cycles;

  ordered_json tlb = ordered_json::object();
  for (unsigned c = 0; c < hw.nr_cpus(); ++c) {
    const auto& m = hw.cpus[c];
    const auto& s = m.stats();
    tlb["cpu" + std::to_string(c)] = {
        {"accesses", s.accesses},
        {"walks", s.walks},
        {"walk_reads", s.walk_reads},
        {"faults", s.faults},
        {"dirty_assists", s.dirty_assists},
        {"dtlb_4k", tlb_json(m.tlb(arch::pt_level::pte).stats(), m.tlb(arch::pt_level::pte).capacity())},
        {"dtlb_2m", tlb_json(m.tlb(arch::pt_level::pmd).stats(), m.tlb(arch::pt_level::pmd).capacity())},
        {"dtlb_1g", tlb_json(m.tlb(arch::pt_level::pud).stats(), m.tlb(arch::pt_level::pud).capacity())}};
  }
  j["tlb"] = tlb;

  const auto& sch = k.driving_scheme();
  j["mapcount"] = {{"scheme", sch.name()},
                   {"events", sch.stats().events},
                   {"atomics", sch.stats().atomics},
                   {"metadata_bytes_per_4k_folio", sch.metadata_bytes(0)},
                   {"metadata_bytes_per_2m_folio", sch.metadata_bytes(9)}};
  ordered_json shadow = ordered_json::array();
  if (const auto* sh = k.shadows()) {
    ordered_json costs = ordered_json::array();
    for (auto& sc : sh->shadows())
      costs.push_back({{"scheme", sc->name()},
                       {"events", sc->stats().events},
                       {"atomics", sc->stats().atomics},
                       {"metadata_bytes_per_4k_folio", sc->metadata_bytes(0)},
                       {"metadata_bytes_per_2m_folio", sc->metadata_bytes(9)}});
    j["mapcount"]["shadow_costs"] = costs;
  }
  if (const auto* sh = k.shadows())
    for (auto& row : sh->report())
      shadow.push_back({{"scheme", row.scheme},
                        {"site", row.site},
                        {"asked", row.asked},
                        {"agree", row.agree},
                        {"false_positive", row.false_positive},
                        {"false_negative", row.false_negative}});
  j["shadow"] = shadow;

  j["signals"] = events_json(res.signals);
  j["errors"] = events_json(res.errors);
  ordered_json ex = ordered_json::array();
  for (auto& e : res.expectations)
    ex.push_back({{"op", e.op}, {"field", e.field}, {"expected", e.expected}, {"actual", e.actual}, {"pass", e.pass}});
  j["expectations"] = ex;
  j["expectations_passed"] = res.expectations.size() - res.failed_expectations();
  j["expectations_failed"] = res.failed_expectations();
  j["invariants"] = {{"checked", res.invariant_checks > 0},
                     {"checks", res.invariant_checks},
                     {"violations", events_json(res.violations)}};
  return j;
}

}  // namespace mmsim::sim::report
