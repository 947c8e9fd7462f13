// mmsim's speed and memory benchmark. Measures, on this host:
//   - simulated 4K write faults per second (a first-touch fault storm),
//   - simulated TLB-hit accesses per second,
//   - host bytes per mapped 4K page (the simulator's own footprint).
// and checks them against the design targets (faults >= 2.5 M/s, i.e. 5x the real kernel's
// 2.0 us per fault on this machine; >= 50 M TLB-hit accesses/s; <= 24 bytes per page). Exit
// status 1 if a target is missed. Timing lives here only, never in unit tests.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "sim/replay.hpp"

using namespace mmsim;
using namespace mmsim::sim::trace;

namespace {

trace base(std::uint64_t memory) {
  trace t;
  t.name = "bench";
  t.machine.cpus = 1;
  t.machine.memory = memory;
  return t;
}
op make(std::size_t i, op_body b) {
  op o;
  o.index = i;
  o.body = std::move(b);
  return o;
}
double seconds_of(const std::function<void()>& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
long rss_kb() {
  std::ifstream s("/proc/self/statm");
  long size = 0, resident = 0;
  s >> size >> resident;
  return resident * 4;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t fault_bytes = argc > 1 ? std::stoull(argv[1]) << 20 : (4ull << 30);
  const std::uint64_t pages = fault_bytes >> arch::PAGE_SHIFT;
  constexpr std::uint64_t A = 0x7f0000000000;
  int missed = 0;

  // 1. Fault storm: every 4K page of the range written once, THP off.
  trace storm = base(fault_bytes + (256ull << 20));
  storm.kernel = {{"transparent_hugepage/enabled", "never"}};
  storm.ops.push_back(make(0, mmap_op{A, fault_bytes, PROT_READ | PROT_WRITE, MF_PRIVATE | MF_ANONYMOUS | MF_FIXED}));
  access_op w;
  w.addr = A;
  w.len = fault_bytes;
  w.kind = arch::access_kind::write;
  storm.ops.push_back(make(1, w));
  const long rss0 = rss_kb();
  sim::replayer r(storm, {});
  sim::replay_result res;
  const double t_storm = seconds_of([&] { res = r.run(); });
  const long rss1 = rss_kb();
  const auto faults = r.kernel().vmstat().events[mm::PGFAULT];
  const double fps = static_cast<double>(faults) / t_storm;
  const double model_bytes = static_cast<double>(r.kernel().host_bytes()) / static_cast<double>(pages);
  const double rss_bytes = static_cast<double>(rss1 - rss0) * 1024.0 / static_cast<double>(pages);

  // 2. TLB hits: 16 pages (within every profile's L1 DTLB) read over and over.
  trace hits = base(256ull << 20);
  hits.ops.push_back(make(0, mmap_op{A, 16 * arch::PAGE_SIZE, PROT_READ | PROT_WRITE, MF_PRIVATE | MF_ANONYMOUS | MF_FIXED}));
  access_op warm;
  warm.addr = A;
  warm.len = 16 * arch::PAGE_SIZE;
  warm.kind = arch::access_kind::write;
  hits.ops.push_back(make(1, warm));
  access_op loop = warm;
  loop.kind = arch::access_kind::read;
  loop.stride = 64;
  loop.repeat = 50000;  // 1024 lines x 50000 = 51.2 M accesses
  hits.ops.push_back(make(2, loop));
  sim::replayer rh(hits, {});
  const double t_hits = seconds_of([&] { rh.run(); });
  std::uint64_t accesses = 0;
  for (auto& m : rh.hw().cpus) accesses += m.stats().accesses;
  const double aps = static_cast<double>(accesses) / t_hits;

  auto line = [&](const char* what, double v, const char* unit, double target, bool at_least) {
    const bool ok = at_least ? v >= target : v <= target;
    if (!ok) ++missed;
    std::printf("%-34s %14.2f %-10s target %s %.1f  %s\n", what, v, unit, at_least ? ">=" : "<=", target,
                ok ? "ok" : "MISSED");
  };
  std::printf("fault storm: %llu pages in %.3f s; TLB loop: %llu accesses in %.3f s\n",
              static_cast<unsigned long long>(pages), t_storm, static_cast<unsigned long long>(accesses), t_hits);
  line("simulated 4K faults/s (millions)", fps / 1e6, "M/s", 2.5, true);
  line("simulated TLB-hit accesses/s", aps / 1e6, "M/s", 50.0, true);
  line("host bytes per mapped 4K page", model_bytes, "B", 24.0, false);
  std::printf("%-34s %14.2f %-10s (process RSS growth, for comparison)\n", "host RSS per mapped 4K page", rss_bytes, "B");
  return missed ? 1 : 0;
}
