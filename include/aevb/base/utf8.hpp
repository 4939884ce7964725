// Every line aevb prints or writes as text is valid UTF-8, whatever bytes the
// user's files, paths or options held (a Latin-1 byte in a CSV, a binary file
// given as text, a non-UTF-8 path): messages are made safe before printing,
// and JSON is serialized with invalid bytes replaced, never thrown on.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace aevb {

// s with every byte that is not part of a valid UTF-8 sequence replaced by
// U+FFFD, and NUL bytes shown as "\0" (so they cannot cut a message short).
std::string utf8_safe(std::string_view s);

// j as JSON text (one line when indent < 0); invalid UTF-8 in its strings
// becomes U+FFFD.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace aevb
