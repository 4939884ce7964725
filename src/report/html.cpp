// HTML helpers of aevb-report (html.hpp).
#include "html.hpp"

#include <cmath>
#include <cstdio>

#include "aevb/base/utf8.hpp"

namespace aevb::report {

std::string esc(std::string_view s) {
  const std::string safe = utf8_safe(s);
  std::string out;
  out.reserve(safe.size() + safe.size() / 8);
  for (const char c : safe) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    const uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool png_size(std::string_view b, int64_t& width, int64_t& height) {
  static constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  // signature (8), IHDR length (4) and type (4), then width and height (4 + 4).
  if (b.size() < 24) return false;
  for (int i = 0; i < 8; ++i)
    if (static_cast<unsigned char>(b[i]) != kSignature[i]) return false;
  if (b.substr(12, 4) != "IHDR") return false;
  const auto be32 = [&](size_t k) {
    int64_t v = 0;
    for (size_t j = 0; j < 4; ++j) v = v << 8 | static_cast<unsigned char>(b[k + j]);
    return v;
  };
  width = be32(16);
  height = be32(20);
  return width > 0 && height > 0;
}

std::string json_for_script(const nlohmann::json& j) {
  const std::string text = json_text(j);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  }
  return out;
}

std::string kv_table(const std::vector<std::pair<std::string, std::string>>& rows, const std::string& css_class) {
  std::string out = "<table class=\"" + esc(css_class) + "\">\n";
  for (const auto& [k, v] : rows) out += "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>\n";
  return out + "</table>\n";
}

std::string num(double v, int digits) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

}  // namespace aevb::report
