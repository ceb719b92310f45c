// Fuzzes NetworkConfig::parse (swarm/network_config.hpp). The file is not
// network input, but operators edit it by hand and share it, and a parser that
// crashes on a typo is a poor first experience.
//
// Input: the text of a config file.
//
// Invariants (trap on violation):
//   - parse never crashes; an error names the source ("network.conf")
//   - a parsed config passes check(), and to_text() parses back to an equal
//     config whose to_text() is the same text.
//
// To regenerate the seed corpus:
//   NIGHTJAR_FUZZ_WRITE_SEEDS=tests/fuzz/corpus/network_config bin/fuzz_network_config
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "routing/crypto.hpp"
#include "swarm/network_config.hpp"
#include "tests/fuzz/fuzz_common.hpp"
#include "tests/support/directory_samples.hpp"

using namespace nightjar;

namespace {

void write_seeds(const std::string& dir) {
  const auto a = test::identity_from(1), b = test::identity_from(2), c = test::identity_from(3);
  NetworkConfig three = test::make_config({&a, &b, &c}, 2);
  three.authorities[2].address = *Endpoint::parse("[2001:db8::1]:7002");
  fuzz::write_seed(dir + "/three-authorities", three.to_text());
  NetworkConfig one = test::make_config({&a});
  one.name.clear();
  fuzz::write_seed(dir + "/one-authority", one.to_text());

  const std::string id = "network_id = " + std::string(64, 'a') + "\n";
  const std::string auth =
      "authority = one " + a.pub.hex() + " " + std::string(64, '1') + " 127.0.0.1:7000";
  fuzz::write_seed(dir + "/crlf-comments", "# c\r\n\r\n" + id + "name = x # y\r\n" + auth + "\r\n");
  fuzz::write_seed(dir + "/three-fields", id + "authority = one " + a.pub.hex() + " 127.0.0.1:1\n");
  fuzz::write_seed(dir + "/unknown-key", id + auth + "\ncolour = blue\n");
  fuzz::write_seed(dir + "/duplicate-key", id + auth + "\n" + auth + "\n");
  fuzz::write_seed(dir + "/threshold-too-high", id + "threshold = 2\n" + auth + "\n");
  fuzz::write_seed(dir + "/no-authority", id);
  fuzz::write_seed(dir + "/no-equals", id + auth + "\nthreshold\n");
  fuzz::write_seed(dir + "/port-0", id + "authority = one " + a.pub.hex() + " " +
                                        std::string(64, '1') + " [::1]:0\n");
}

}  // namespace

NIGHTJAR_FUZZ_INITIALIZE_WITH_SEEDS(write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Copy so that ASan sees the exact end of the input.
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto c = NetworkConfig::parse(text);
  if (!c) {
    CHECK(c.error().rfind("network.conf:", 0) == 0);
    return 0;
  }
  CHECK(c->check().empty());
  const std::string written = c->to_text();
  auto back = NetworkConfig::parse(written);
  CHECK(back.ok());
  CHECK(*back == *c);
  CHECK(back->to_text() == written);
  return 0;
}
