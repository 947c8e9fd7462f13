// The data-integrity reference: what every process should read at every page, knowing only
// the trace's semantics (a write stores a token, fork copies the address space, munmap and
// MADV_DONTNEED of private anonymous memory leave zeroes). The replay compares every read with
// it, so a lost write, a wrong CoW or a page shared where it must not be is caught at once, as
// the cow selftests' validate_memory does. Only built when checking is on.
#pragma once

#include <cstdint>
#include <map>

namespace mmsim::sim {

class reference_model {
 public:
  void store(int pid, std::uint64_t vpn, std::uint64_t token) { spaces_[pid][vpn] = token; }
  std::uint64_t load(int pid, std::uint64_t vpn) const {
    auto s = spaces_.find(pid);
    if (s == spaces_.end()) return 0;
    auto it = s->second.find(vpn);
    return it == s->second.end() ? 0 : it->second;
  }
  /// The range now reads as zeroes (munmap, MADV_DONTNEED, MAP_FIXED over it).
  void zero(int pid, std::uint64_t first_vpn, std::uint64_t end_vpn) {
    auto s = spaces_.find(pid);
    if (s == spaces_.end()) return;
    s->second.erase(s->second.lower_bound(first_vpn), s->second.lower_bound(end_vpn));
  }
  void fork(int parent, int child) { spaces_[child] = spaces_[parent]; }
  void exit(int pid) { spaces_.erase(pid); }

 private:
  std::map<int, std::map<std::uint64_t, std::uint64_t>> spaces_;
};

}  // namespace mmsim::sim
