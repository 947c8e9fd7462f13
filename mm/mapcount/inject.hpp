// Injection schemes `always_shared` and `never_shared` (not Linux; mm-semantics.md M31): every
// "mapped shared?" question gets a constant answer, while counts stay exact.
#pragma once

#include <memory>

#include "mm/mapcount/scheme.hpp"

namespace mmsim::mm::mapcount {
std::unique_ptr<scheme> make_always_shared(const precise_counts& truth);
std::unique_ptr<scheme> make_never_shared(const precise_counts& truth);
}
