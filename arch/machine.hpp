// The simulated hardware: physical memory, one MMU per CPU, the cost ledger, the CPU profile.
#pragma once

#include <memory>
#include <vector>

#include "arch/ledger.hpp"
#include "arch/phys_mem.hpp"
#include "arch/profile.hpp"
#include "arch/x86_64/mmu.hpp"

namespace mmsim::arch {

struct machine {
  machine(const cpu_profile& p, pfn_t nr_frames, unsigned nr_cpus, unsigned va_bits)
      : profile(p), mem(nr_frames), led(nr_cpus), va_bits(va_bits) {
    cpus.reserve(nr_cpus);
    for (unsigned c = 0; c < nr_cpus; ++c) cpus.emplace_back(profile, mem, led, c, va_bits);
  }
  unsigned nr_cpus() const { return static_cast<unsigned>(cpus.size()); }

  cpu_profile profile;
  phys_mem mem;
  ledger led;
  unsigned va_bits;
  std::vector<x86_64::mmu> cpus;
};

}  // namespace mmsim::arch
