// utf8_safe and json_text: every output line is valid UTF-8.
#include <gtest/gtest.h>

#include "aevb/base/utf8.hpp"

namespace aevb {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8Safe, KeepsValidTextAndReplacesEachInvalidByte) {
  EXPECT_EQ(utf8_safe("plain ascii"), "plain ascii");
  EXPECT_EQ(utf8_safe("gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80"), "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(utf8_safe("a\xA5z"), "a" + kFffd + "z");                  // Latin-1 yen sign
  EXPECT_EQ(utf8_safe("\xC0\xAF"), kFffd + kFffd);                     // overlong '/'
  EXPECT_EQ(utf8_safe("\xED\xA0\x80"), kFffd + kFffd + kFffd);         // a UTF-16 surrogate
  EXPECT_EQ(utf8_safe("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // above U+10FFFF
  EXPECT_EQ(utf8_safe("cut \xE2\x82"), "cut " + kFffd + kFffd);        // truncated sequence
  EXPECT_EQ(utf8_safe(std::string_view("nul\0here", 8)), "nul\\0here");
}

TEST(JsonText, ReplacesInvalidBytesInsteadOfThrowing) {
  nlohmann::json j{{"error", "bad byte \xA5"}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);  // what the tools used to die of
  const std::string t = json_text(j);
  EXPECT_EQ(t, "{\"error\":\"bad byte " + kFffd + "\"}");
  EXPECT_EQ(nlohmann::json::parse(t)["error"], "bad byte " + kFffd);
}

}  // namespace
}  // namespace aevb
