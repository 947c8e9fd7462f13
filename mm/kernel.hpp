// The simulated kernel: one object owning the memory map, the allocator, the tasks and their
// mm_structs, and the mapcount schemes. Its member functions carry Linux's names and are
// implemented in files named after Linux's (see the list below), so a kernel developer's call
// graph is this class's call graph.
//
//   mm/memory.cpp        handle_mm_fault, do_anonymous_page, do_wp_page, wp_page_copy
//   mm/memory_zap.cpp    zap_page_range_single, unmap_vmas, free_pgtables
//   mm/memory_fork.cpp   dup_mmap, copy_page_range
//   mm/mmap.cpp          do_mmap, do_vmi_munmap, VMA split/merge, exit_mmap
//   mm/mprotect.cpp      do_mprotect_pkey, change_protection
//   mm/madvise.cpp       madvise_dontneed, madvise_populate
//   mm/rmap.cpp          folio_add_new_anon_rmap, folio_add/remove/dup rmap
//   mm/pgtable.cpp       table allocation, lookups, freeing
//   mm/tlbflush.cpp      flush_tlb_mm_range and shootdowns (arch/x86/mm/tlb.c)
//   mm/fault.cpp         do_user_addr_fault (arch/x86/mm/fault.c)
//   mm/page_folio.cpp    folio allocation, refcounts, freeing
//   mm/debug_vm.cpp      invariant checker
//   mm/smaps.cpp         smaps-like rollups and range queries
//
// Deliberately left out: locking (the simulator is single-threaded per op), memcg, LRU and
// reclaim, file-backed memory, KSM.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arch/machine.hpp"
#include "arch/x86_64/pgtable.hpp"
#include "mm/bug.hpp"
#include "mm/errno.hpp"
#include "mm/knobs.hpp"
#include "mm/mapcount/scheme.hpp"
#include "mm/mapcount/shadow.hpp"
#include "mm/mm_types.hpp"
#include "mm/page.hpp"
#include "mm/page_alloc.hpp"
#include "mm/trace_events.hpp"
#include "mm/vmstat.hpp"

namespace mmsim::mm {

using arch::x86_64::pteval_t;

// vm_fault_t bits (Linux include/linux/mm_types.h); 0 means handled.
using vm_fault_t = unsigned;
inline constexpr vm_fault_t VM_FAULT_OOM = 0x000001, VM_FAULT_SIGBUS = 0x000002,
                            VM_FAULT_SIGSEGV = 0x000040, VM_FAULT_NOPAGE = 0x000100,
                            VM_FAULT_FALLBACK = 0x000800;
// fault flags (Linux enum fault_flag).
enum fault_flag : unsigned {
  FAULT_FLAG_WRITE = 1u << 0,
  FAULT_FLAG_USER = 1u << 6,
  FAULT_FLAG_REMOTE = 1u << 7,  // GUP on behalf of a syscall (populate)
  FAULT_FLAG_INSTRUCTION = 1u << 8,
};

/// Per-fault context, as Linux's struct vm_fault.
struct vm_fault {
  mm_struct* mm;
  vm_area_struct* vma;
  vaddr_t address;  // page aligned
  unsigned flags;
  unsigned cpu;
  pteval_t* pte = nullptr;  // the PTE slot, once the table exists
  pteval_t orig_pte = 0;
};

/// What a user fault did, as the kernel's paths know it (mmsim's own classification; Linux
/// counts only pgfault). Reported as "faults by kind" and on the timeline.
enum class fault_kind : std::uint8_t {
  spurious, zero_page, anon, anon_mthp, wp_reuse, cow_copy, cow_zero_page, anon_thp,
  huge_zero_page, thp_wp_reuse, swap_in, signal, nr
};
inline constexpr unsigned NR_FAULT_KINDS = static_cast<unsigned>(fault_kind::nr);
constexpr const char* fault_kind_name(fault_kind k) {
  constexpr const char* names[] = {"spurious",  "zero page",      "anon",          "anon mTHP",
                                   "wp reuse",  "cow copy",       "cow zero page", "anon THP",
                                   "huge zero page", "THP wp reuse", "swap-in",   "signal"};
  return names[static_cast<unsigned>(k)];
}

/// What a user access fault ended in.
enum class fault_outcome { handled, sigsegv, sigbus, oom };

class kernel final : public mapcount::precise_counts {
 public:
  kernel(const kernel_knobs& knobs, arch::machine& hw);
  ~kernel() override;
  kernel(const kernel&) = delete;
  kernel& operator=(const kernel&) = delete;

  // ---- tasks (kernel/fork.c, kernel/exit.c) ----
  bool task_exists(int pid) const { return tasks_.count(pid) != 0; }
  task_struct& task(int pid) { return tasks_.at(pid); }
  const std::map<int, task_struct>& tasks() const { return tasks_; }
  /// fork(): the child gets a copy of the parent's address space. 0 or -errno.
  long kernel_clone(int parent_pid, int child_pid, unsigned cpu);
  void do_exit(int pid, unsigned cpu);
  /// Context switch: load the task's page tables on `cpu` (PCID kept, no flush).
  void switch_mm(unsigned cpu, task_struct& t);

  // ---- syscalls: return 0 (or the mapped address) or -errno ----
  long sys_mmap(task_struct& t, unsigned cpu, std::uint64_t addr, std::uint64_t len,
                unsigned prot, unsigned flags);
  long sys_munmap(task_struct& t, unsigned cpu, std::uint64_t addr, std::uint64_t len);
  long sys_mprotect(task_struct& t, unsigned cpu, std::uint64_t addr, std::uint64_t len,
                    unsigned prot);
  long sys_madvise(task_struct& t, unsigned cpu, std::uint64_t addr, std::uint64_t len,
                   int advice);

  // ---- tracing ----
  /// Attaches a consumer of trace events (null: none, the default).
  void set_trace_sink(trace_sink* sink) { tracer_ = sink; }
  /// User faults by what they did.
  const std::array<std::uint64_t, NR_FAULT_KINDS>& fault_kinds() const { return fault_kinds_; }
  /// A CPU's simulated time: every cycle charged to it so far.
  arch::cycles_t now(unsigned cpu) const { return led_.cpu(cpu).total(); }

  // ---- khugepaged (mm/khugepaged.cpp) ----
  /// Runs khugepaged: `passes` wake-ups (each khugepaged_do_scan with the pages_to_scan
  /// budget), or, if `pages` > 0, passes until that much scan progress was made.
  void khugepaged_run(unsigned cpu, std::uint64_t passes, std::uint64_t pages);
  /// prctl(PR_SET_THP_DISABLE, value).
  long sys_prctl_thp_disable(task_struct& t, unsigned cpu, bool disable);

  // ---- the CPU's way in: a #PF from a user access (mm/fault.cpp) ----
  fault_outcome do_user_addr_fault(unsigned cpu, task_struct& t, vaddr_t address,
                                   unsigned error_code);

  // ---- read-only views for reports, expectations and invariants ----
  const vm_counters& vmstat() const { return vmstat_; }
  const mthp_stats& mthp() const { return mthp_; }
  const kernel_knobs& knobs() const { return knobs_; }
  const mapcount::scheme& driving_scheme() const { return *scheme_; }
  /// Null unless mm/shadow names schemes to run as shadows.
  const mapcount::shadow_set* shadows() const { return shadows_.get(); }
  const vm_area_struct* find_vma(const mm_struct& mm, vaddr_t addr) const;
  /// Software walk to the leaf mapping `addr` (no A/D, no TLB). Level pte when absent.
  struct leaf_info {
    bool present = false;  // a mapping exists (PROT_NONE entries count, as for Linux)
    arch::pt_level level = arch::pt_level::pte;
    pteval_t entry = 0;
    pfn_t pfn = 0;  // 4K frame for addr
  };
  leaf_info follow_page(const mm_struct& mm, vaddr_t addr) const;
  folio page_folio(pfn_t pfn) const;
  unsigned folio_order(folio f) const;
  long folio_ref_count(folio f) const { return map_.peek(f.pfn)._refcount; }
  bool is_zero_pfn(pfn_t pfn) const { return pfn == zero_pfn_; }
  bool is_huge_zero_pfn(pfn_t pfn) const {
    return huge_zero_folio_ && pfn >= huge_zero_folio_->pfn && pfn < huge_zero_folio_->pfn + arch::HPAGE_PMD_NR;
  }
  bool folio_test_anon(folio f) const { return map_.peek(f.pfn).test(PG_anon); }
  bool page_anon_exclusive(pfn_t pfn) const { return map_.peek(pfn).test(PG_anon_exclusive); }
  mapcount::folio_key key(folio f) const { return {f.pfn, folio_order(f)}; }
  std::uint64_t nr_folios() const { return nr_folios_; }
  const buddy_allocator& buddy() const { return buddy_; }
  std::size_t host_bytes() const;

  // mapcount::precise_counts
  long page_pte_mapcount(pfn_t pfn) const override { return map_.peek(pfn)._mapcount; }
  long entire_mapcount(const mapcount::folio_key& f) const override;

  /// Exact truth: whether two or more mms map any page of `f` (walked, not cached).
  bool folio_mapped_shared(folio f) const;

  /// smaps-like sums over [start, end) (Rss, Pss, Anonymous, AnonHugePages), in bytes.
  struct smaps_stats {
    std::uint64_t rss = 0, pss = 0, anonymous = 0, anon_huge = 0;
  };
  smaps_stats smaps_range(const mm_struct& mm, vaddr_t start, vaddr_t end) const;

  /// Checks every invariant (mm/debug_vm.cpp). Returns the list of violations, empty if none.
  std::vector<std::string> check_invariants() const;

 private:

  /// Linux: struct mmu_gather. Unmapped folios wait here until the TLB flush is done.
  struct mmu_gather {
    mmu_gather(mm_struct* m, unsigned c) : mm(m), cpu(c) {}
    mm_struct* mm;
    unsigned cpu;
    vaddr_t start = ~vaddr_t{0}, end = 0;  // range owed a flush
    bool freed_tables = false;
    std::vector<folio> pending;  // one entry per reference to drop after the flush
  };

  struct large_folio_meta {
    unsigned order = 0;
    long entire_mapcount = 0;        // PMD/PUD leaves mapping the folio
    bool on_deferred_list = false;   // queued for the deferred-split shrinker
    bool partially_mapped = false;   // marked by deferred_split_folio(folio, true)
    vaddr_t index_va = 0;            // folio->index as an address: where every mm maps page 0
  };

  // mm/page_folio.cpp
  std::optional<folio> folio_alloc(unsigned order, bool zero, unsigned cpu);
  void folio_get(folio f, long n = 1) { map_[f.pfn]._refcount += static_cast<std::uint32_t>(n); }
  void folio_put(folio f, unsigned cpu, long n = 1);
  void free_folio(folio f, unsigned cpu);
  std::optional<pfn_t> alloc_pgtable_page(mm_struct& mm, unsigned cpu);
  void free_pgtable_page(mm_struct& mm, pfn_t pfn);

  // mm/rmap.cpp
  void folio_add_new_anon_rmap(folio f, vm_area_struct& vma, vaddr_t addr, mm_struct& mm,
                               unsigned cpu);
  void folio_try_dup_anon_rmap_ptes(folio f, pfn_t page, unsigned nr, mm_struct& dst,
                                    unsigned cpu);
  void folio_remove_rmap_ptes(folio f, pfn_t page, unsigned nr, mm_struct& mm, unsigned cpu);
  void charge_rmap(unsigned cpu, std::uint64_t atomics_before);
  void folio_add_new_anon_rmap_pmd(folio f, vaddr_t haddr, mm_struct& mm, unsigned cpu);
  void folio_add_anon_rmap_ptes(folio f, pfn_t page, unsigned nr, mm_struct& mm, bool exclusive,
                                unsigned cpu);
  void folio_try_dup_anon_rmap_pmd(folio f, mm_struct& dst, unsigned cpu);
  void folio_remove_rmap_pmd(folio f, mm_struct& mm, unsigned cpu);
  bool page_mapped_for_stats(pfn_t pfn, long entire) const;
  bool folio_mapped(folio f) const;
  large_folio_meta& large_meta(folio f) { return large_[map_[f.pfn + 1]._refcount]; }
  const large_folio_meta& large_meta(folio f) const { return large_[map_.peek(f.pfn + 1)._refcount]; }
  void add_mm_counter(mm_struct& mm, rss_item i, long v) { mm.rss_stat[i] += v; }

  // mm/pgtable.cpp
  pteval_t* pte_offset_map(const mm_struct& mm, vaddr_t addr) const;
  pteval_t* pte_alloc_map(mm_struct& mm, vaddr_t addr, unsigned cpu);
  pteval_t* pte_alloc_map(mm_struct& mm, pteval_t* pmd, vaddr_t addr, unsigned cpu);
  void free_pgtables(mm_struct& mm, vaddr_t floor, vaddr_t ceiling, vaddr_t start, vaddr_t end);
  void free_pgd(mm_struct& mm);
  void free_table_range(mm_struct& mm, pfn_t table, arch::pt_level level, vaddr_t base,
                        vaddr_t floor, vaddr_t ceiling, vaddr_t start, vaddr_t end);
  arch::pt_level top_level() const;
  void set_pte(pteval_t* slot, pteval_t v, unsigned cpu);

  fault_outcome __do_user_addr_fault(unsigned cpu, task_struct& t, vaddr_t address,
                                     unsigned error_code);

  // mm/huge_memory.cpp
  std::uint64_t thp_vma_allowable_orders(const vm_area_struct& vma, const mm_struct& mm,
                                         std::uint64_t orders, bool enforce_sysfs) const;
  bool thp_vma_suitable_order(const vm_area_struct& vma, vaddr_t addr, unsigned order) const;
  vm_fault_t do_huge_pmd_anonymous_page(vm_fault& vmf, pteval_t* pmd);
  vm_fault_t do_huge_pmd_wp_page(vm_fault& vmf, pteval_t* pmd);
  vm_fault_t do_huge_zero_wp_pmd(vm_fault& vmf, pteval_t* pmd);
  std::optional<folio> vma_alloc_anon_folio_pmd(vm_fault& vmf);
  void map_anon_folio_pmd(vm_fault& vmf, pteval_t* pmd, folio f);
  std::optional<folio> get_huge_zero_folio(mm_struct& mm, unsigned cpu);
  bool thp_alloc_may_reclaim(const vm_area_struct& vma) const;
  void __split_huge_pmd(mm_struct& mm, pteval_t* pmd, vaddr_t haddr, unsigned cpu);
  void split_huge_pmd_address(mm_struct& mm, vaddr_t addr, unsigned cpu);
  void zap_huge_pmd(mm_struct& mm, pteval_t* pmd, vaddr_t haddr, mmu_gather& tlb);
  bool copy_huge_pmd(mm_struct& dst, pteval_t* src_pmd, vaddr_t haddr,
                     const vm_area_struct& vma, unsigned cpu);
  void deferred_split_folio(folio f, bool partially_mapped);
  bool split_folio(folio f, unsigned cpu);
  std::uint64_t deferred_split_scan(unsigned cpu);
  void pgtable_trans_huge_deposit(mm_struct& mm, vaddr_t haddr, pfn_t table);
  pfn_t pgtable_trans_huge_withdraw(mm_struct& mm, vaddr_t haddr);
  pteval_t* pmd_offset_map(const mm_struct& mm, vaddr_t addr) const;
  pteval_t* pmd_alloc_map(mm_struct& mm, vaddr_t addr, unsigned cpu);

  // mm/swap.cpp (swap device, MADV_PAGEOUT, swap-in)
  struct swap_slot {
    std::uint64_t token = 0;  // the page's content
    std::uint32_t count = 0;  // swap entries referring to it (swap_map)
  };
  std::uint64_t get_swap_slot(std::uint64_t token);
  void swap_duplicate(std::uint64_t offset);
  void swap_free(std::uint64_t offset);
  vm_fault_t do_swap_page(vm_fault& vmf);
  long madvise_pageout(mm_struct& mm, vm_area_struct& vma, vaddr_t start, vaddr_t end, unsigned cpu);
  bool pageout_one(mm_struct& mm, pteval_t* pte, vaddr_t addr, unsigned cpu);

  // mm/khugepaged.cpp
  void khugepaged_enter_vma(mm_struct& mm, const vm_area_struct& vma);
  void khugepaged_exit(mm_struct& mm);
  long madvise_collapse(mm_struct& mm, vaddr_t start, vaddr_t end, unsigned cpu);

  // mm/memory.cpp
  std::optional<folio> alloc_anon_folio(vm_fault& vmf);
  vm_fault_t handle_mm_fault(vm_area_struct& vma, mm_struct& mm, vaddr_t address, unsigned flags,
                             unsigned cpu);
  vm_fault_t handle_pte_fault(vm_fault& vmf);
  vm_fault_t do_anonymous_page(vm_fault& vmf);
  vm_fault_t do_wp_page(vm_fault& vmf);
  vm_fault_t wp_page_copy(vm_fault& vmf, std::optional<folio> old);
  void wp_page_reuse(vm_fault& vmf, folio f);
  pteval_t mk_pte(pfn_t pfn, const vm_area_struct& vma) const;

  // mm/memory_zap.cpp
  void zap_page_range(mm_struct& mm, vaddr_t start, vaddr_t end, mmu_gather& tlb);
  void tlb_finish_mmu(mmu_gather& tlb);

  // mm/memory_fork.cpp
  long dup_mmap(mm_struct& dst, mm_struct& src, unsigned cpu);
  bool copy_page_range(mm_struct& dst, mm_struct& src, const vm_area_struct& vma, unsigned cpu);

  // mm/mmap.cpp
  mm_struct* mm_alloc(unsigned cpu);
  void mmput(mm_struct* mm, unsigned cpu);
  void exit_mmap(mm_struct& mm, unsigned cpu);
  long do_munmap(mm_struct& mm, vaddr_t start, std::uint64_t len, unsigned cpu);
  void split_vma_at(mm_struct& mm, vaddr_t addr, unsigned cpu);
  void try_merge_around(mm_struct& mm, vaddr_t start, vaddr_t end);
  std::uint64_t task_size() const;
  long mm_populate(mm_struct& mm, vaddr_t start, vaddr_t end, bool write, unsigned cpu);

  // mm/madvise.cpp
  long madvise_update_vma_flags(mm_struct& mm, vaddr_t start, vaddr_t end, std::uint64_t set,
                                std::uint64_t clear, unsigned cpu);

  // mm/mprotect.cpp
  void change_protection(mm_struct& mm, vm_area_struct& vma, vaddr_t start, vaddr_t end,
                         unsigned cpu);

  // mm/tlbflush.cpp
  void flush_tlb_mm_range(mm_struct& mm, vaddr_t start, vaddr_t end, unsigned cpu,
                          bool freed_tables);
  void flush_tlb_page(mm_struct& mm, vaddr_t addr, unsigned cpu);

  // mm/debug_vm.cpp helpers
  void check_mm(const mm_struct& mm, std::map<pfn_t, long>& pte_maps,
                std::map<pfn_t, long>& pmd_maps, std::map<std::uint64_t, long>& swap_refs,
                std::vector<std::string>& bad) const;
  void check_tlbs(std::vector<std::string>& bad) const;

  kernel_knobs knobs_;
  arch::machine& hw_;
  arch::phys_mem& mem_;
  arch::ledger& led_;
  const arch::cpu_profile& prof_;
  mem_map map_;
  buddy_allocator buddy_;
  vm_counters vmstat_;
  mthp_stats mthp_;
  pfn_t zero_pfn_ = 0;
  std::unique_ptr<mapcount::scheme> scheme_;
  std::unique_ptr<mapcount::shadow_set> shadows_;  // null unless mm/shadow names schemes
  std::map<int, task_struct> tasks_;
  std::map<std::uint32_t, std::unique_ptr<mm_struct>> mms_;  // by mm_id
  std::vector<large_folio_meta> large_;  // indexed from the first tail page's _refcount
  std::vector<std::uint32_t> free_large_;
  std::uint64_t next_anon_vma_ = 1;
  trace_sink* tracer_ = nullptr;
  fault_kind fault_kind_ = fault_kind::spurious;  // what the current fault did
  std::array<std::uint64_t, NR_FAULT_KINDS> fault_kinds_{};
  std::optional<folio> huge_zero_folio_;          // allocated on first use (M48)
  // khugepaged state (M72-M76): the mm list (mm ids, in the order they were added) and the
  // scan cursor.
  std::vector<std::uint32_t> khugepaged_mm_list_;
  std::uint32_t khugepaged_scan_mm_ = 0;  // mm id under the cursor, 0: start of the list
  vaddr_t khugepaged_scan_address_ = 0;
  std::vector<folio> deferred_split_queue_;       // ds_queue, in insertion order
  std::vector<swap_slot> swap_map_;               // the swap device, grown on demand
  std::vector<std::uint64_t> free_swap_slots_;
  std::uint64_t nr_folios_ = 0;
};

}  // namespace mmsim::mm
