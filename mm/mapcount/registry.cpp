#include "mm/mapcount/registry.hpp"

#include <array>

#include "mm/mapcount/exact.hpp"
#include "mm/mapcount/inject.hpp"
#include "mm/mapcount/large.hpp"
#include "mm/mapcount/legacy.hpp"
#include "mm/mapcount/mm_id.hpp"

namespace mmsim::mm::mapcount {
namespace {
constexpr std::array<scheme_info, 7> rows{{
    {"exact", "simulator only, no Linux version: precise per-page PTE counts + entire mapcount + "
              "per-mm owners (ground truth)",
     &make_exact},
    {"legacy", "Linux 6.3-6.9: per-page PTE counts + entire mapcount + nr_pages_mapped; shared = "
               "page 0's page_mapcount > 1",
     &make_legacy},
    {"large", "Linux 6.10-6.14: legacy + _large_mapcount; folio_likely_mapped_shared (misses "
              "partially mapped sharing)",
     &make_large},
    {"mm_id", "Linux 6.15+ default (PAGE_MAPCOUNT=y, the 6.18 oracle): large + two MM-id slots "
              "and maybe-shared bit; CoW reuse of large anon folios",
     &make_mm_id},
    {"mm_id_nopagemapcount", "Linux 6.15+ CONFIG_NO_PAGE_MAPCOUNT (opt-in): MM-id slots, no "
                             "per-page mapcounts for large folios",
     &make_mm_id_nopagemapcount},
    {"always_shared", "injection, no Linux version (seed 003): every shared question answers "
                      "true; counts exact",
     &make_always_shared},
    {"never_shared", "injection, no Linux version (seed 003): every shared question answers "
                     "false; counts exact",
     &make_never_shared},
}};
}  // namespace

std::span<const scheme_info> schemes() { return rows; }

const scheme_info* find_scheme(std::string_view name) {
  for (auto& r : rows)
    if (name == r.name) return &r;
  return nullptr;
}

std::string scheme_names_joined() {
  std::string s;
  for (auto& r : rows) s += (s.empty() ? "" : ", ") + std::string(r.name);
  return s;
}

}  // namespace mmsim::mm::mapcount
