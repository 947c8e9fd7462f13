// Knob rows. Validation follows Linux's store functions where the knob is Linux's (an
// out-of-range value is rejected, as sysfs would answer E_INVAL).
#include "mm/knobs.hpp"

#include <array>
#include <charconv>

#include "mm/mapcount/registry.hpp"

namespace mmsim::mm {
namespace {

bool parse_uint(std::string_view v, unsigned long long max, unsigned& out) {
  unsigned long long x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x > max) return false;
  out = static_cast<unsigned>(x);
  return true;
}

std::string set_thp_enabled(kernel_knobs& k, std::string_view v) {
  if (v == "madvise") k.thp_enabled = thp_mode::madvise;
  else if (v == "never") k.thp_enabled = thp_mode::never;
  else if (v == "always")
    return "value 'always' is not supported yet: THP faults arrive with the THP issue "
           "(madvise and never are exact until then, since MADV_HUGEPAGE is not accepted)";
  else return "expected always, madvise or never";
  return {};
}
std::string get_thp_enabled(const kernel_knobs& k) {
  switch (k.thp_enabled) {
    case thp_mode::always: return "always";
    case thp_mode::madvise: return "madvise";
    case thp_mode::never: break;
  }
  return "never";
}

std::string set_use_zero_page(kernel_knobs& k, std::string_view v) {
  return parse_uint(v, 1, k.thp_use_zero_page) ? std::string{} : "expected 0 or 1";
}
std::string get_use_zero_page(const kernel_knobs& k) { return std::to_string(k.thp_use_zero_page); }

std::string set_mapcount(kernel_knobs& k, std::string_view v) {
  if (!mapcount::find_scheme(v)) return "unknown scheme; known: " + mapcount::scheme_names_joined();
  k.mapcount = std::string(v);
  return {};
}
std::string get_mapcount(const kernel_knobs& k) { return k.mapcount; }

std::string set_flush_ceiling(kernel_knobs& k, std::string_view v) {
  return parse_uint(v, 1u << 30, k.tlb_single_page_flush_ceiling) ? std::string{}
                                                                   : "expected an unsigned integer";
}
std::string get_flush_ceiling(const kernel_knobs& k) {
  return std::to_string(k.tlb_single_page_flush_ceiling);
}

constexpr std::array<knob_row, 4> rows{{
    {"transparent_hugepage/enabled", "always|madvise|never", "madvise",
     "when anonymous faults may allocate PMD THPs", set_thp_enabled, get_thp_enabled},
    {"transparent_hugepage/use_zero_page", "0|1", "1",
     "read faults in THP-eligible ranges may map the huge zero page", set_use_zero_page,
     get_use_zero_page},
    {"mm/mapcount", "see `mmsim schemes`", "exact",
     "mapcount scheme that drives decisions (simulator-only)", set_mapcount, get_mapcount},
    {"x86/tlb_single_page_flush_ceiling", "0..2^30", "33",
     "x86: a range flush above this many pages becomes a full flush (debugfs)",
     set_flush_ceiling, get_flush_ceiling},
}};

}  // namespace

std::span<const knob_row> knob_table() { return rows; }

const knob_row* find_knob(std::string_view name) {
  for (auto& r : rows)
    if (name == r.name) return &r;
  return nullptr;
}

kernel_knobs default_knobs() {
  kernel_knobs k{};
  for (auto& r : rows) r.set(k, r.default_value);
  return k;
}

std::string set_knob(kernel_knobs& k, std::string_view name, std::string_view value) {
  const knob_row* r = find_knob(name);
  if (!r) return "unknown kernel knob '" + std::string(name) + "' (see `mmsim knobs`)";
  std::string err = r->set(k, value);
  if (!err.empty()) return "knob '" + std::string(name) + "': '" + std::string(value) + "': " + err;
  return {};
}

}  // namespace mmsim::mm
