// `expect` on the real kernel, field by field as sim/expect.cpp defines it: per-page fields
// are checked page by page over [addr & ~4095, addr + len), the first page that disagrees is
// reported as "<value> at 0x<va>", and the report lists fields in the same order. What each
// field is made of on Linux:
//   mapped      PM_PRESENT; "pmd" where PAGEMAP_SCAN reports a PMD leaf, else "pte". A swap
//               entry or uffd-wp marker is not present: "none", as in mmsim.
//   thp         a normal page (present, not a zero page) of a folio with order > 0.
//   folio_order order of the folio from the compound head/tail walk in kpageflags.
//   zero_page   KPF_ZERO_PAGE: the 4K zero page or the huge zero folio.
//   writable    not exposed by pagemap: listed as unobservable, never counted.
//   uffd_wp     PM_UFFD_WP on a present page (mmsim's definition: markers do not count).
//   mapcount    page: kpagecount. folio/entire: PTE+PMD / PMD mappings of the folio counted
//               over every trace process's pagemap (the kernel exports no folio mapcount).
//   mapped_shared  the exact truth mmsim defines: the folio is mapped by two or more
//               processes, from the same all-process scan. pagemap's own PM_MMAP_EXCLUSIVE is
//               per page and, on a PMD-mapped THP, copied from the first subpage (M71); its
//               value is recorded as the observation "pagemap.exclusive" for comparison.
//   rss/pss/anon_huge  summed over the pages of the range as smaps would (mmsim's
//               smaps_range): zero pages count nothing; Pss divides each page by its kpagecount
//               with PSS_SHIFT precision; anon_huge counts pages of PMD-mapped anon folios.
//   vmstat      pgfault: minor faults in the ops' measured windows (getrusage, per process,
//               summed over the trace's processes). nr_anon_pages / nr_anon_transparent_
//               hugepages: the trace's own anon pages / PMD-mapped anon THPs, from the page
//               tables of its processes. Everything else: the global /proc/vmstat delta,
//               marked noisy (other processes move it).
//   nr_folios   unobservable. free_hugepages: /proc/meminfo HugePages_Free, global (noisy).
#include <sstream>
#include <variant>

#include "arch/hex.hpp"
#include "tools/kreplay/controller.hpp"

namespace kreplay {

using mmsim::arch::hex;

using namespace mmsim::sim::trace;

namespace {

std::string b(bool v) { return v ? "true" : "false"; }
int order_of(std::uint64_t nr) {
  int o = 0;
  while ((1ull << (o + 1)) <= nr) ++o;
  return o;
}

// A per-page field across the range: first page's value, first disagreement, and the runs of
// equal values (for the observation).
struct field_state {
  std::string want, first_bad, source;
  std::vector<std::pair<std::uint64_t, std::string>> runs;  // start va, value
  std::vector<std::uint64_t> run_pages;
  void see(const std::string& got, std::uint64_t va) {
    if (got != want && first_bad.empty()) first_bad = got + " at " + hex(va);
    if (runs.empty() || runs.back().second != got) {
      runs.emplace_back(va, got);
      run_pages.push_back(0);
    }
    ++run_pages.back();
  }
  std::string observed() const {
    if (runs.size() == 1) return runs[0].second;
    std::string s;
    for (std::size_t i = 0; i < runs.size() && i < 8; ++i)
      s += (i ? ", " : "") + runs[i].second + " @" + hex(runs[i].first) + "+" + std::to_string(run_pages[i]) + "p";
    if (runs.size() > 8) s += ", ...";
    return s;
  }
};

}  // namespace

void controller::add(std::size_t op, const std::string& field, const std::string& want,
                     const std::string& got, const std::string& source, bool noisy) {
  res_.expectations.push_back({op, field, want, got, want == got, noisy, source});
}

void controller::check_expect(const op& o, const expect_op& e) {
  // Global counters first: reading pagemap and kpageflags allocates in the kernel too, and
  // that must not land in the delta.
  std::map<std::string, std::int64_t> now;
  if (!e.vmstat.empty() || e.free_hugepages) now = read_global_counters();
  if (e.addr) {
    auto it = procs_.find(o.pid);
    if (it == procs_.end() || !it->second.pm)
      return fail("ops[" + std::to_string(o.index) + "]: no process " + std::to_string(o.pid) + " to observe");
    check_pages(o, e, it->second);
  }
  if (!e.vmstat.empty()) check_vmstat(o, e, now);
  if (e.nr_folios)
    res_.unobservables.push_back({o.index, "nr_folios", "Linux has no folio count for a process tree"});
  if (e.free_hugepages) {
    const auto it = now.find("HugePages_Free");
    if (it == now.end()) {
      res_.unobservables.push_back({o.index, "free_hugepages", "no HugePages_Free in /proc/meminfo"});
    } else {
      add(o.index, "free_hugepages", std::to_string(*e.free_hugepages), std::to_string(it->second),
          "/proc/meminfo HugePages_Free (global pool)", true);
      res_.observations.push_back({o.index, "free_hugepages", std::to_string(it->second)});
    }
  }
}

void controller::check_pages(const op& o, const expect_op& e, proc& p) {
  const std::uint64_t start = *e.addr & ~0xfffull, end = *e.addr + e.len.value_or(4096);
  const std::uint64_t total = (end - start + 4095) / 4096;
  std::vector<page_obs> pages;
  kp_.forget();
  world w;
  if (e.mapcount_folio || e.mapcount_entire || e.mapped_shared) build_world(w);

  std::map<std::string, field_state> fields;  // std::map: the order sim/expect.cpp reports in
  auto want = [&](const char* name, std::string v, const char* source) {
    auto& f = fields[name];
    f.want = std::move(v);
    f.source = source;
  };
  if (e.mapped) {
    if (p.pm->level_known()) want("mapped", mapped_level_name(*e.mapped), "pagemap PRESENT + PAGEMAP_SCAN PAGE_IS_HUGE");
    else res_.unobservables.push_back({o.index, "mapped", "PAGEMAP_SCAN unavailable (Linux < 6.7): PTE and PMD mappings look alike"});
  }
  if (e.thp) want("thp", b(*e.thp), "kpageflags compound head/tail");
  if (e.folio_order) want("folio_order", std::to_string(*e.folio_order), "kpageflags compound head/tail");
  if (e.zero_page) want("zero_page", b(*e.zero_page), "kpageflags ZERO_PAGE");
  if (e.writable) res_.unobservables.push_back({o.index, "writable", "pagemap does not expose the PTE's write bit"});
  if (e.uffd_wp) want("uffd_wp", b(*e.uffd_wp), "pagemap PM_UFFD_WP (bit 57)");
  if (e.mapped_shared) want("mapped_shared", b(*e.mapped_shared), "pagemap of every trace process");
  if (e.mapcount_folio) want("mapcount.folio", std::to_string(*e.mapcount_folio), "pagemap of every trace process");
  if (e.mapcount_page) want("mapcount.page", std::to_string(*e.mapcount_page), "kpagecount");
  if (e.mapcount_entire) want("mapcount.entire", std::to_string(*e.mapcount_entire), "pagemap of every trace process");
  field_state excl;  // PM_MMAP_EXCLUSIVE, observed next to mapped_shared

  std::map<std::uint64_t, folio_maps> folio_cache;
  constexpr unsigned PSS_SHIFT = 12;
  std::uint64_t rss = 0, pss = 0, anon_huge = 0;
  for (std::uint64_t first = 0; first < total; first += PAGES_PER_READ) {
    if (!p.pm->read(start + first * 4096, std::min(PAGES_PER_READ, total - first), pages))
      return fail("ops[" + std::to_string(o.index) + "]: pid " + std::to_string(o.pid) + ": " + p.pm->error());
    kp_.fill(pages);
    for (const page_obs& pg : pages) {
      const bool normal = pg.normal();
      std::uint64_t head = pg.pfn, nr = 1;
      if (normal) std::tie(head, nr) = kp_.folio_of(pg.pfn);
      // One all-process count per folio, not per page: a range of THPs has 512 pages each.
      static const folio_maps none;
      const folio_maps* fmp = &none;
      if (normal && (e.mapcount_folio || e.mapcount_entire || e.mapped_shared)) {
        auto it = folio_cache.find(head);
        if (it == folio_cache.end()) it = folio_cache.emplace(head, w.of_folio(head, nr)).first;
        fmp = &it->second;
      }
      const folio_maps& fm = *fmp;
      for (auto& [name, f] : fields) {
        std::string got;
        if (name == "mapped") got = !pg.present ? "none" : pg.pmd ? "pmd" : "pte";
        else if (name == "thp") got = b(normal && nr > 1);
        else if (name == "folio_order") got = normal ? std::to_string(order_of(nr)) : "unmapped";
        else if (name == "zero_page") got = b(pg.zero());
        else if (name == "uffd_wp") got = b(pg.present && pg.uffd_wp());
        else if (name == "mapped_shared") got = b(normal && fm.procs.size() >= 2);
        else if (name == "mapcount.folio") got = normal ? std::to_string(fm.pte + fm.pmd) : "0";
        else if (name == "mapcount.page") got = normal ? std::to_string(pg.kcount) : "0";
        else if (name == "mapcount.entire") got = normal ? std::to_string(fm.pmd) : "0";
        f.see(got, pg.va);
      }
      if (e.mapped_shared) excl.see(!pg.present ? "none" : pg.exclusive() ? "exclusive" : "not exclusive", pg.va);
      if (normal) {
        rss += 4096;
        pss += pg.kcount >= 2 ? (4096ull << PSS_SHIFT) / pg.kcount : 4096ull << PSS_SHIFT;
        if (pg.pmd && pg.anon()) anon_huge += 4096;
      }
    }
  }
  for (auto& [name, f] : fields) {
    add(o.index, name, f.want, f.first_bad.empty() ? f.want : f.first_bad, f.source);
    res_.observations.push_back({o.index, name, f.observed()});
  }
  if (e.mapped_shared) res_.observations.push_back({o.index, "pagemap.exclusive", excl.observed()});
  const char* smaps = "pagemap + kpagecount, summed as smaps";
  auto sum = [&](const char* name, const std::optional<std::uint64_t>& want_v, std::uint64_t got) {
    if (!want_v) return;
    add(o.index, name, std::to_string(*want_v), std::to_string(got), smaps);
    res_.observations.push_back({o.index, name, std::to_string(got)});
  };
  sum("rss", e.rss, rss);
  sum("pss", e.pss, pss >> PSS_SHIFT);
  sum("anon_huge", e.anon_huge, anon_huge);
}

void controller::check_vmstat(const op& o, const expect_op& e, const std::map<std::string, std::int64_t>& now) {
  const snapshot* base = &start_;
  if (e.since)
    for (auto& m : marks_)
      if (m.label == *e.since) base = &m;  // the last mark of that name, as mmsim takes it
  world w;
  bool have_world = false;
  for (auto& [name, want] : e.vmstat) {
    const std::string field = "vmstat." + name;
    std::int64_t got = 0;
    if (name == "pgfault") {
      got = static_cast<std::int64_t>(faults_ - base->faults);
      add(o.index, field, std::to_string(want), std::to_string(got),
          "getrusage minor faults of the trace's processes, inside the ops");
    } else if (name == "nr_anon_pages" || name == "nr_anon_transparent_hugepages") {
      if (!have_world) build_world(w);
      have_world = true;
      const bool pages = name == "nr_anon_pages";
      got = pages ? w.anon_pages() - base->anon_pages : w.anon_pmd_thps() - base->anon_thps;
      add(o.index, field, std::to_string(want), std::to_string(got),
          pages ? "distinct anon pages mapped by the trace's processes (pagemap + kpageflags)"
                : "anon THPs PMD-mapped by the trace's processes (PAGEMAP_SCAN + kpageflags)");
    } else {
      const auto n = now.find(name);
      const auto b0 = base->global.find(name);
      if (n == now.end() || b0 == base->global.end()) {
        res_.unobservables.push_back({o.index, field, "this kernel has no such counter"});
        continue;
      }
      got = n->second - b0->second;
      add(o.index, field, std::to_string(want), std::to_string(got),
          "/proc/vmstat delta (global: other processes move it too)", true);
    }
    res_.observations.push_back({o.index, field, std::to_string(got)});
  }
}

}  // namespace kreplay
