// Linux's user ABI constants for mmap, mprotect and madvise (include/uapi/asm-generic/mman*.h).
#pragma once

namespace mmsim::mm {

inline constexpr unsigned PROT_NONE = 0x0, PROT_READ = 0x1, PROT_WRITE = 0x2, PROT_EXEC = 0x4;

inline constexpr unsigned MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10,
                          MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000, MAP_POPULATE = 0x8000,
                          MAP_HUGETLB = 0x40000;

inline constexpr int MADV_DONTNEED = 4, MADV_HUGEPAGE = 14, MADV_NOHUGEPAGE = 15, MADV_PAGEOUT = 21,
                     MADV_POPULATE_READ = 22, MADV_POPULATE_WRITE = 23, MADV_COLLAPSE = 25;

}  // namespace mmsim::mm
