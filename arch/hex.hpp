// "0x7f0000000000": how addresses and frame numbers appear in every message and report.
#pragma once

#include <cstdint>
#include <string>

namespace mmsim::arch {

inline std::string hex(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  char buf[19];
  int i = 18;
  buf[i] = '\0';
  do {
    buf[--i] = digits[v & 0xf];
    v >>= 4;
  } while (v);
  buf[--i] = 'x';
  buf[--i] = '0';
  return std::string(buf + i);
}

}  // namespace mmsim::arch
