// Knob rows. Validation follows Linux's store functions where the knob is Linux's (an
// out-of-range value is rejected, as sysfs would answer EINVAL).
#include "mm/knobs.hpp"

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

template <class E, std::size_t N>
std::string set_enum(E& out, std::string_view v, const std::array<std::pair<const char*, E>, N>& names) {
  for (auto& [n, e] : names)
    if (v == n) {
      out = e;
      return {};
    }
  std::string s = "expected ";
  for (std::size_t i = 0; i < N; ++i) s += (i ? (i + 1 == N ? " or " : ", ") : "") + std::string(names[i].first);
  return s;
}
template <class E, std::size_t N>
std::string get_enum(E v, const std::array<std::pair<const char*, E>, N>& names) {
  for (auto& [n, e] : names)
    if (v == e) return n;
  return "?";
}

constexpr std::array<std::pair<const char*, thp_mode>, 3> thp_names{
    {{"always", thp_mode::always}, {"madvise", thp_mode::madvise}, {"never", thp_mode::never}}};
constexpr std::array<std::pair<const char*, mthp_mode>, 4> mthp_names{{{"always", mthp_mode::always},
                                                                        {"inherit", mthp_mode::inherit},
                                                                        {"madvise", mthp_mode::madvise},
                                                                        {"never", mthp_mode::never}}};
constexpr std::array<std::pair<const char*, thp_defrag>, 5> defrag_names{{{"always", thp_defrag::always},
                                                                          {"defer", thp_defrag::defer},
                                                                          {"defer+madvise", thp_defrag::defer_madvise},
                                                                          {"madvise", thp_defrag::madvise},
                                                                          {"never", thp_defrag::never}}};
constexpr std::array<std::pair<const char*, huge_zero_wp_mode>, 2> hzwp_names{
    {{"allocate", huge_zero_wp_mode::allocate}, {"split", huge_zero_wp_mode::split}}};

unsigned* khugepaged_field(kernel_knobs& k, unsigned i) {
  unsigned* f[] = {&k.khugepaged.pages_to_scan,        &k.khugepaged.scan_sleep_millisecs,
                   &k.khugepaged.alloc_sleep_millisecs, &k.khugepaged.max_ptes_none,
                   &k.khugepaged.max_ptes_swap,        &k.khugepaged.max_ptes_shared,
                   &k.khugepaged.defrag};
  return f[i];
}
// Linux's store limits: max_ptes_* <= HPAGE_PMD_NR - 1, pages_to_scan >= 1, defrag 0/1.
constexpr unsigned long long khugepaged_max[] = {~0u, ~0u, ~0u, 511, 511, 511, 1};
constexpr unsigned khugepaged_min[] = {1, 0, 0, 0, 0, 0, 0};

std::vector<knob_row> build_rows() {
  std::vector<knob_row> rows;
  rows.push_back({"transparent_hugepage/enabled", "always|madvise|never", "madvise",
                  "when anonymous faults may allocate PMD THPs (and what 'inherit' sizes follow)",
                  [](kernel_knobs& k, std::string_view v, unsigned) { return set_enum(k.thp_enabled, v, thp_names); },
                  [](const kernel_knobs& k, unsigned) { return get_enum(k.thp_enabled, thp_names); }});
  rows.push_back({"transparent_hugepage/defrag", "always|defer|defer+madvise|madvise|never", "madvise",
                  "whether a THP fault may reclaim/compact; mmsim has no compaction, so this decides only "
                  "whether the deferred-split shrinker runs before falling back",
                  [](kernel_knobs& k, std::string_view v, unsigned) { return set_enum(k.defrag, v, defrag_names); },
                  [](const kernel_knobs& k, unsigned) { return get_enum(k.defrag, defrag_names); }});
  rows.push_back({"transparent_hugepage/use_zero_page", "0|1", "1",
                  "read faults in THP-eligible ranges map the huge zero page",
                  [](kernel_knobs& k, std::string_view v, unsigned) {
                    return parse_uint(v, 1, k.thp_use_zero_page) ? std::string{} : "expected 0 or 1";
                  },
                  [](const kernel_knobs& k, unsigned) { return std::to_string(k.thp_use_zero_page); }});
  for (unsigned o = MIN_MTHP_ORDER; o <= MAX_MTHP_ORDER; ++o)
    rows.push_back({"transparent_hugepage/hugepages-" + std::to_string(4u << o) + "kB/enabled",
                    "always|inherit|madvise|never", o == 9 ? "inherit" : "never",
                    "anonymous (m)THP of order " + std::to_string(o) + " on fault and collapse",
                    [](kernel_knobs& k, std::string_view v, unsigned ord) { return set_enum(k.mthp_enabled[ord], v, mthp_names); },
                    [](const kernel_knobs& k, unsigned ord) { return get_enum(k.mthp_enabled[ord], mthp_names); }, o});
  const char* kh_names[] = {"pages_to_scan", "scan_sleep_millisecs", "alloc_sleep_millisecs", "max_ptes_none",
                            "max_ptes_swap", "max_ptes_shared", "defrag"};
  const char* kh_defaults[] = {"4096", "10000", "60000", "511", "64", "256", "1"};
  const char* kh_help[] = {"pages (512 per PMD range) khugepaged examines per wake-up",
                           "sleep between khugepaged passes",
                           "sleep after a failed collapse allocation",
                           "none/zero PTEs a collapse may fill (count > limit blocks)",
                           "swap PTEs a collapse may swap in (count > limit blocks)",
                           "shared PTEs a collapse may copy (count > limit blocks)",
                           "khugepaged may reclaim/compact for its allocation"};
  for (unsigned i = 0; i < 7; ++i)
    rows.push_back({std::string("transparent_hugepage/khugepaged/") + kh_names[i],
                    i == 6 ? "0|1" : (khugepaged_max[i] == 511 ? "0..511" : (i == 0 ? "1..2^32-1" : "0..2^32-1")),
                    kh_defaults[i], kh_help[i],
                    [](kernel_knobs& k, std::string_view v, unsigned f) {
                      unsigned x = 0;
                      if (!parse_uint(v, khugepaged_max[f], x) || x < khugepaged_min[f]) return std::string("out of range");
                      *khugepaged_field(k, f) = x;
                      return std::string{};
                    },
                    [](const kernel_knobs& k, unsigned f) {
                      return std::to_string(*khugepaged_field(const_cast<kernel_knobs&>(k), f));
                    }, i});
  rows.push_back({"mm/huge_zero_wp", "allocate|split", "allocate",
                  "write fault on the huge zero PMD: allocate a THP (6.13+) or split to 4K (<= 6.12)",
                  [](kernel_knobs& k, std::string_view v, unsigned) { return set_enum(k.huge_zero_wp, v, hzwp_names); },
                  [](const kernel_knobs& k, unsigned) { return get_enum(k.huge_zero_wp, hzwp_names); }});
  rows.push_back({"mm/collapse_requires_writable", "0|1", "0",
                  "khugepaged/MADV_COLLAPSE refuse a range with no writable PTE (SCAN_PAGE_RO, <= 6.17; "
                  "6.18 collapses read-only ranges)",
                  [](kernel_knobs& k, std::string_view v, unsigned) {
                    return parse_uint(v, 1, k.collapse_requires_writable) ? std::string{} : "expected 0 or 1";
                  },
                  [](const kernel_knobs& k, unsigned) { return std::to_string(k.collapse_requires_writable); }});
  rows.push_back({"vm/mmap_min_addr", "0..2^47", "65536",
                  "lowest address a mapping may start at; below it mmap fails with EPERM",
                  [](kernel_knobs& k, std::string_view v, unsigned) {
                    return parse_uint(v, 1ull << 47, k.mmap_min_addr) ? std::string{} : "out of range";
                  },
                  [](const kernel_knobs& k, unsigned) { return std::to_string(k.mmap_min_addr); }});
  rows.push_back({"mm/mapcount", "see `mmsim schemes`", "mm_id",
                  "mapcount scheme that drives decisions (simulator-only; mm_id is Linux 6.15+, "
                  "the oracle kernel's)",
                  [](kernel_knobs& k, std::string_view v, unsigned) {
                    if (!mapcount::find_scheme(v)) return "unknown scheme; known: " + mapcount::scheme_names_joined();
                    k.mapcount = std::string(v);
                    return std::string{};
                  },
                  [](const kernel_knobs& k, unsigned) { return k.mapcount; }});
  rows.push_back({"mm/shadow", "'' | all | comma-separated scheme names", "",
                  "schemes run as shadows; each decision site records where they differ from the truth",
                  [](kernel_knobs& k, std::string_view v, unsigned) {
                    std::string s(v);
                    if (s != "all" && !s.empty()) {
                      std::size_t p = 0;
                      while (p <= s.size()) {
                        auto q = s.find(',', p);
                        auto name = s.substr(p, q == std::string::npos ? std::string::npos : q - p);
                        if (!mapcount::find_scheme(name))
                          return "unknown scheme '" + name + "'; known: " + mapcount::scheme_names_joined();
                        if (q == std::string::npos) break;
                        p = q + 1;
                      }
                    }
                    k.shadow = s;
                    return std::string{};
                  },
                  [](const kernel_knobs& k, unsigned) { return k.shadow; }});
  rows.push_back({"x86/tlb_single_page_flush_ceiling", "0..2^30", "33",
                  "x86: a range flush above this many pages becomes a full flush (debugfs)",
                  [](kernel_knobs& k, std::string_view v, unsigned) {
                    return parse_uint(v, 1u << 30, k.tlb_single_page_flush_ceiling) ? std::string{}
                                                                                   : "expected an unsigned integer";
                  },
                  [](const kernel_knobs& k, unsigned) { return std::to_string(k.tlb_single_page_flush_ceiling); }});
  return rows;
}

const std::vector<knob_row>& rows() {
  static const std::vector<knob_row> r = build_rows();
  return r;
}

}  // namespace

std::span<const knob_row> knob_table() { return rows(); }

const knob_row* find_knob(std::string_view name) {
  for (auto& r : rows())
    if (name == r.name) return &r;
  return nullptr;
}

kernel_knobs default_knobs() {
  kernel_knobs k{};
  k.mthp_enabled.fill(mthp_mode::never);
  for (auto& r : rows()) r.set(k, r.default_value, r.arg);
  return k;
}

std::string set_knob(kernel_knobs& k, std::string_view name, std::string_view value) {
  const knob_row* r = find_knob(name);
  if (!r) return "unknown kernel knob '" + std::string(name) + "' (see `mmsim knobs`)";
  std::string err = r->set(k, value, r->arg);
  if (!err.empty()) return "knob '" + std::string(name) + "': '" + std::string(value) + "': " + err;
  return {};
}

std::string get_knob(const kernel_knobs& k, const knob_row& row) { return row.get(k, row.arg); }

}  // namespace mmsim::mm
