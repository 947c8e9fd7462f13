// Typed form of a format-v1 trace (shared/design/trace-format.md). The reader turns JSON into
// these structs once, at the edge; nothing below sim/trace/ sees nlohmann::json.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "arch/types.hpp"

namespace mmsim::sim::trace {

using arch::access_kind;

// mmap/mprotect protection bits, Linux's PROT_* values.
inline constexpr unsigned PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
// mmap flags as a bit set (names from the trace format, not Linux's numeric values).
enum mmap_flag : unsigned {
  MF_PRIVATE = 1u << 0,
  MF_SHARED = 1u << 1,
  MF_ANONYMOUS = 1u << 2,
  MF_FIXED = 1u << 3,
  MF_HUGETLB = 1u << 4,
  MF_POPULATE = 1u << 5,
  MF_NORESERVE = 1u << 6,
};

struct mmap_op {
  std::uint64_t addr = 0, len = 0;
  unsigned prot = 0;
  unsigned flags = 0;
};
struct munmap_op {
  std::uint64_t addr = 0, len = 0;
};
struct mprotect_op {
  std::uint64_t addr = 0, len = 0;
  unsigned prot = 0;
};
enum class madvise_advice { dontneed, populate_read, populate_write, hugepage, nohugepage, collapse, pageout };
struct madvise_op {
  std::uint64_t addr = 0, len = 0;
  madvise_advice advice = madvise_advice::dontneed;
};
enum class access_pattern { seq, random };
struct access_op {
  std::uint64_t addr = 0, len = 0;
  std::uint64_t stride = arch::PAGE_SIZE;
  access_kind kind = access_kind::read;
  std::uint64_t count = 0;  // number of touches per pass; 0 = len / stride
  access_pattern pattern = access_pattern::seq;
  std::uint64_t repeat = 1;  // passes over the range
};
struct fork_op {
  int child = 0;
};
struct exit_op {};
struct mark_op {
  std::string label;
};
/// Runs khugepaged: `scans` wake-ups, or passes until `pages` of scan progress (format v1).
struct khugepaged_op {
  std::uint64_t scans = 0;
  std::uint64_t pages = 0;
};
/// prctl() options that change mm behaviour (extension of format v1: PR_SET_THP_DISABLE).
enum class prctl_option { thp_disable };
struct prctl_op {
  prctl_option option = prctl_option::thp_disable;
  std::uint64_t value = 0;
};

enum class mapped_level { none, pte, contpte, pmd, cont_pmd, pud };
/// The trace format's spelling of a mapping level.
constexpr const char* mapped_level_name(mapped_level m) {
  constexpr const char* names[] = {"none", "pte", "contpte", "pmd", "cont-pmd", "pud"};
  return names[static_cast<unsigned>(m)];
}

/// Every present field is one check (trace-format.md "expect").
struct expect_op {
  std::optional<std::uint64_t> addr, len;
  std::optional<mapped_level> mapped;
  std::optional<bool> thp, zero_page, writable, uffd_wp, mapped_shared;
  std::optional<int> folio_order;
  std::optional<std::int64_t> mapcount_folio, mapcount_page, mapcount_entire;
  std::optional<std::uint64_t> rss, pss, anon_huge;
  std::vector<std::pair<std::string, std::int64_t>> vmstat;  // trace order
  std::optional<std::string> since;                           // mark label
  std::optional<std::int64_t> free_hugepages, nr_folios;
};

using op_body = std::variant<mmap_op, munmap_op, mprotect_op, madvise_op, access_op, fork_op,
                             exit_op, expect_op, mark_op, khugepaged_op, prctl_op>;

struct op {
  std::size_t index = 0;  // position in "ops", for messages
  int pid = 1;
  std::optional<unsigned> cpu;
  std::optional<int> expect_errno;   // positive Linux errno value
  std::optional<int> expect_signal;  // Linux signal number
  op_body body;
};

struct machine_config {
  std::string arch = "x86_64";
  unsigned va_bits = 48;
  std::string granule = "4K";
  unsigned cpus = 2;
  std::uint64_t memory = 1ull << 30;
  std::string cpu_model;  // empty: the arch's default profile
};

struct trace {
  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  machine_config machine;
  /// Kernel knobs exactly as written, already validated against mm::knob_table.
  std::vector<std::pair<std::string, std::string>> kernel;
  std::vector<op> ops;
};

}  // namespace mmsim::sim::trace
