// Evaluates `expect` ops against the simulated state. Per-address fields are checked page by
// page over [addr, addr + len); the first page that disagrees is reported. Nothing here
// changes state.
#include <sstream>

#include "arch/hex.hpp"
#include "arch/x86_64/pgtable.hpp"
#include "sim/replay.hpp"

namespace mmsim::sim {

using arch::hex;

using namespace trace;
using arch::vaddr_t;

namespace {

std::string b(bool v) { return v ? "true" : "false"; }

}  // namespace

void replayer::check_expect(const op& o, const expect_op& e) {
  auto add = [&](const std::string& field, const std::string& want, const std::string& got) {
    res_.expectations.push_back({o.index, field, want, got, want == got});
  };
  const mm::kernel& k = *kernel_;

  if (e.addr) {
    const mm::mm_struct& mm = *kernel_->task(o.pid).mm;
    const vaddr_t start = arch::page_align_down(*e.addr);
    const vaddr_t end = *e.addr + e.len.value_or(arch::PAGE_SIZE);
    // Each field: the first page whose value differs, or the common value.
    struct field_state {
      std::string first_bad;
      std::string value;
    };
    std::map<std::string, field_state> fields;
    auto see = [&](const std::string& field, const std::string& want, const std::string& got, vaddr_t va) {
      auto& f = fields[field];
      if (f.value.empty()) f.value = got;
      if (got != want && f.first_bad.empty()) f.first_bad = got + " at " + hex(va);
    };
    for (vaddr_t va = start; va < end; va += arch::PAGE_SIZE) {
      const auto leaf = k.follow_page(mm, va);
      const bool normal = leaf.present && !arch::x86_64::pte_special(leaf.entry);
      const mm::folio f = normal ? k.page_folio(leaf.pfn) : mm::folio{0};
      if (e.mapped) {
        std::string got = "none";
        if (leaf.present) got = arch::level_name(leaf.level);
        see("mapped", mapped_level_name(*e.mapped), got, va);
      }
      if (e.thp) see("thp", b(*e.thp), b(normal && k.folio_order(f) > 0), va);
      if (e.folio_order)
        see("folio_order", std::to_string(*e.folio_order), normal ? std::to_string(k.folio_order(f)) : "unmapped", va);
      if (e.zero_page) see("zero_page", b(*e.zero_page), b(leaf.present && (k.is_zero_pfn(leaf.pfn) || k.is_huge_zero_pfn(leaf.pfn))), va);
      if (e.writable) see("writable", b(*e.writable), b(leaf.present && arch::x86_64::pte_write(leaf.entry)), va);
      if (e.uffd_wp) see("uffd_wp", b(*e.uffd_wp), b(leaf.present && arch::x86_64::pte_uffd_wp(leaf.entry)), va);
      if (e.mapped_shared) see("mapped_shared", b(*e.mapped_shared), b(normal && k.folio_mapped_shared(f)), va);
      const auto& s = k.driving_scheme();
      if (e.mapcount_folio)
        see("mapcount.folio", std::to_string(*e.mapcount_folio), normal ? std::to_string(s.folio_mapcount(k.key(f))) : "0", va);
      if (e.mapcount_page) {
        std::string got = "0";
        if (normal) {
          auto pm = s.page_mapcount(k.key(f), static_cast<unsigned>(leaf.pfn - f.pfn));
          got = pm ? std::to_string(*pm) : "unsupported";
        }
        see("mapcount.page", std::to_string(*e.mapcount_page), got, va);
      }
      if (e.mapcount_entire)
        see("mapcount.entire", std::to_string(*e.mapcount_entire), normal ? std::to_string(k.entire_mapcount(k.key(f))) : "0", va);
    }
    for (auto& [field, st] : fields) {
      std::string want;
      if (field == "mapped") want = mapped_level_name(*e.mapped);
      else if (field == "thp") want = b(*e.thp);
      else if (field == "folio_order") want = std::to_string(*e.folio_order);
      else if (field == "zero_page") want = b(*e.zero_page);
      else if (field == "writable") want = b(*e.writable);
      else if (field == "uffd_wp") want = b(*e.uffd_wp);
      else if (field == "mapped_shared") want = b(*e.mapped_shared);
      else if (field == "mapcount.folio") want = std::to_string(*e.mapcount_folio);
      else if (field == "mapcount.page") want = std::to_string(*e.mapcount_page);
      else if (field == "mapcount.entire") want = std::to_string(*e.mapcount_entire);
      add(field, want, st.first_bad.empty() ? want : st.first_bad);
    }
    if (e.rss || e.pss || e.anon_huge) {
      const auto sm = k.smaps_range(mm, start, end);
      if (e.rss) add("rss", std::to_string(*e.rss), std::to_string(sm.rss));
      if (e.pss) add("pss", std::to_string(*e.pss), std::to_string(sm.pss));
      if (e.anon_huge) add("anon_huge", std::to_string(*e.anon_huge), std::to_string(sm.anon_huge));
    }
  }

  if (!e.vmstat.empty()) {
    const mm::vm_counters* base = nullptr;
    if (e.since)
      for (auto& m : res_.marks)
        if (m.label == *e.since) base = &m.vmstat;
    for (auto& [name, want] : e.vmstat) {
      const auto ref = mm::vmstat_lookup(name);
      std::int64_t got = k.vmstat().value(*ref);
      if (base) got -= base->value(*ref);
      add("vmstat." + name, std::to_string(want), std::to_string(got));
    }
  }
  if (e.nr_folios) add("nr_folios", std::to_string(*e.nr_folios), std::to_string(k.nr_folios()));
  // No hugetlb pools exist yet, so none of their pages can be free.
  if (e.free_hugepages) add("free_hugepages", std::to_string(*e.free_hugepages), "0");
}

}  // namespace mmsim::sim
