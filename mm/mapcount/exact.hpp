#pragma once

#include <memory>

#include "mm/mapcount/scheme.hpp"

namespace mmsim::mm::mapcount {
std::unique_ptr<scheme> make_exact(const precise_counts& truth);
}
