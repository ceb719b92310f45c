// Tests of swarm/network_config.hpp: the text format (good files, every
// error with its line number, round trips through to_text), the signature
// threshold, and save/load on disk in a temporary directory.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "swarm/network_config.hpp"
#include "tests/support/directory_samples.hpp"
#include "tests/support/temp_dir.hpp"

using namespace nightjar;
using namespace nightjar::test;

namespace {

const std::string id_hex(64, 'a');
const std::string ed1 = identity_from(1).pub.hex();
const std::string ed2 = identity_from(2).pub.hex();
const std::string ed3 = identity_from(3).pub.hex();
const std::string x1(64, '1');

std::string auth_line(const std::string& name, const std::string& ed,
                      const std::string& addr = "127.0.0.1:7000") {
  return "authority = " + name + " " + ed + " " + x1 + " " + addr + "\n";
}

std::string parse_error(const std::string& text) {
  auto c = NetworkConfig::parse(text);
  REQUIRE_FALSE(c.ok());
  return c.error();
}

}  // namespace

TEST_CASE("a network config with comments, blank lines and CRLF parses", "[directory]") {
  const std::string text =
      "# a test network\r\n"
      "\r\n"
      "  network_id = " +
      id_hex +
      "   # the ID\r\n"
      "name =  Nightjar test net, v2 = best \r\n"
      "\tthreshold=2\r\n"
      "authority = one " +
      ed1 + " " + x1 +
      " 127.0.0.1:7001\r\n"
      "authority =\tTWO.b_c-3  " +
      ed2 + "\t" + x1 +
      " [::1]:7002 # backup\r\n"
      "authority = three " +
      ed3 + " " + x1 + " localhost:7003";
  auto c = NetworkConfig::parse(text);
  REQUIRE(c.ok());
  CHECK(c->network_id.hex() == id_hex);
  CHECK(c->name == "Nightjar test net, v2 = best");
  CHECK(c->threshold == 2u);
  REQUIRE(c->authorities.size() == 3u);
  CHECK(c->authorities[0].name == "one");
  CHECK(c->authorities[0].id.hex() == ed1);
  CHECK(c->authorities[0].link_key.hex() == x1);
  CHECK(c->authorities[0].address.to_string() == "127.0.0.1:7001");
  CHECK(c->authorities[1].name == "TWO.b_c-3");
  CHECK(c->authorities[1].address.to_string() == "[::1]:7002");
  CHECK(c->authorities[2].address.to_string() == "127.0.0.1:7003");
  CHECK(c->check().empty());
  CHECK(c->find_authority(identity_from(2).pub) == &c->authorities[1]);
  CHECK(c->find_authority(identity_from(4).pub) == nullptr);

  // Upper-case hex is read; the minimum is a network ID and one authority.
  std::string upper = ed1;
  for (char& ch : upper)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto minimal = NetworkConfig::parse("network_id=" + id_hex + "\n" + auth_line("a", upper));
  REQUIRE(minimal.ok());
  CHECK(minimal->name.empty());
  CHECK(minimal->threshold == 0u);
  CHECK(minimal->authorities[0].id.hex() == ed1);
}

TEST_CASE("signatures_needed is the threshold or a majority", "[directory]") {
  const auto k1 = identity_from(1), k2 = identity_from(2), k3 = identity_from(3),
             k4 = identity_from(4);
  CHECK(make_config({&k1}).signatures_needed() == 1u);
  CHECK(make_config({&k1, &k2}).signatures_needed() == 2u);
  CHECK(make_config({&k1, &k2, &k3}).signatures_needed() == 2u);
  CHECK(make_config({&k1, &k2, &k3, &k4}).signatures_needed() == 3u);
  CHECK(make_config({&k1, &k2, &k3, &k4}, 1).signatures_needed() == 1u);
  CHECK(NetworkConfig{}.signatures_needed() == 1u);  // never 0
}

TEST_CASE("to_text writes a commented file that parses back to the same config", "[directory]") {
  const auto k1 = identity_from(1), k2 = identity_from(2), k3 = identity_from(3);
  std::vector<NetworkConfig> configs = {make_config({&k1}), make_config({&k1, &k2, &k3}, 3),
                                        make_config({&k1, &k2})};
  configs[0].name.clear();
  configs[2].authorities[1].address = *Endpoint::parse("[2001:db8::7]:65535");
  configs[2].name = "caf\xc3\xa9 = net";
  for (const NetworkConfig& c : configs) {
    const std::string text = c.to_text();
    INFO(text);
    CHECK(text.find("# ") != std::string::npos);
    auto back = NetworkConfig::parse(text);
    REQUIRE(back.ok());
    CHECK(*back == c);
    CHECK(back->to_text() == text);
  }

  NetworkConfig bad = make_config({&k1});
  bad.threshold = 2;
  CHECK_FALSE(bad.check().empty());
  CHECK_THROWS_AS(bad.to_text(), std::invalid_argument);
  NetworkConfig none;
  CHECK(none.check() == "no authorities");
  CHECK_THROWS_AS(none.to_text(), std::invalid_argument);
}

TEST_CASE("network config errors name the line and what is wrong", "[directory]") {
  const std::string head = "network_id = " + id_hex + "\n";
  const std::string one = auth_line("one", ed1);
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {head + "authority = one " + ed1 + " " + x1 + "\n",
       "network.conf:2: authority line needs 4 fields: NAME ED25519-HEX X25519-HEX HOST:PORT "
       "(got 3)"},
      {head + one + "authority = a b c d e\n", "network.conf:3: authority line needs 4 fields"},
      {"# c\n\n" + head + one + "colour = blue\n",
       "network.conf:5: unknown setting 'colour' (expected network_id, name, threshold or "
       "authority)"},
      {head + one + "threshold\n", "network.conf:3: expected KEY = VALUE, got 'threshold'"},
      {head + one + "= 3\n", "network.conf:3: expected KEY = VALUE"},
      {"network_id = abc\n" + one, "network.conf:1: network_id must be 64 hex digits"},
      {"network_id = " + std::string(64, 'g') + "\n" + one, "network.conf:1: network_id must be"},
      {head + one + head, "network.conf:3: network_id is set twice (first on line 1)"},
      {head + "name = a\nname = b\n" + one, "network.conf:3: name is set twice (first on line 2)"},
      {head + "name = a\x01z\n" + one, "network.conf:2: name holds a control character"},
      {head + "name = " + std::string(101, 'n') + "\n" + one,
       "network.conf:2: name is longer than 100 bytes"},
      {head + "threshold = 0\n" + one, "network.conf:2: threshold must be a whole number from 1"},
      {head + "threshold = two\n" + one, "network.conf:2: threshold must be a whole number"},
      {head + "threshold = 2x\n" + one, "network.conf:2: threshold must be a whole number"},
      {head + "threshold = -1\n" + one, "network.conf:2: threshold must be a whole number"},
      {head + "threshold = 1\nthreshold = 1\n" + one, "network.conf:3: threshold is set twice"},
      {head + "threshold = 2\n" + one,
       "network.conf:2: threshold 2 is more than the 1 authorities"},
      {head, "network.conf: no authority line (authority = NAME ED25519-HEX X25519-HEX HOST:PORT)"},
      {one, "network.conf: no network_id line"},
      {"", "network.conf: no network_id line"},
      {head + one + auth_line("two", ed1, "127.0.0.1:7001"),
       "network.conf:3: authority 'two' repeats the Ed25519 key of authority 'one' (first on line "
       "2)"},
      {head + one + auth_line("one", ed2),
       "network.conf:3: authority name 'one' is used twice (first on line 2)"},
      {head + auth_line("bad/name", ed1), "network.conf:2: an authority name may hold only"},
      {head + auth_line(std::string(33, 'n'), ed1), "network.conf:2: an authority name must be"},
      {head + auth_line("one", "xyz"),
       "network.conf:2: authority 'one': the Ed25519 key must be 64 hex digits"},
      {head + "authority = one " + ed1 + " 12 127.0.0.1:1\n",
       "network.conf:2: authority 'one': the X25519 link key must be 64 hex digits"},
      {head + auth_line("one", ed1, "example.org:80"),
       "network.conf:2: authority 'one': 'example.org' is not an IP address"},
      {head + auth_line("one", ed1, "127.0.0.1"), "network.conf:2: authority 'one': expected"},
      {head + auth_line("one", ed1, "127.0.0.1:0"),
       "network.conf:2: authority 'one': the address has port 0"},
      {head + auth_line("one", ed1, "[fe80::1%lo]:80"),
       "network.conf:2: authority 'one': the address may not have an IPv6 scope ID"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const std::string error = parse_error(c.text);
    CHECK(error.rfind(c.error, 0) == 0);
    if (error.rfind(c.error, 0) != 0) WARN(error);
  }

  // At most 16 authorities.
  std::string many = head;
  for (int i = 0; i < 17; ++i)
    many += auth_line("a" + std::to_string(i),
                      identity_from(static_cast<std::uint8_t>(i + 1)).pub.hex());
  CHECK(parse_error(many) == "network.conf:18: more than 16 authorities");

  // The source name is the caller's.
  auto named = NetworkConfig::parse("bogus = 1\n", "/etc/nightjar/net.conf");
  REQUIRE_FALSE(named.ok());
  CHECK(named.error().rfind("/etc/nightjar/net.conf:1: unknown setting 'bogus'", 0) == 0);
}

TEST_CASE("network configs save atomically and load back", "[directory]") {
  TempDir dir;
  const auto k1 = identity_from(1), k2 = identity_from(2);
  const NetworkConfig c = make_config({&k1, &k2}, 1);
  const auto path = dir.path() / "network.conf";

  REQUIRE(c.save(path).ok());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  auto back = NetworkConfig::load(path);
  REQUIRE(back.ok());
  CHECK(*back == c);

  // Saving again replaces the file whole.
  NetworkConfig changed = c;
  changed.name = "renamed";
  REQUIRE(changed.save(path).ok());
  CHECK(*NetworkConfig::load(path) == changed);

  // A config that could not be read back is not written.
  NetworkConfig bad = c;
  bad.authorities.clear();
  auto refused = bad.save(dir.path() / "bad.conf");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error() == "cannot save network config: no authorities");
  CHECK_FALSE(std::filesystem::exists(dir.path() / "bad.conf"));

  // Errors name the file.
  auto missing = NetworkConfig::load(dir.path() / "absent.conf");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find("cannot read network config " + (dir.path() / "absent.conf").string() +
                             ": No such file or directory") == 0);
  auto not_file = NetworkConfig::load(dir.path());
  REQUIRE_FALSE(not_file.ok());
  CHECK(not_file.error().find("is not a regular file") != std::string::npos);
  {
    std::ofstream broken(dir.path() / "broken.conf");
    broken << "network_id = 12\n";
  }
  auto parse_failed = NetworkConfig::load(dir.path() / "broken.conf");
  REQUIRE_FALSE(parse_failed.ok());
  CHECK(parse_failed.error() ==
        (dir.path() / "broken.conf").string() + ":1: network_id must be 64 hex digits");
  {
    std::ofstream big(dir.path() / "big.conf");
    big << std::string(NetworkConfig::max_file_bytes + 1, '#');
  }
  auto too_big = NetworkConfig::load(dir.path() / "big.conf");
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.error().find("larger than 64 KiB") != std::string::npos);
  auto no_dir = c.save(dir.path() / "nowhere" / "network.conf");
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().find("cannot create") == 0);
}
