// Small HTML helpers of aevb-report: escaping, base64, PNG sizes, tables.
//
// Every string that comes from a run directory (config values, paths, HDF5
// attributes) goes through esc() before it reaches the page: a config value
// such as `<script>` must show as text, never run.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aevb::report {

// s made valid UTF-8 (base/utf8.hpp) with & < > " ' escaped: safe in text and
// in quoted attribute values.
std::string esc(std::string_view s);

// RFC 4648 base64 (with padding), for data: URIs.
std::string base64(std::string_view bytes);

// The width and height of a PNG from its IHDR chunk; false if `bytes` is not a
// PNG (wrong signature or too short).
bool png_size(std::string_view bytes, int64_t& width, int64_t& height);

// j as JSON text that can sit inside <script type="application/json">: every
// '<' is written as \u003c, so no "</script>" or "<!--" can end the block
// early whatever the strings hold (JSON has '<' only inside strings).
std::string json_for_script(const nlohmann::json& j);

// A two-column table of (name, value) rows, both escaped.
std::string kv_table(const std::vector<std::pair<std::string, std::string>>& rows, const std::string& css_class = "kv");

// A number for people: up to `digits` significant digits ("-106.22", "3.1e+05").
std::string num(double v, int digits = 6);

}  // namespace aevb::report
