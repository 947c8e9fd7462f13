// The kernel's core objects with Linux's names and fields (Linux: include/linux/mm_types.h):
// vm_area_struct, mm_struct, task_struct, and the folio handle.
#pragma once

#include <cstdint>
#include <map>

#include "arch/types.hpp"

namespace mmsim::mm {

using arch::pfn_t;
using arch::vaddr_t;

/// A folio is named by its head frame, as a struct folio * names its first struct page.
struct folio {
  pfn_t pfn;
  bool operator==(const folio&) const = default;
};

// vm_flags bits, Linux's values.
enum : std::uint64_t {
  VM_READ = 0x1,
  VM_WRITE = 0x2,
  VM_EXEC = 0x4,
  VM_SHARED = 0x8,
  VM_MAYREAD = 0x10,
  VM_MAYWRITE = 0x20,
  VM_MAYEXEC = 0x40,
  VM_ACCOUNT = 0x100000,
  VM_HUGEPAGE = 0x20000000,
  VM_NOHUGEPAGE = 0x40000000,
};

struct vm_area_struct {
  vaddr_t vm_start = 0;
  vaddr_t vm_end = 0;  // exclusive
  std::uint64_t vm_flags = 0;
  std::uint64_t vm_pgoff = 0;  // for anon: vm_start >> PAGE_SHIFT at creation (M37)
  /// anon_vma identity (0: none yet). Assigned at the first anonymous fault; VMAs may merge
  /// only if their anon_vmas are compatible.
  std::uint64_t anon_vma = 0;

  bool is_anonymous() const { return true; }  // only private anonymous VMAs exist so far
  std::uint64_t pages() const { return (vm_end - vm_start) >> arch::PAGE_SHIFT; }
};

// rss counters (Linux: MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES).
enum rss_item : unsigned { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES, NR_MM_COUNTERS };

struct mm_struct {
  std::uint32_t mm_id = 0;  // from an IDA, lowest free >= 1 (M15); also the TLB PCID here
  pfn_t pgd = 0;            // root table frame
  std::map<vaddr_t, vm_area_struct> mmap;  // VMAs keyed by vm_start (the maple tree's role)
  std::int64_t rss_stat[NR_MM_COUNTERS] = {};
  std::int64_t pgtables_bytes = 0;  // VmPTE
  std::uint64_t cpumask = 0;        // CPUs that have run this mm (mm_cpumask)
  int users = 0;                    // tasks sharing it
  bool thp_disabled = false;        // MMF_DISABLE_THP (prctl PR_SET_THP_DISABLE)
  bool huge_zero_page = false;      // MMF_HUGE_ZERO_PAGE: holds a huge-zero reference
  bool on_khugepaged_list = false;  // MMF_VM_HUGEPAGE
  /// Page tables deposited under PMD leaves (M61), by the PMD's address.
  std::map<vaddr_t, pfn_t> deposited;

  std::uint16_t pcid() const { return static_cast<std::uint16_t>(mm_id); }
};

struct task_struct {
  int pid = 0;
  mm_struct* mm = nullptr;
  unsigned home_cpu = 0;
};

}  // namespace mmsim::mm
