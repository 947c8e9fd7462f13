// A worker is one trace process made real: it runs the ops the controller sends it, in its own
// address space, and answers with errno / signal / fault counts. Everything the controller
// observes (pagemap, kpageflags, smaps) it reads from outside, so a worker never touches its
// trace memory except where the trace says so.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sim/trace/ops.hpp"

namespace kreplay {

/// x86_64 4-level TASK_SIZE ((1 << 47) - PAGE_SIZE): the end of user space on the hosts
/// kreplay runs on (traces above it are skipped, host.cpp).
inline constexpr std::uint64_t TASK_SIZE = (1ull << 47) - 4096;

/// [start, end) page-aligned, sorted, merged.
using span_list = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

/// Every address range the trace may ever map (the union of its mmap ranges). The controller
/// scans these in every process; workers never prefault their own memory there.
span_list trace_spans(const mmsim::sim::trace::trace& t);

/// Every address range any op names (mmap, munmap, mprotect, madvise, access, expect): none
/// may overlap kreplay's own mappings, or Linux would act on kreplay's memory where mmsim sees
/// an empty address space.
span_list touched_spans(const mmsim::sim::trace::trace& t);

struct worker_setup {
  const mmsim::sim::trace::trace* trace = nullptr;
  span_list spans;
  span_list touched;
  /// prctl(PR_SET_THP_DISABLE) in the first worker (inherited by every fork): the per-process
  /// form of transparent_hugepage/enabled=never (see host.cpp for when that is exact).
  bool thp_disable = false;
};

/// Linux's madvise value for an advice the trace names, or -1 if kreplay has none. Templated on
/// the enum so that advices the reader does not accept yet (hugepage, collapse, ...) are mapped
/// the day they appear in sim/trace/ops.hpp, without touching this file.
template <class E>
int linux_advice(E a) {
#define KREPLAY_ADVICE(name, value)            \
  if constexpr (requires { E::name; })         \
    if (a == E::name) return value;
  // include/uapi/asm-generic/mman-common.h
  KREPLAY_ADVICE(dontneed, 4)
  KREPLAY_ADVICE(free, 8)
  KREPLAY_ADVICE(hugepage, 14)
  KREPLAY_ADVICE(nohugepage, 15)
  KREPLAY_ADVICE(cold, 20)
  KREPLAY_ADVICE(pageout, 21)
  KREPLAY_ADVICE(populate_read, 22)
  KREPLAY_ADVICE(populate_write, 23)
  KREPLAY_ADVICE(collapse, 25)
#undef KREPLAY_ADVICE
  return -1;
}

/// Linux's prctl() option for a trace `prctl` op, or -1. Structural, like linux_advice: the
/// op is a format extension that may not exist in every build of the reader.
template <class P>
int linux_prctl(const P& p) {
  using O = decltype(p.option);
  if constexpr (requires { O::thp_disable; })
    if (p.option == O::thp_disable) return 41;  // PR_SET_THP_DISABLE, include/uapi/linux/prctl.h
  return -1;
}
/// True for the body type of a `prctl` op.
template <class T>
inline constexpr bool is_prctl_op = requires(const T& b) {
  b.option;
  b.value;
};

/// A greeting problem with this prefix means the host cannot run the trace (a skip, not a
/// failure).
inline constexpr const char* SKIP_PREFIX = "skip: ";

/// The worker for trace pid 1, forked by the controller. Never returns. `sock` is its end of
/// the command channel; it greets with a `ready` reply (or a problem that makes the run fail).
[[noreturn]] void worker_main(const worker_setup& s, int sock);

}  // namespace kreplay
