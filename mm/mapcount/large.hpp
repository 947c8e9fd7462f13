// Scheme `large` (Linux 6.10-6.14): legacy's per-page state plus _large_mapcount, answering
// "shared?" with folio_likely_mapped_shared() (mm-semantics.md M11-M13).
#pragma once

#include <memory>

#include "mm/mapcount/scheme.hpp"

namespace mmsim::mm::mapcount {
std::unique_ptr<scheme> make_large(const precise_counts& truth);
}
