// Reading the host kernel's page state from outside a process: /proc/<pid>/pagemap (one u64
// per virtual page), the PAGEMAP_SCAN ioctl on the same file (which pages are mapped by a PMD),
// /proc/kpageflags and /proc/kpagecount (per physical page). Bit numbers are Linux's ABI:
//   pagemap: Documentation/admin-guide/mm/pagemap.rst and fs/proc/task_mmu.c (PM_* macros):
//     bits 0-54 PFN (shown only with CAP_SYS_ADMIN), 56 PM_MMAP_EXCLUSIVE, 57 PM_UFFD_WP,
//     61 PM_FILE (file page or shared anon; also the zero pages, which have no struct-page
//     owner), 62 PM_SWAP, 63 PM_PRESENT. Same numbers in the selftests (R54).
//   kpageflags: include/uapi/linux/kernel-page-flags.h: 12 ANON, 15 COMPOUND_HEAD,
//     16 COMPOUND_TAIL, 17 HUGE (hugetlb), 22 THP (any large rmappable folio, mTHP included),
//     24 ZERO_PAGE. fs/proc/page.c stable_page_flags() sets ZERO_PAGE for the 4K zero page and
//     ZERO_PAGE|THP for the huge zero folio.
//   kpagecount: fs/proc/page.c kpagecount_read() = folio_precise_page_mapcount() on 6.18 with
//     CONFIG_PAGE_MAPCOUNT=y: this page's PTE mappings plus the folio's PMD (entire) mappings.
//   PAGEMAP_SCAN (6.7+): pagemap_thp_category() starts from PAGE_IS_HUGE for every PMD leaf,
//     pagemap_page_category() never sets it for a PTE: so HUGE&PRESENT is exactly "mapped by a
//     PMD" for anon THPs (measured on this kernel: a THP after mprotect of one 4K loses it).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kreplay {

inline constexpr std::uint64_t PM_PFN_MASK = (1ull << 55) - 1;
inline constexpr unsigned PM_MMAP_EXCLUSIVE = 56, PM_UFFD_WP = 57, PM_FILE = 61, PM_SWAP = 62,
                          PM_PRESENT = 63;
inline constexpr unsigned KPF_ANON = 12, KPF_COMPOUND_HEAD = 15, KPF_COMPOUND_TAIL = 16,
                          KPF_HUGE = 17, KPF_THP = 22, KPF_ZERO_PAGE = 24;

struct page_obs {
  std::uint64_t va = 0;
  std::uint64_t entry = 0;  // raw pagemap entry
  bool present = false, pmd = false;
  std::uint64_t pfn = 0, kflags = 0, kcount = 0;
  bool zero() const { return present && (kflags >> KPF_ZERO_PAGE & 1); }
  /// mmsim's "normal" page: present and not a zero page (sim/expect.cpp).
  bool normal() const { return present && !zero(); }
  bool anon() const { return kflags >> KPF_ANON & 1; }
  bool uffd_wp() const { return entry >> PM_UFFD_WP & 1; }
  bool exclusive() const { return entry >> PM_MMAP_EXCLUSIVE & 1; }
};

/// /proc/kpageflags and /proc/kpagecount, with folio geometry from the compound bits.
class kpage_reader {
 public:
  kpage_reader() = default;
  ~kpage_reader();
  kpage_reader(const kpage_reader&) = delete;
  kpage_reader& operator=(const kpage_reader&) = delete;
  bool open(std::string& why);
  /// Fills kflags/kcount of the present pages (one pread per run of consecutive PFNs).
  void fill(std::vector<page_obs>& pages);
  /// Head PFN and number of pages of the folio holding `pfn` (1 for a small folio).
  std::pair<std::uint64_t, std::uint64_t> folio_of(std::uint64_t pfn);
  /// Page state moves between expects: forget the folio geometry learnt so far.
  void forget() { folios_.clear(); }

 private:
  bool read_flags(std::uint64_t pfn, std::uint64_t n, std::uint64_t* out);
  int flags_fd_ = -1, count_fd_ = -1;
  std::map<std::uint64_t, std::uint64_t> folios_;  // head -> nr pages
};

/// Pages read at a time: bounded memory for any range (64 MiB of page_obs).
inline constexpr std::uint64_t PAGES_PER_READ = 1u << 20;

/// One process's pagemap. `level_known` is false when PAGEMAP_SCAN is missing (pre-6.7): then
/// PTE and PMD mappings cannot be told apart and `mapped` is reported unobservable.
class pagemap_reader {
 public:
  explicit pagemap_reader(pid_t pid);
  ~pagemap_reader();
  pagemap_reader(const pagemap_reader&) = delete;
  pagemap_reader& operator=(const pagemap_reader&) = delete;
  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return why_; }
  /// Pages [start, start + n * 4K). False (with error()) if the process cannot be read.
  bool read(std::uint64_t start, std::uint64_t n, std::vector<page_obs>& out);
  bool level_known() const { return level_known_; }

 private:
  bool mark_pmd(std::uint64_t start, std::uint64_t end, std::vector<page_obs>& out);
  int fd_ = -1;
  bool level_known_ = true;
  std::string why_;
};

/// How often and by whom one folio is mapped, over every live process of the trace.
struct folio_maps {
  std::uint64_t pte = 0, pmd = 0;
  std::set<int> procs;
};

/// Every mapping of the trace's address spans in every live trace process: the kernel has no
/// per-folio reverse view for user space, so folio mapcounts, "mapped by two processes" and the
/// trace's own anon page counts are computed from all processes' page tables. Exact because
/// private anon pages can only be shared through fork, i.e. with the trace's own processes.
class world {
 public:
  void add(int tpid, const std::vector<page_obs>& pages);
  folio_maps of_folio(std::uint64_t head, std::uint64_t nr) const;
  std::int64_t anon_pages() const { return static_cast<std::int64_t>(anon_pfns_.size()); }
  /// Anon folios mapped by at least one PMD (a PMD maps a whole PMD-order folio, so the
  /// block's first PFN is the folio's head).
  std::int64_t anon_pmd_thps() const { return static_cast<std::int64_t>(pmd_heads_.size()); }

 private:
  struct ref {
    int tpid;
    bool pmd;
  };
  std::unordered_map<std::uint64_t, std::vector<ref>> by_pfn_;  // PMD: at its first PFN
  std::set<std::uint64_t> anon_pfns_;
  std::set<std::uint64_t> pmd_heads_;
  std::set<std::pair<int, std::uint64_t>> pmd_blocks_;  // (trace pid, 2M-aligned va) seen
};

}  // namespace kreplay
