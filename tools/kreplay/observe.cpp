#include "tools/kreplay/observe.hpp"

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tools/kreplay/worker.hpp"

namespace kreplay {

namespace {

constexpr std::uint64_t PAGE = 4096;
constexpr std::uint64_t PMD_SIZE = 2ull << 20;
// A folio walk gives up beyond a PUD-size folio (1G hugetlb): nothing larger exists on x86.
constexpr std::uint64_t MAX_FOLIO_PAGES = 1ull << 18;

// include/uapi/linux/fs.h (6.7+); defined here because older userspace headers lack it.
struct page_region {
  std::uint64_t start, end, categories;
};
struct pm_scan_arg {
  std::uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
      category_mask, category_anyof_mask, return_mask;
};
constexpr std::uint64_t PAGE_IS_PRESENT = 1 << 3, PAGE_IS_HUGE = 1 << 6;
constexpr unsigned long PAGEMAP_SCAN = _IOWR('f', 16, pm_scan_arg);

bool pread_all(int fd, void* buf, std::size_t len, std::uint64_t off) {
  auto* p = static_cast<char*>(buf);
  while (len) {
    const ssize_t n = pread(fd, p, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<std::size_t>(n);
    off += static_cast<std::uint64_t>(n);
  }
  return true;
}

}  // namespace

// ---- kpageflags / kpagecount ----------------------------------------------------------------

kpage_reader::~kpage_reader() {
  if (flags_fd_ >= 0) close(flags_fd_);
  if (count_fd_ >= 0) close(count_fd_);
}

bool kpage_reader::open(std::string& why) {
  flags_fd_ = ::open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  count_fd_ = ::open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
  if (flags_fd_ < 0 || count_fd_ < 0) {
    why = std::string("cannot open /proc/kpageflags or /proc/kpagecount: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool kpage_reader::read_flags(std::uint64_t pfn, std::uint64_t n, std::uint64_t* out) {
  return pread_all(flags_fd_, out, n * 8, pfn * 8);
}

void kpage_reader::fill(std::vector<page_obs>& pages) {
  std::vector<std::uint64_t> flags, counts;
  for (std::size_t i = 0; i < pages.size();) {
    if (!pages[i].present) {
      ++i;
      continue;
    }
    std::size_t j = i + 1;  // a run of consecutive PFNs: one read each
    while (j < pages.size() && pages[j].present && pages[j].pfn == pages[j - 1].pfn + 1) ++j;
    const std::size_t n = j - i;
    flags.assign(n, 0);
    counts.assign(n, 0);
    const bool ok = read_flags(pages[i].pfn, n, flags.data()) &&
                    pread_all(count_fd_, counts.data(), n * 8, pages[i].pfn * 8);
    for (std::size_t k = 0; k < n && ok; ++k) {
      pages[i + k].kflags = flags[k];
      pages[i + k].kcount = counts[k];
    }
    i = j;
  }
}

std::pair<std::uint64_t, std::uint64_t> kpage_reader::folio_of(std::uint64_t pfn) {
  if (auto it = folios_.upper_bound(pfn); it != folios_.begin()) {
    --it;
    if (pfn < it->first + it->second) return *it;
  }
  std::uint64_t f = 0;
  if (!read_flags(pfn, 1, &f)) return {pfn, 1};
  const bool head = f >> KPF_COMPOUND_HEAD & 1, tail = f >> KPF_COMPOUND_TAIL & 1;
  if (!head && !tail) return {pfn, 1};
  // Walk back to the head, then forward over the tails (the selftests' way of measuring an
  // order, split_huge_page_test.c), 512 entries per read.
  constexpr std::uint64_t CH = 512;
  std::vector<std::uint64_t> buf(CH);
  std::uint64_t h = pfn;
  while (!(f >> KPF_COMPOUND_HEAD & 1)) {
    if (h == 0 || pfn - h >= MAX_FOLIO_PAGES) return {pfn, 1};
    const std::uint64_t from = h >= CH ? h - CH : 0, n = h - from;
    if (!read_flags(from, n, buf.data())) return {pfn, 1};
    std::uint64_t k = n;
    while (k > 0 && !(buf[k - 1] >> KPF_COMPOUND_HEAD & 1) && (buf[k - 1] >> KPF_COMPOUND_TAIL & 1)) --k;
    if (k == 0) {
      h = from;
      continue;
    }
    h = from + k - 1;
    f = buf[k - 1];
    if (!(f >> KPF_COMPOUND_HEAD & 1)) return {pfn, 1};  // neither head nor tail: torn read
  }
  std::uint64_t nr = 1;
  for (bool more = true; more && nr < MAX_FOLIO_PAGES;) {
    if (!read_flags(h + nr, CH, buf.data())) break;
    for (std::uint64_t k = 0; k < CH; ++k) {
      if (!(buf[k] >> KPF_COMPOUND_TAIL & 1)) {
        more = false;
        break;
      }
      ++nr;
    }
  }
  folios_[h] = nr;
  return {h, nr};
}

// ---- pagemap ----------------------------------------------------------------------------------

pagemap_reader::pagemap_reader(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/pagemap";
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) why_ = "cannot open " + path + ": " + std::strerror(errno);
}

pagemap_reader::~pagemap_reader() {
  if (fd_ >= 0) close(fd_);
}

bool pagemap_reader::mark_pmd(std::uint64_t start, std::uint64_t end, std::vector<page_obs>& out) {
  std::vector<page_region> vec(256);
  while (start < end) {
    pm_scan_arg a{};
    a.size = sizeof a;
    a.start = start;
    a.end = end;
    a.vec = reinterpret_cast<std::uint64_t>(vec.data());
    a.vec_len = vec.size();
    a.category_anyof_mask = PAGE_IS_HUGE;  // only PMD (or hugetlb) leaves come back
    a.return_mask = PAGE_IS_HUGE | PAGE_IS_PRESENT;
    const long n = ioctl(fd_, PAGEMAP_SCAN, &a);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    for (long i = 0; i < n; ++i) {
      if (!(vec[i].categories & PAGE_IS_PRESENT)) continue;
      for (std::uint64_t va = vec[i].start; va < vec[i].end; va += PAGE)
        if (va >= out.front().va && va <= out.back().va) out[(va - out.front().va) / PAGE].pmd = true;
    }
    if (a.walk_end <= start) break;
    start = a.walk_end;
  }
  return true;
}

bool pagemap_reader::read(std::uint64_t start, std::uint64_t n, std::vector<page_obs>& out) {
  out.assign(n, page_obs{});
  for (std::uint64_t i = 0; i < n; ++i) out[i].va = start + i * PAGE;
  if (fd_ < 0) return false;
  // Nothing is mapped above TASK_SIZE (pagemap reads there end early): not present.
  n = start >= TASK_SIZE ? 0 : std::min(n, (TASK_SIZE - start) / PAGE);
  std::vector<std::uint64_t> raw(n);
  if (n && !pread_all(fd_, raw.data(), n * 8, start / PAGE * 8)) {
    why_ = std::string("cannot read pagemap: ") + std::strerror(errno);
    return false;
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    page_obs& p = out[i];
    p.entry = raw[i];
    p.present = raw[i] >> PM_PRESENT & 1;
    p.pfn = p.present ? raw[i] & PM_PFN_MASK : 0;
  }
  if (n && level_known_ && !mark_pmd(start, start + n * PAGE, out)) level_known_ = false;
  return true;
}

// ---- world ------------------------------------------------------------------------------------

void world::add(int tpid, const std::vector<page_obs>& pages) {
  for (const page_obs& p : pages) {
    if (!p.normal()) continue;
    if (p.anon()) anon_pfns_.insert(p.pfn);
    if (!p.pmd) {
      by_pfn_[p.pfn].push_back({tpid, false});
      continue;
    }
    const std::uint64_t block = p.va & ~(PMD_SIZE - 1);
    if (!pmd_blocks_.insert({tpid, block}).second) continue;  // one mapping per PMD
    const std::uint64_t first = p.pfn - (p.va - block) / PAGE;
    by_pfn_[first].push_back({tpid, true});
    if (p.anon()) pmd_heads_.insert(first);
  }
}

folio_maps world::of_folio(std::uint64_t head, std::uint64_t nr) const {
  folio_maps m;
  for (std::uint64_t pfn = head; pfn < head + nr; ++pfn) {
    const auto it = by_pfn_.find(pfn);
    if (it == by_pfn_.end()) continue;
    for (const ref& r : it->second) {
      ++(r.pmd ? m.pmd : m.pte);
      m.procs.insert(r.tpid);
    }
  }
  return m;
}

}  // namespace kreplay
