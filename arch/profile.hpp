// CPU profiles: TLB geometry and the cost of every hardware and kernel primitive, as data
// (arch/profiles/*.json, compiled into the binary). Each value in the JSON carries its source
// or the word "estimate"; the loader rejects unknown, missing or unsourced values.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "arch/types.hpp"

namespace mmsim::arch {

struct tlb_geometry {
  unsigned entries = 0;  // 0: the CPU has no such structure
  unsigned ways = 1;
};

// Every numeric field of a profile, in JSON key order: X(key, member, kind)
#define MMSIM_PROFILE_FIELDS(X)                                                  \
  X(ghz, ghz, double)                                                            \
  X(dtlb_4k_entries, dtlb_4k.entries, unsigned)                                  \
  X(dtlb_4k_ways, dtlb_4k.ways, unsigned)                                        \
  X(dtlb_2m_entries, dtlb_2m.entries, unsigned)                                  \
  X(dtlb_2m_ways, dtlb_2m.ways, unsigned)                                        \
  X(dtlb_1g_entries, dtlb_1g.entries, unsigned)                                  \
  X(dtlb_1g_ways, dtlb_1g.ways, unsigned)                                        \
  X(access_cycles, access_cycles, cycles_t)                                      \
  X(walk_read_cycles, walk_read_cycles, cycles_t)                                \
  X(trap_entry_cycles, trap_entry_cycles, cycles_t)                              \
  X(trap_exit_cycles, trap_exit_cycles, cycles_t)                                \
  X(syscall_cycles, syscall_cycles, cycles_t)                                    \
  X(vma_op_cycles, vma_op_cycles, cycles_t)                                      \
  X(fault_path_cycles, fault_path_cycles, cycles_t)                              \
  X(page_alloc_cycles, page_alloc_cycles, cycles_t)                              \
  X(page_free_cycles, page_free_cycles, cycles_t)                                \
  X(zero_4k_cycles, zero_4k_cycles, cycles_t)                                    \
  X(copy_4k_cycles, copy_4k_cycles, cycles_t)                                    \
  X(pte_update_cycles, pte_update_cycles, cycles_t)                              \
  X(rmap_atomic_cycles, rmap_atomic_cycles, cycles_t)                            \
  X(invlpg_cycles, invlpg_cycles, cycles_t)                                      \
  X(flush_all_cycles, flush_all_cycles, cycles_t)                                \
  X(ipi_send_cycles, ipi_send_cycles, cycles_t)                                  \
  X(ipi_receive_cycles, ipi_receive_cycles, cycles_t)

struct cpu_profile {
  std::string name;
  std::string arch;
  std::string description;
  double ghz = 0;
  tlb_geometry dtlb_4k, dtlb_2m, dtlb_1g;
  cycles_t access_cycles = 0;       // a load/store whose translation hits the L1 TLB
  cycles_t walk_read_cycles = 0;    // one page-walk read (cache-resident table line)
  cycles_t trap_entry_cycles = 0;   // #PF delivery to the kernel
  cycles_t trap_exit_cycles = 0;    // return to user
  cycles_t syscall_cycles = 0;      // syscall entry + exit
  cycles_t vma_op_cycles = 0;       // find/split/merge one VMA
  cycles_t fault_path_cycles = 0;   // handle_mm_fault software path, per fault
  cycles_t page_alloc_cycles = 0;   // buddy allocation incl. accounting, per folio
  cycles_t page_free_cycles = 0;    // per folio
  cycles_t zero_4k_cycles = 0;      // clear_page
  cycles_t copy_4k_cycles = 0;      // copy_page
  cycles_t pte_update_cycles = 0;   // write one page-table entry
  cycles_t rmap_atomic_cycles = 0;  // one atomic update of folio metadata
  cycles_t invlpg_cycles = 0;       // local single-page invalidation
  cycles_t flush_all_cycles = 0;    // local full flush of an address space
  cycles_t ipi_send_cycles = 0;     // initiator cost per shootdown target
  cycles_t ipi_receive_cycles = 0;  // target cost of handling a shootdown
};

struct profile_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Names of the built-in profiles, sorted.
std::vector<std::string> profile_names();
/// Loads a built-in profile; throws profile_error listing the known names if unknown.
cpu_profile load_profile(std::string_view name);
/// Parses a profile from JSON text (for user files and tests); throws profile_error.
cpu_profile parse_profile(std::string_view json_text, std::string_view origin);
/// The default profile name for an architecture.
const char* default_profile(std::string_view arch);

}  // namespace mmsim::arch
