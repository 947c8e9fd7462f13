// Cost ledger: simulated cycles by category, per CPU. Charged where the work happens (a walk
// charges walk cycles in the walker, zeroing is charged where a page is cleared), never
// estimated after the fact.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "arch/types.hpp"

namespace mmsim::arch {

enum class cost : std::uint8_t {
  access,   // the memory access itself (TLB hit path)
  tlb,      // lower-level TLB lookups after an L1 miss
  walk,     // page-table walk reads
  trap,     // exception entry and return
  fault,    // kernel fault-handling software path (lookup, rmap, accounting)
  alloc,    // page allocator
  zeroing,  // clearing pages
  copy,     // copying pages (CoW, collapse)
  flush,    // local TLB invalidation
  ipi,      // TLB shootdown IPIs
  syscall,  // syscall entry/exit and VMA work
  nr
};
inline constexpr unsigned NR_COST = static_cast<unsigned>(cost::nr);

constexpr const char* cost_name(cost c) {
  constexpr const char* names[] = {"access", "tlb",   "walk",  "trap", "fault",  "alloc",
                                   "zeroing", "copy", "flush", "ipi",  "syscall"};
  return names[static_cast<unsigned>(c)];
}

struct cpu_cycles {
  std::array<cycles_t, NR_COST> by{};
  cycles_t total() const {
    cycles_t t = 0;
    for (auto c : by) t += c;
    return t;
  }
};

class ledger {
 public:
  explicit ledger(unsigned nr_cpus) : cpus_(nr_cpus) {}
  void charge(unsigned cpu, cost c, cycles_t n) { cpus_[cpu].by[static_cast<unsigned>(c)] += n; }
  const cpu_cycles& cpu(unsigned i) const { return cpus_[i]; }
  unsigned nr_cpus() const { return static_cast<unsigned>(cpus_.size()); }

 private:
  std::vector<cpu_cycles> cpus_;
};

}  // namespace mmsim::arch
