#include "mm/errno.hpp"

#include <array>
#include <utility>

namespace mmsim::mm {
namespace {
constexpr std::array<std::pair<int, const char*>, 21> errnos{{
    {E_PERM, "EPERM"},   {E_NOENT, "ENOENT"}, {E_SRCH, "ESRCH"},     {E_INTR, "EINTR"},
    {E_IO, "EIO"},       {E_2BIG, "E2BIG"},   {E_BADF, "EBADF"},     {E_AGAIN, "EAGAIN"},
    {E_NOMEM, "ENOMEM"}, {E_ACCES, "EACCES"}, {E_FAULT, "EFAULT"},   {E_BUSY, "EBUSY"},
    {E_EXIST, "EEXIST"}, {E_NODEV, "ENODEV"}, {E_INVAL, "EINVAL"},   {E_NOSPC, "ENOSPC"},
    {E_SPIPE, "ESPIPE"}, {E_RANGE, "ERANGE"}, {E_NOSYS, "ENOSYS"},   {E_OVERFLOW, "EOVERFLOW"},
    {E_HWPOISON, "EHWPOISON"},
}};
constexpr std::array<std::pair<int, const char*>, 2> signals{{{SIG_BUS, "SIGBUS"},
                                                              {SIG_SEGV, "SIGSEGV"}}};
}  // namespace

const char* errno_name(int err) {
  for (auto& [v, n] : errnos)
    if (v == err) return n;
  return "E?";
}
std::optional<int> errno_from_name(std::string_view name) {
  for (auto& [v, n] : errnos)
    if (name == n) return v;
  return std::nullopt;
}
const char* signal_name(int sig) {
  for (auto& [v, n] : signals)
    if (v == sig) return n;
  return "SIG?";
}
std::optional<int> signal_from_name(std::string_view name) {
  for (auto& [v, n] : signals)
    if (name == n) return v;
  return std::nullopt;
}

}  // namespace mmsim::mm
