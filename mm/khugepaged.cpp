// khugepaged and MADV_COLLAPSE for anonymous memory (Linux 6.18: mm/khugepaged.c;
// mm-semantics.md M72-M88): the mm list and its scan cursor, the per-PMD scan with its limits,
// and the collapse that copies a PTE-mapped 2M range into a new PMD-mapped THP.
//
// Version notes:
// - The requirement of at least one writable PTE (SCAN_PAGE_RO, 6.12) is the knob
//   mm/collapse_requires_writable, off by default: on the 6.18 oracle kernel MADV_COLLAPSE
//   collapses a range of read-only PTEs after fork (traces/selftests/cow/
//   anon-thp-collapse-after-fork-fully-shared.json, checked by tools/kreplay).
// - Old PTEs are released in batches of consecutive pages of one folio (6.17+), so collapsing
//   a range that maps a whole large folio does not mark that folio partially mapped.
// - MADV_COLLAPSE stops at a block whose PMD entry is empty under an existing PMD table
//   (SCAN_PMD_NONE is not on the continue list); mm-unstable changed that after 6.18 ("continue
//   to collapse on SCAN_PMD_NONE").
// Differs from Linux: no locking, so nothing changes between the scan and the collapse and the
// re-checks only matter where the collapse itself changed something (swap-in); no NUMA, memcg
// (no SCAN_CGROUP_CHARGE_FAIL), LRU or page lock states (every folio is on an LRU and
// unlocked); no userfaultfd yet (no VMA is uffd-armed, no entry carries uffd-wp); no file or
// shmem collapse; no time: scan_sleep_millisecs and alloc_sleep_millisecs are reported, never
// slept, and a khugepaged op says how many passes to run.
//
// Structure: kernel.hpp declares only the entry points (khugepaged_run, madvise_collapse,
// khugepaged_enter_vma/exit). The machinery needs the kernel's private state, so it lives in a
// class local to khugepaged_run() (a local class of a member function has that function's
// access); madvise_collapse() reaches it through a function pointer exported on first use. Its
// static functions take the kernel as `k` and would become kernel members unchanged.
#include <algorithm>

#include "mm/kernel.hpp"

namespace mmsim::mm {

using namespace arch::x86_64;
using arch::cost;
using arch::HPAGE_PMD_NR;
using arch::HPAGE_PMD_ORDER;
using arch::PAGE_SIZE;
using arch::PMD_SIZE;

namespace {

/// Linux's enum scan_result (SCAN_*), in Linux's order.
enum class scan_result {
  fail,
  succeed,
  pmd_null,
  pmd_none,
  pmd_mapped,
  exceed_none_pte,
  exceed_swap_pte,
  exceed_shared_pte,
  pte_non_present,
  pte_uffd_wp,
  pte_mapped_hugepage,
  page_ro,
  lack_referenced_page,
  page_null,
  scan_abort,
  page_count,
  page_lru,
  page_lock,
  page_anon,
  page_compound,
  any_process,
  vma_null,
  vma_check,
  address_range,
  del_page_lru,
  alloc_huge_page_fail,
  cgroup_charge_fail,
  truncated,
  page_has_private,
  store_failed,
  copy_mc,
  page_filled,
};

/// The SCAN_* name Linux's tracepoints print.
const char* scan_result_name(scan_result r) {
  constexpr const char* names[] = {
      "fail", "succeed", "pmd_null", "pmd_none", "pmd_mapped", "exceed_none_pte", "exceed_swap_pte",
      "exceed_shared_pte", "pte_non_present", "pte_uffd_wp", "pte_mapped_hugepage", "page_ro",
      "lack_referenced_page", "page_null", "scan_abort", "page_count", "page_lru", "page_lock",
      "page_anon", "page_compound", "any_process", "vma_null", "vma_check", "address_range",
      "del_page_lru", "alloc_huge_page_fail", "cgroup_charge_fail", "truncated", "page_has_private",
      "store_failed", "copy_mc", "page_filled"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<unsigned>(scan_result::page_filled) + 1);
  return names[static_cast<unsigned>(r)];
}

/// Linux: madvise_collapse_errno() (M84).
long madvise_collapse_errno(scan_result r) {
  switch (r) {
    case scan_result::alloc_huge_page_fail: return -E_NOMEM;
    case scan_result::cgroup_charge_fail:
    case scan_result::exceed_none_pte: return -E_BUSY;
    case scan_result::page_count:
    case scan_result::page_lock:
    case scan_result::page_lru:
    case scan_result::del_page_lru:
    case scan_result::page_filled: return -E_AGAIN;
    default: return -E_INVAL;
  }
}

/// MADV_COLLAPSE goes on to the next 2M block after these failures and stops after any other
/// (M86).
bool madvise_collapse_continues(scan_result r) {
  switch (r) {
    case scan_result::pmd_null:
    case scan_result::pte_non_present:
    case scan_result::pte_uffd_wp:
    case scan_result::page_ro:
    case scan_result::lack_referenced_page:
    case scan_result::page_null:
    case scan_result::page_count:
    case scan_result::page_lock:
    case scan_result::page_compound:
    case scan_result::page_lru:
    case scan_result::del_page_lru: return true;
    default: return false;
  }
}

/// Linux: struct collapse_control. khugepaged enforces the max_ptes_* limits and the
/// referenced rule; MADV_COLLAPSE does not.
struct collapse_control {
  bool is_khugepaged;
  unsigned cpu;
};

/// A list entry (and the cursor) for an mm that exited while the cursor was on it: Linux keeps
/// that mm_slot until the scanner steps past it. mm ids are below 2^31 (M15).
constexpr std::uint32_t KHUGEPAGED_EXITED = 1u << 31;

constexpr vaddr_t pmd_round_up(vaddr_t a) { return (a + PMD_SIZE - 1) & ~(PMD_SIZE - 1); }
constexpr vaddr_t pmd_round_down(vaddr_t a) { return a & ~(PMD_SIZE - 1); }

/// Linux: hugepage_pmd_enabled(): may any anonymous VMA get a PMD-size THP?
bool hugepage_pmd_enabled(const kernel_knobs& k) {
  const mthp_mode m = k.mthp_enabled[HPAGE_PMD_ORDER];
  return m == mthp_mode::always || m == mthp_mode::madvise ||
         (m == mthp_mode::inherit && k.thp_enabled != thp_mode::never);
}

/// The check __thp_vma_allowable_orders() makes outside the fault path: the VMA must hold at
/// least one whole aligned 2M block (it tests the last one).
bool vma_holds_pmd_block(const vm_area_struct& vma) {
  return pmd_round_up(vma.vm_start) + PMD_SIZE <= vma.vm_end;
}

/// Linux's find_vma(): the first VMA ending above `addr` (it may start above it).
std::map<vaddr_t, vm_area_struct>::iterator vma_at_or_after(mm_struct& mm, vaddr_t addr) {
  auto it = mm.mmap.upper_bound(addr);
  if (it != mm.mmap.begin() && std::prev(it)->second.vm_end > addr) --it;
  return it;
}

using madvise_collapse_fn = long (*)(kernel&, mm_struct&, vaddr_t, vaddr_t, unsigned);
madvise_collapse_fn madvise_collapse_impl = nullptr;  // set by the first khugepaged_run()

}  // namespace

// Linux: khugepaged_enter_vma(): an mm joins the scan list once, when one of its VMAs becomes
// collapse-eligible while PMD THP is enabled (M72). It goes to the tail, behind the cursor.
void kernel::khugepaged_enter_vma(mm_struct& mm, const vm_area_struct& vma) {
  if (mm.on_khugepaged_list || !hugepage_pmd_enabled(knobs_)) return;
  if (!thp_vma_allowable_orders(vma, mm, 1ull << HPAGE_PMD_ORDER, true) || !vma_holds_pmd_block(vma))
    return;
  mm.on_khugepaged_list = true;
  khugepaged_mm_list_.push_back(mm.mm_id);
}

// Linux: __khugepaged_exit(). An mm under the cursor stays listed (marked exited) until the
// scanner steps past it, so the cursor moves on to the next mm as in Linux.
void kernel::khugepaged_exit(mm_struct& mm) {
  if (!mm.on_khugepaged_list) return;
  mm.on_khugepaged_list = false;
  auto it = std::find(khugepaged_mm_list_.begin(), khugepaged_mm_list_.end(), mm.mm_id);
  MM_BUG_ON(it == khugepaged_mm_list_.end(), "mm flagged but not on the khugepaged list");
  if (khugepaged_scan_mm_ == mm.mm_id) {
    *it |= KHUGEPAGED_EXITED;
    khugepaged_scan_mm_ = *it;
  } else {
    khugepaged_mm_list_.erase(it);
  }
}

long kernel::sys_prctl_thp_disable(task_struct& t, unsigned cpu, bool disable) {
  led_.charge(cpu, arch::cost::syscall, prof_.syscall_cycles);
  t.mm->thp_disabled = disable;
  return 0;
}

void kernel::khugepaged_run(unsigned cpu, std::uint64_t passes, std::uint64_t pages) {
  struct collapse {
    // ---- checks shared by the scan, the re-validation and MADV_COLLAPSE ----

    // thp_vma_allowable_order(vma, PMD_ORDER) with or without TVA_ENFORCE_SYSFS (M44, M85).
    static bool vma_allowable(const kernel& k, const vm_area_struct& vma, const mm_struct& mm,
                              bool enforce_sysfs) {
      return vma.is_anonymous() &&
             k.thp_vma_allowable_orders(vma, mm, 1ull << HPAGE_PMD_ORDER, enforce_sysfs) &&
             vma_holds_pmd_block(vma);
    }

    // Linux: find_pmd_or_thp_or_none() (M78).
    static scan_result find_pmd(const kernel& k, const mm_struct& mm, vaddr_t haddr,
                                pteval_t*& pmd) {
      pmd = k.pmd_offset_map(mm, haddr);
      if (!pmd) return scan_result::pmd_null;
      if (pte_none(*pmd)) return scan_result::pmd_none;
      if (!pte_present(*pmd)) return scan_result::pmd_null;
      if (pmd_leaf(*pmd)) return scan_result::pmd_mapped;
      return scan_result::succeed;
    }

    // Linux: hugepage_vma_revalidate(), run after the mmap lock was dropped.
    static scan_result revalidate(kernel& k, mm_struct& mm, vaddr_t haddr, bool expect_anon,
                                  const collapse_control& cc, vm_area_struct*& out) {
      if (mm.thp_disabled) return scan_result::any_process;
      auto it = vma_at_or_after(mm, haddr);
      if (it == mm.mmap.end()) return scan_result::vma_null;
      vm_area_struct& vma = it->second;
      if (!k.thp_vma_suitable_order(vma, haddr, HPAGE_PMD_ORDER)) return scan_result::address_range;
      if (!vma_allowable(k, vma, mm, cc.is_khugepaged)) return scan_result::vma_check;
      if (expect_anon && !vma.anon_vma) return scan_result::page_anon;
      out = &vma;
      return scan_result::succeed;
    }

    // The "mapped shared?" question at the khugepaged decision site (M79 step 7, M87), asked
    // of the driving scheme and scored for the shadows against the exact answer: whether the
    // page under this PTE is mapped by two or more mms (an anon page maps at most once per
    // mm, M2, so that is its PTE count plus the folio's PMD count).
    static bool page_shared(const kernel& k, folio f, pfn_t pfn) {
      const auto key = k.key(f);
      const unsigned idx = static_cast<unsigned>(pfn - f.pfn);
      const bool answer = k.scheme_->page_shared_for_collapse(key, idx);
      if (k.shadows_) {
        const long mappers = k.page_pte_mapcount(pfn) + (key.order ? k.entire_mapcount(key) : 0);
        k.shadows_->record(mapcount::decision_site::khugepaged_shared_pte, key, idx, mappers > 1,
                           k.folio_ref_count(f));
      }
      return answer;
    }

    // Linux: is_refcount_suitable(): no references beyond the mappings (no GUP pins; mmsim has
    // no swap cache, M35).
    static bool refcount_suitable(const kernel& k, folio f) {
      return k.folio_ref_count(f) == k.scheme_->folio_mapcount(k.key(f));
    }

    static bool none_or_zero(const kernel& k, pteval_t e) {
      return pte_none(e) || (pte_present(e) && k.is_zero_pfn(pte_pfn(e)));
    }

    // ---- the scan of one PMD range ----

    // Linux: hpage_collapse_scan_pmd() (M78-M80). Goes on to collapse_huge_page() when the
    // range qualifies; `mmap_locked` turns false then, as the collapse drops the mmap lock.
    // The scan with its trace event: mm_khugepaged_scan_pmd, or mm_collapse_huge_page when
    // the range went on to a collapse; the detail is the SCAN_* result.
    static scan_result scan_pmd(kernel& k, mm_struct& mm, vaddr_t haddr, const collapse_control& cc,
                                bool& mmap_locked) {
      const arch::cycles_t begin = k.now(cc.cpu);
      const scan_result r = scan_pmd_range(k, mm, haddr, cc, mmap_locked);
      if (k.tracer_) [[unlikely]]
        k.tracer_->emit({mmap_locked ? "mm_khugepaged_scan_pmd" : "mm_collapse_huge_page", cc.cpu, begin,
                         k.now(cc.cpu), haddr,
                         std::string(cc.is_khugepaged ? "khugepaged: " : "MADV_COLLAPSE: ") + scan_result_name(r)});
      return r;
    }

    static scan_result scan_pmd_range(kernel& k, mm_struct& mm, vaddr_t haddr,
                                      const collapse_control& cc, bool& mmap_locked) {
      pteval_t* pmd = nullptr;
      if (auto r = find_pmd(k, mm, haddr, pmd); r != scan_result::succeed) return r;
      const auto& t = k.mem_.table(pte_pfn(*pmd));
      const khugepaged_knobs& lim = k.knobs_.khugepaged;
      unsigned none = 0, unmapped = 0, shared = 0, referenced = 0, examined = 0;
      bool writable = false;
      scan_result r = scan_result::succeed;
      for (unsigned i = 0; i < HPAGE_PMD_NR && r == scan_result::succeed; ++i) {
        const pteval_t e = t[i];
        ++examined;
        if (is_swap_pte(e)) {  // 1. swap entries (no uffd-wp swap entries exist in mmsim)
          if (++unmapped > lim.max_ptes_swap && cc.is_khugepaged) {
            k.vmstat_.count_vm_event(THP_SCAN_EXCEED_SWAP_PTE);
            r = scan_result::exceed_swap_pte;
          }
          continue;
        }
        if (none_or_zero(k, e)) {  // 2. none or the shared zero page (no uffd-armed VMAs)
          if (++none > lim.max_ptes_none && cc.is_khugepaged) {
            k.vmstat_.count_vm_event(THP_SCAN_EXCEED_NONE_PTE);
            r = scan_result::exceed_none_pte;
          }
          continue;
        }
        if (pte_uffd_wp(e)) {  // 3.
          r = scan_result::pte_uffd_wp;
          break;
        }
        if (pte_write(e)) writable = true;  // 4.
        if (pte_special(e)) {               // 5. vm_normal_page() finds no page
          r = scan_result::page_null;
          break;
        }
        const pfn_t pfn = pte_pfn(e);
        const folio f = k.page_folio(pfn);
        if (!k.folio_test_anon(f)) {  // 6.
          r = scan_result::page_anon;
          break;
        }
        if (page_shared(k, f, pfn) && ++shared > lim.max_ptes_shared && cc.is_khugepaged) {  // 7.
          k.vmstat_.count_vm_event(THP_SCAN_EXCEED_SHARED_PTE);
          r = scan_result::exceed_shared_pte;
          break;
        }
        // 8. one node; 9. every folio is on an LRU and unlocked.
        if (!refcount_suitable(k, f)) {  // 10.
          r = scan_result::page_count;
          break;
        }
        if (cc.is_khugepaged && pte_young(e)) ++referenced;  // 11. (no folio young/referenced flags)
      }
      k.led_.charge(cc.cpu, cost::fault, k.prof_.walk_read_cycles * examined);
      if (r != scan_result::succeed) return r;
      // M80.
      if (!writable && k.knobs_.collapse_requires_writable) return scan_result::page_ro;
      if (cc.is_khugepaged && (!referenced || (unmapped && referenced < HPAGE_PMD_NR / 2)))
        return scan_result::lack_referenced_page;
      mmap_locked = false;
      return collapse_huge_page(k, mm, haddr, unmapped, cc);
    }

    // ---- the collapse ----

    // Linux: __collapse_huge_page_swapin(): a synchronous do_swap_page() (a read fault) for
    // every swap entry of the range. Not a page fault: pgfault does not tick.
    static scan_result swapin(kernel& k, mm_struct& mm, vm_area_struct& vma, vaddr_t haddr,
                              pteval_t* pmd, const collapse_control& cc) {
      auto& t = k.mem_.table(pte_pfn(*pmd));
      for (unsigned i = 0; i < HPAGE_PMD_NR; ++i) {
        if (!is_swap_pte(t[i])) continue;
        vm_fault vmf{&mm, &vma, haddr + i * PAGE_SIZE, 0, cc.cpu};
        vmf.pte = &t[i];
        vmf.orig_pte = t[i];
        if (k.do_swap_page(vmf) & (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV))
          return scan_result::fail;
      }
      return scan_result::succeed;
    }

    // Linux: __collapse_huge_page_isolate() (M82): the per-PTE checks again, on the detached
    // table; every large folio is checked (and isolated) once.
    static scan_result isolate(kernel& k, const arch::pt_table& t, const collapse_control& cc) {
      const khugepaged_knobs& lim = k.knobs_.khugepaged;
      unsigned none = 0, shared = 0, referenced = 0;
      bool writable = false;
      std::vector<pfn_t> large_seen;
      k.led_.charge(cc.cpu, cost::fault, k.prof_.walk_read_cycles * HPAGE_PMD_NR);
      for (unsigned i = 0; i < HPAGE_PMD_NR; ++i) {
        const pteval_t e = t[i];
        if (none_or_zero(k, e)) {
          if (++none > lim.max_ptes_none && cc.is_khugepaged) {
            k.vmstat_.count_vm_event(THP_SCAN_EXCEED_NONE_PTE);
            return scan_result::exceed_none_pte;
          }
          continue;
        }
        if (!pte_present(e)) return scan_result::pte_non_present;
        if (pte_uffd_wp(e)) return scan_result::pte_uffd_wp;
        if (pte_special(e)) return scan_result::page_null;
        const pfn_t pfn = pte_pfn(e);
        const folio f = k.page_folio(pfn);
        MM_BUG_ON(!k.folio_test_anon(f), "collapse isolating a non-anonymous folio");
        if (page_shared(k, f, pfn) && ++shared > lim.max_ptes_shared && cc.is_khugepaged) {
          k.vmstat_.count_vm_event(THP_SCAN_EXCEED_SHARED_PTE);
          return scan_result::exceed_shared_pte;
        }
        const bool large = k.folio_order(f) > 0;
        if (!large || std::find(large_seen.begin(), large_seen.end(), f.pfn) == large_seen.end()) {
          if (!refcount_suitable(k, f)) return scan_result::page_count;
          if (large) large_seen.push_back(f.pfn);
        }
        if (cc.is_khugepaged && pte_young(e)) ++referenced;
        if (pte_write(e)) writable = true;
      }
      if (!writable && k.knobs_.collapse_requires_writable) return scan_result::page_ro;
      if (cc.is_khugepaged && !referenced) return scan_result::lack_referenced_page;
      return scan_result::succeed;
    }

    // Linux: __collapse_huge_page_copy() and __collapse_huge_page_copy_succeeded() (M83):
    // every old page's content goes to the same slot of the new folio, none and zero-page
    // slots are zero-filled; then the old PTEs are cleared, their rmap removed and their
    // references dropped (a page mapped nowhere else is freed). The new THP maps all 512, so
    // MM_ANONPAGES gains one per none/zero slot.
    static void copy_and_release(kernel& k, mm_struct& mm, arch::pt_table& t, folio nf,
                                 const collapse_control& cc) {
      unsigned zeroed = 0;
      for (unsigned i = 0; i < HPAGE_PMD_NR; ++i) {
        const pteval_t e = t[i];
        if (none_or_zero(k, e)) {
          k.mem_.word(nf.pfn + i) = 0;
          ++zeroed;
        } else {
          k.mem_.word(nf.pfn + i) = k.mem_.word(pte_pfn(e));
        }
      }
      k.led_.charge(cc.cpu, cost::zeroing, k.prof_.zero_4k_cycles * zeroed);
      k.led_.charge(cc.cpu, cost::copy, k.prof_.copy_4k_cycles * (HPAGE_PMD_NR - zeroed));
      for (unsigned i = 0; i < HPAGE_PMD_NR;) {
        const pteval_t e = t[i];
        if (none_or_zero(k, e)) {
          t[i++] = 0;
          continue;
        }
        // A batch: consecutive PTEs mapping consecutive pages of one folio (folio_pte_batch).
        const pfn_t pfn = pte_pfn(e);
        const folio f = k.page_folio(pfn);
        const pfn_t folio_end = f.pfn + (pfn_t{1} << k.folio_order(f));
        unsigned n = 1;
        while (i + n < HPAGE_PMD_NR && pfn + n < folio_end && pte_present(t[i + n]) &&
               !pte_special(t[i + n]) && pte_pfn(t[i + n]) == pfn + n)
          ++n;
        std::fill_n(t.begin() + i, n, pteval_t{0});
        k.folio_remove_rmap_ptes(f, pfn, n, mm, cc.cpu);
        k.folio_put(f, cc.cpu, n);
        i += n;
      }
      k.led_.charge(cc.cpu, cost::fault, k.prof_.pte_update_cycles * HPAGE_PMD_NR);
      k.add_mm_counter(mm, MM_ANONPAGES, zeroed);
    }

    // Linux: collapse_huge_page() (M81). `unmapped`: swap entries the scan saw.
    static scan_result collapse_huge_page(kernel& k, mm_struct& mm, vaddr_t haddr,
                                          unsigned unmapped, const collapse_control& cc) {
      // 1. Allocate (alloc_charge_folio). khugepaged may reclaim only with khugepaged/defrag;
      // MADV_COLLAPSE always may. Reclaim here is the deferred-split shrinker.
      const bool may_reclaim = !cc.is_khugepaged || k.knobs_.khugepaged.defrag;
      auto nf = k.folio_alloc(HPAGE_PMD_ORDER, false, cc.cpu);
      if (!nf && may_reclaim && k.deferred_split_scan(cc.cpu))
        nf = k.folio_alloc(HPAGE_PMD_ORDER, false, cc.cpu);
      if (!nf) {
        k.vmstat_.count_vm_event(THP_COLLAPSE_ALLOC_FAILED);
        return scan_result::alloc_huge_page_fail;
      }
      k.vmstat_.count_vm_event(THP_COLLAPSE_ALLOC);
      auto give_up = [&](scan_result r) {
        k.folio_put(*nf, cc.cpu);
        return r;
      };
      // 2. Re-validate under the read lock; 3. swap in.
      vm_area_struct* vma = nullptr;
      pteval_t* pmd = nullptr;
      if (auto r = revalidate(k, mm, haddr, true, cc, vma); r != scan_result::succeed) return give_up(r);
      if (auto r = find_pmd(k, mm, haddr, pmd); r != scan_result::succeed) return give_up(r);
      if (unmapped)
        if (auto r = swapin(k, mm, *vma, haddr, pmd, cc); r != scan_result::succeed) return give_up(r);
      // 4. Re-validate under the write lock.
      if (auto r = revalidate(k, mm, haddr, true, cc, vma); r != scan_result::succeed) return give_up(r);
      pteval_t* again = nullptr;
      if (auto r = find_pmd(k, mm, haddr, again); r != scan_result::succeed) return give_up(r);
      if (again != pmd) return give_up(scan_result::fail);
      // 5. Detach the PTE table: pmdp_collapse_flush().
      const pteval_t orig = *pmd;
      *pmd = 0;
      k.flush_tlb_mm_range(mm, haddr, haddr + PMD_SIZE, cc.cpu, false);
      auto& t = k.mem_.table(pte_pfn(orig));
      // 6. Re-check on the detached table; on failure put it back (pmd_populate).
      if (auto r = isolate(k, t, cc); r != scan_result::succeed) {
        *pmd = orig;
        return give_up(r);
      }
      // 7. Copy and release the old pages.
      copy_and_release(k, mm, t, *nf, cc);
      // 8. Map the new folio by PMD, exclusive, with the emptied table deposited under it.
      pteval_t entry = pte_mkdirty(k.mk_pte(nf->pfn, *vma) | _PAGE_PSE);
      if (vma->vm_flags & VM_WRITE) entry = pte_mkwrite(entry);
      k.folio_add_new_anon_rmap_pmd(*nf, haddr, mm, cc.cpu);
      k.pgtable_trans_huge_deposit(mm, haddr, pte_pfn(orig));
      k.set_pte(pmd, entry, cc.cpu);
      return scan_result::succeed;
    }

    // ---- MADV_COLLAPSE ----

    // Linux: madvise_collapse() for one VMA's part [start, end) of the range (M85, M86).
    static long collapse_vma(kernel& k, mm_struct& mm, vm_area_struct& first, vaddr_t start,
                             vaddr_t end, unsigned cpu) {
      if (!vma_allowable(k, first, mm, false)) return -E_INVAL;
      const collapse_control cc{false, cpu};
      const vaddr_t hstart = pmd_round_up(start);
      vaddr_t hend = pmd_round_down(end);
      std::uint64_t thps = 0;
      scan_result last_fail = scan_result::fail;
      bool mmap_locked = true;
      vm_area_struct* vma = &first;
      for (vaddr_t addr = hstart; addr < hend; addr += PMD_SIZE) {
        if (!mmap_locked) {
          mmap_locked = true;
          if (auto r = revalidate(k, mm, addr, false, cc, vma); r != scan_result::succeed) {
            last_fail = r;
            break;
          }
          hend = std::min(hend, pmd_round_down(vma->vm_end));
        }
        const scan_result r = scan_pmd(k, mm, addr, cc, mmap_locked);
        if (r == scan_result::succeed || r == scan_result::pmd_mapped) {
          ++thps;
          continue;
        }
        last_fail = r;
        if (!madvise_collapse_continues(r)) break;
      }
      // Unsigned, as in Linux: a range inside one 2M block that does not start on a boundary
      // makes hend < hstart and the call fail (EINVAL).
      return thps == ((hend - hstart) >> arch::PMD_SHIFT) ? 0 : madvise_collapse_errno(last_fail);
    }

    // madvise_walk_vmas() for MADV_COLLAPSE: each VMA's part in turn; the first failure is
    // returned; holes make the call fail with ENOMEM after the rest was done.
    static long madvise_collapse(kernel& k, mm_struct& mm, vaddr_t start, vaddr_t end,
                                 unsigned cpu) {
      long unmapped_error = 0;
      auto it = vma_at_or_after(mm, start);
      for (;;) {
        if (it == mm.mmap.end()) return -E_NOMEM;
        vm_area_struct& vma = it->second;
        if (start < vma.vm_start) {
          unmapped_error = -E_NOMEM;
          start = vma.vm_start;
          if (start >= end) break;
        }
        const vaddr_t tmp = std::min(end, vma.vm_end);
        if (long err = collapse_vma(k, mm, vma, start, tmp, cpu)) return err;
        start = tmp;
        if (start >= end) break;
        it = vma_at_or_after(mm, start);
      }
      return unmapped_error;
    }

    // ---- the khugepaged thread ----

    // Linux: khugepaged_scan_mm_slot() (M74, M75): scans the mm under the cursor from the
    // saved address, within `budget` progress units. The cursor moves to the next mm once this
    // one has no VMA left; past the last mm it returns to the head and full_scans ticks.
    static std::uint64_t scan_mm_slot(kernel& k, std::uint64_t budget, scan_result& result,
                                      unsigned cpu) {
      result = scan_result::fail;
      auto& list = k.khugepaged_mm_list_;
      if (k.khugepaged_scan_mm_ == 0) {
        k.khugepaged_scan_mm_ = list.front();
        k.khugepaged_scan_address_ = 0;
      }
      const std::uint32_t slot = k.khugepaged_scan_mm_;
      vaddr_t& address = k.khugepaged_scan_address_;
      std::uint64_t progress = 1;  // the mmap lock was taken
      bool vmas_left = false;
      if (!(slot & KHUGEPAGED_EXITED) && !k.mms_.at(slot)->thp_disabled) {
        mm_struct& mm = *k.mms_.at(slot);
        const collapse_control cc{true, cpu};
        for (auto it = vma_at_or_after(mm, address); it != mm.mmap.end() && !vmas_left; ++it) {
          vm_area_struct& vma = it->second;
          k.led_.charge(cpu, cost::syscall, k.prof_.vma_op_cycles);
          const vaddr_t hstart = pmd_round_up(vma.vm_start), hend = pmd_round_down(vma.vm_end);
          if (!vma_allowable(k, vma, mm, true) || address > hend) {
            ++progress;  // a skipped VMA
            continue;
          }
          address = std::max(address, hstart);
          while (address < hend) {
            bool mmap_locked = true;
            result = scan_pmd(k, mm, address, cc, mmap_locked);
            if (result == scan_result::succeed) k.vmstat_.count_vm_event(KHUGEPAGED_PAGES_COLLAPSED);
            address += PMD_SIZE;
            progress += HPAGE_PMD_NR;
            // A collapse attempt dropped the mmap lock: this mm's turn ends, the cursor stays.
            if (!mmap_locked || progress >= budget) {
              vmas_left = true;
              break;
            }
          }
        }
      }
      if (!vmas_left) {
        auto pos = std::find(list.begin(), list.end(), slot);
        MM_BUG_ON(pos == list.end(), "khugepaged cursor on an mm not on the list");
        if (pos + 1 != list.end()) {
          k.khugepaged_scan_mm_ = *(pos + 1);
        } else {
          k.khugepaged_scan_mm_ = 0;
          k.vmstat_.count_vm_event(KHUGEPAGED_FULL_SCANS);
        }
        address = 0;
        if (slot & KHUGEPAGED_EXITED) list.erase(pos);  // collect_mm_slot()
      }
      return progress;
    }

    // Linux: khugepaged_do_scan(), one wake-up (M74, M76). Returns the progress made.
    static std::uint64_t do_scan(kernel& k, unsigned cpu) {
      const std::uint64_t pages = k.knobs_.khugepaged.pages_to_scan;
      std::uint64_t progress = 0, made = 0;
      unsigned pass_through_head = 0;
      bool wait = true;
      scan_result result = scan_result::succeed;
      for (;;) {
        if (k.khugepaged_scan_mm_ == 0) ++pass_through_head;
        const bool has_work = !k.khugepaged_mm_list_.empty() && hugepage_pmd_enabled(k.knobs_);
        if (has_work && pass_through_head < 2) {
          const std::uint64_t p = scan_mm_slot(k, pages - progress, result, cpu);
          progress += p;
          made += p;
        } else {
          progress = pages;
        }
        if (progress >= pages) break;
        if (result == scan_result::alloc_huge_page_fail) {
          // The first failure sleeps alloc_sleep_millisecs (not modelled: no time passes);
          // the second ends the pass.
          if (!wait) break;
          wait = false;
        }
      }
      return made;
    }
  };

  madvise_collapse_impl = &collapse::madvise_collapse;
  if (pages) {
    for (std::uint64_t done = 0; done < pages;) {
      const std::uint64_t p = collapse::do_scan(*this, cpu);
      if (!p) break;  // nothing to scan
      done += p;
    }
    return;
  }
  for (std::uint64_t i = 0; i < passes; ++i) collapse::do_scan(*this, cpu);
}

// Linux: madvise_collapse() over [start, end) (M84-M86); the machinery is in khugepaged_run().
long kernel::madvise_collapse(mm_struct& mm, vaddr_t start, vaddr_t end, unsigned cpu) {
  if (!madvise_collapse_impl) khugepaged_run(cpu, 0, 0);  // defines it; zero passes do nothing
  return madvise_collapse_impl(*this, mm, start, end, cpu);
}

}  // namespace mmsim::mm
