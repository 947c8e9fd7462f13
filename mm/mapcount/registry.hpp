// The explicit table of mapcount schemes: name -> description -> factory. No static
// self-registration (style-by-example.md 7.2); a test builds every row.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "mm/mapcount/scheme.hpp"

namespace mmsim::mm::mapcount {

struct scheme_info {
  const char* name;
  const char* description;
  std::unique_ptr<scheme> (*make)(const precise_counts& truth);
};

std::span<const scheme_info> schemes();
const scheme_info* find_scheme(std::string_view name);
std::string scheme_names_joined();

}  // namespace mmsim::mm::mapcount
