// MM_BUG_ON: a broken kernel-model invariant is the simulator's fault, never the trace's. It
// throws mm_bug (caught at the top of sim/ and reported as an internal error with the place),
// so tests can observe it and no library code exits the process.
#pragma once

#include <stdexcept>
#include <string>

namespace mmsim::mm {

struct mm_bug : std::logic_error {
  using std::logic_error::logic_error;
};

[[noreturn]] inline void mm_bug_fail(const char* cond, const std::string& what, const char* file,
                                     int line) {
  throw mm_bug(std::string("MM_BUG_ON(") + cond + ") at " + file + ":" + std::to_string(line) +
               ": " + what);
}

}  // namespace mmsim::mm

#define MM_BUG_ON(cond, what)                                                 \
  do {                                                                        \
    if (cond) [[unlikely]]                                                    \
      ::mmsim::mm::mm_bug_fail(#cond, (what), __FILE__, __LINE__);            \
  } while (0)
