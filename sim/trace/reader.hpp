// JSON trace (format v1, shared/design/trace-format.md) -> typed ops. Validation is strict:
// unknown keys, ops, knobs and values are errors that name the file, the place and the problem
// ("trace.json: ops[17].stride: \"4k\" is not a size"), never silent defaults.
#pragma once

#include <string>
#include <string_view>

#include "sim/trace/ops.hpp"
#include "sim/trace/values.hpp"

namespace mmsim::sim::trace {

/// `origin` names the source (a file name) in messages. Throws trace_error.
trace parse_trace(std::string_view json_text, const std::string& origin);
/// As parse_trace; an unreadable file is a trace_error too.
trace read_trace_file(const std::string& path);

}  // namespace mmsim::sim::trace
