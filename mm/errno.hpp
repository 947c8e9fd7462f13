// Linux errno values and names, so simulated syscalls fail the way Linux's do and reports
// print E_INVAL rather than 22.
#pragma once

#include <optional>
#include <string_view>

namespace mmsim::mm {

// Values are Linux's (include/uapi/asm-generic/errno-base.h, errno.h).
enum linux_errno : int {
  E_PERM = 1, E_NOENT = 2, E_SRCH = 3, E_INTR = 4, E_IO = 5, E_2BIG = 7, E_BADF = 9, E_AGAIN = 11,
  E_NOMEM = 12, E_ACCES = 13, E_FAULT = 14, E_BUSY = 16, E_EXIST = 17, E_NODEV = 19, E_INVAL = 22,
  E_NOSPC = 28, E_SPIPE = 29, E_RANGE = 34, E_NOSYS = 38, E_OVERFLOW = 75, E_HWPOISON = 133,
};

// Signal numbers (x86_64 and arm64 agree on these).
enum linux_signal : int { SIG_BUS = 7, SIG_SEGV = 11 };

const char* errno_name(int err);  // "EINVAL"; "E?" for an unknown value
std::optional<int> errno_from_name(std::string_view name);
const char* signal_name(int sig);
std::optional<int> signal_from_name(std::string_view name);

}  // namespace mmsim::mm
