// Fuzzes what the nightjar CLI prints for a received message
// (client/cli_output.hpp). The text comes from anyone who knows the account
// ID, so it is the one untrusted input the CLI writes to a terminal or to a
// script.
//
// Input: the message text.
//
// Invariants (trap on violation):
//   - is_valid_utf8 agrees with nlohmann-json's own UTF-8 check (dump()
//     throws exactly for the texts it calls invalid)
//   - message_json is one line of JSON that gives the text back exactly:
//     as the string when "encoding" is "utf-8", else as base64
//   - printable_text is valid UTF-8 with no control character but tab and
//     newline (each newline followed by two spaces), no C1 control and no
//     bidirectional control, whatever the input.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/cli_output bin/fuzz_cli_output
#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/cli_output.hpp"
#include "tests/fuzz/fuzz_common.hpp"

using namespace nightjar;
using namespace nightjar::client;
using namespace nightjar::client::cli;

namespace {

void write_seeds(const std::string& dir) {
  fuzz::write_seed(dir + "/ascii", "hello Bob");
  fuzz::write_seed(dir + "/json-specials", "say \"hi\" \\ \n\t\b\f/");
  fuzz::write_seed(dir + "/terminal-escapes", "\x1b[2J\x1b]0;title\x07\r\x7f");
  fuzz::write_seed(dir + "/multibyte",
                   "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
  fuzz::write_seed(dir + "/c1-and-bidi", "\xc2\x85\xc2\x9b \xe2\x80\xae \xe2\x81\xa6 \xd8\x9c");
  fuzz::write_seed(dir + "/overlong", "\xc0\x80\xe0\x80\x80\xf0\x80\x80\x80");
  fuzz::write_seed(dir + "/surrogate", "\xed\xa0\x80\xed\xbf\xbf");
  fuzz::write_seed(dir + "/above-max", "\xf4\x90\x80\x80\xf5\x80");
  fuzz::write_seed(dir + "/truncated", "ok \xe2\x82");
  fuzz::write_seed(dir + "/empty", "");
}

// The code points of valid UTF-8 (the caller checked it).
std::vector<char32_t> code_points(const std::string& s) {
  std::vector<char32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t cp = len == 1 ? b : b & (0xFFu >> (len + 1));
    for (std::size_t k = 1; k < len; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    out.push_back(cp);
    i += len;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  CHECK(sodium_init() >= 0);
  fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool utf8 = is_valid_utf8(as_bytes(text));

  bool nlohmann_accepts = true;
  try {
    (void)nlohmann::json(text).dump();
  } catch (const nlohmann::json::type_error&) {
    nlohmann_accepts = false;
  }
  CHECK(utf8 == nlohmann_accepts);

  ReceivedMessage m;
  m.timestamp_ms = size * 1'000'003;
  m.text.assign(data, data + size);
  const std::string line = message_json(m);
  CHECK(line.find('\n') == std::string::npos);
  const auto j = nlohmann::json::parse(line);
  const std::string shown = j.at("text").get<std::string>();
  if (utf8) {
    CHECK(j.at("encoding") == "utf-8");
    CHECK(shown == text);
  } else {
    CHECK(j.at("encoding") == "base64");
    std::vector<std::uint8_t> decoded(size + 1);
    std::size_t decoded_len = 0;
    CHECK(sodium_base642bin(decoded.data(), decoded.size(), shown.data(), shown.size(), nullptr,
                            &decoded_len, nullptr, sodium_base64_VARIANT_ORIGINAL) == 0);
    CHECK(decoded_len == size);
    CHECK(std::equal(decoded.begin(), decoded.begin() + static_cast<std::ptrdiff_t>(size), data));
  }

  const std::string printable = printable_text(as_bytes(text));
  CHECK(is_valid_utf8(as_bytes(printable)));
  const auto cps = code_points(printable);
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    CHECK(cp >= 0x20 || cp == '\t' || cp == '\n');
    CHECK(cp != 0x7F && !(cp >= 0x80 && cp <= 0x9F));
    CHECK(!(cp >= 0x202A && cp <= 0x202E) && !(cp >= 0x2066 && cp <= 0x2069));
    CHECK(cp != 0x200E && cp != 0x200F && cp != 0x061C);
    if (cp == '\n') CHECK(i + 2 < cps.size() && cps[i + 1] == ' ' && cps[i + 2] == ' ');
  }
  return 0;
}
