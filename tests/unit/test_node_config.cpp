// Tests of node/node_config.hpp and node/settings.hpp: nightjar-node's
// settings from a command line and a config file. Defaults, every section's
// mapping to NodeOptions, the command line over the file, relative paths in
// the file, and one clear error line for each class of bad input: unknown
// options and keys, repeats, bad values and ranges, and missing or
// contradictory settings. Also the value parsers, the help text, and that
// contrib/nightjar-node.conf parses.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "node/node_config.hpp"
#include "node/settings.hpp"

using namespace nightjar;

namespace {

using Args = std::vector<std::string>;

Result<DaemonConfig, std::string> parse(const Args& args, const std::string& file_text = "",
                                        const std::string& file_name = "/etc/nightjar/node.conf") {
  if (file_text.empty()) return parse_node_config(args);
  ConfigText file{file_name, file_text};
  return parse_node_config(args, &file);
}

DaemonConfig parse_ok(const Args& args, const std::string& file_text = "") {
  auto r = parse(args, file_text);
  INFO((r ? std::string("ok") : r.error()));
  REQUIRE(r.ok());
  return *r;
}

std::string parse_error(const Args& args, const std::string& file_text = "") {
  auto r = parse(args, file_text);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

const Args authority = {"--data-dir", "/var/lib/nightjar", "--authority"};

Args with(Args base, const Args& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

}  // namespace

TEST_CASE("node config: the defaults", "[unit][node_config]") {
  const DaemonConfig c = parse_ok(authority);
  CHECK(c.action == DaemonAction::run);
  CHECK(c.node.data_dir == "/var/lib/nightjar");
  CHECK(c.node.authority);
  CHECK_FALSE(c.network_file);
  CHECK(c.node.listen.to_string() == "127.0.0.1:7420");
  CHECK_FALSE(c.node.public_address);
  CHECK(c.node.params == NetworkParams{});
  CHECK(c.node.store.disk_cap_bytes == 10ull << 30);
  CHECK(c.node.listener.max_links == 4096);
  CHECK(c.node.relay.max_entries == RelayConfig{}.max_entries);
  CHECK(c.node.relay.max_pending_per_peer == RelayConfig{}.max_pending_per_peer);
  CHECK(c.node.relay.replay_entries_per_epoch == RelayConfig{}.replay_entries_per_epoch);
  CHECK(c.node.link.write_queue_limit == LinkConfig{}.write_queue_limit);
  CHECK(c.node.link.read_pause_bytes == LinkConfig{}.read_pause_bytes);
  CHECK(c.node.max_long_polls == 20'000);
  CHECK(c.node.rate_limits.client.frames_per_second == 100);
  CHECK(c.node.rate_limits.peer.burst == 40'000);
  CHECK(c.log.level == spdlog::level::info);
  CHECK_FALSE(c.log.file);
  CHECK(c.log.timestamps == LogTimestamps::automatic);
  REQUIRE(c.metrics.listen);
  CHECK(c.metrics.listen->to_string() == "127.0.0.1:9190");
  CHECK_FALSE(c.metrics.chosen);
}

TEST_CASE("node config: help and version need nothing else", "[unit][node_config]") {
  CHECK(parse_ok({"--help"}).action == DaemonAction::help);
  CHECK(parse_ok({"-h"}).action == DaemonAction::help);
  CHECK(parse_ok({"--version"}).action == DaemonAction::version);
}

TEST_CASE("node config: command-line options reach the node's options", "[unit][node_config]") {
  const DaemonConfig c = parse_ok({"--data-dir",
                                   "d",
                                   "--network",
                                   "net.conf",
                                   "--listen",
                                   "127.0.0.2:9000",
                                   "--public-address",
                                   "[::1]:9001",
                                   "--disk-cap",
                                   "512M",
                                   "--store-cache",
                                   "16M",
                                   "--max-connections",
                                   "100",
                                   "--client-rate",
                                   "5",
                                   "--client-burst",
                                   "7",
                                   "--peer-rate",
                                   "0",
                                   "--peer-burst",
                                   "9",
                                   "--relay-entries",
                                   "1000",
                                   "--relay-pending-per-peer",
                                   "8",
                                   "--replay-cache-entries",
                                   "4096",
                                   "--link-write-queue",
                                   "2M",
                                   "--link-read-pause=512K",
                                   "--max-long-polls",
                                   "50",
                                   "--log-level",
                                   "debug",
                                   "--log-file",
                                   "logs/node.log",
                                   "--log-max-size",
                                   "1M",
                                   "--log-max-files",
                                   "3",
                                   "--log-timestamps",
                                   "no",
                                   "--metrics",
                                   "127.0.0.1:0"});
  CHECK(c.node.data_dir == "d");
  REQUIRE(c.network_file);
  CHECK(*c.network_file == "net.conf");  // relative to the working directory
  CHECK_FALSE(c.node.authority);
  CHECK(c.node.listen.to_string() == "127.0.0.2:9000");
  REQUIRE(c.node.public_address);
  CHECK(c.node.public_address->to_string() == "[::1]:9001");
  CHECK(c.node.store.disk_cap_bytes == 512ull << 20);
  CHECK(c.node.store.cache_bytes == 16u << 20);
  CHECK(c.node.listener.max_links == 100);
  CHECK(c.node.rate_limits.client.frames_per_second == 5);
  CHECK(c.node.rate_limits.client.burst == 7);
  CHECK(c.node.rate_limits.peer.frames_per_second == 0);
  CHECK(c.node.rate_limits.peer.burst == 9);
  CHECK(c.node.relay.max_entries == 1000);
  CHECK(c.node.relay.max_pending_per_peer == 8);
  CHECK(c.node.relay.replay_entries_per_epoch == 4096);
  CHECK(c.node.link.write_queue_limit == 2u << 20);
  CHECK(c.node.link.read_pause_bytes == 512u << 10);
  CHECK(c.node.max_long_polls == 50);
  CHECK(c.log.level == spdlog::level::debug);
  REQUIRE(c.log.file);
  CHECK(*c.log.file == "logs/node.log");
  CHECK(c.log.max_file_bytes == 1u << 20);
  CHECK(c.log.max_files == 3);
  CHECK(c.log.timestamps == LogTimestamps::off);
  REQUIRE(c.metrics.listen);
  CHECK(c.metrics.listen->port() == 0);
  CHECK(c.metrics.chosen);
}

TEST_CASE("node config: authority settings become the network parameters", "[unit][node_config]") {
  const DaemonConfig c = parse_ok(with(authority, {"--epoch-seconds",
                                                   "1",
                                                   "--swarm-sizes",
                                                   "3,3,5",
                                                   "--quorum",
                                                   "2",
                                                   "--directory-lifetime-epochs",
                                                   "4",
                                                   "--cell-bytes",
                                                   "2048",
                                                   "--onion-epoch-seconds",
                                                   "100",
                                                   "--onion-grace-seconds",
                                                   "10",
                                                   "--ttl-min-seconds",
                                                   "5",
                                                   "--ttl-max-seconds",
                                                   "60",
                                                   "--max-body-bytes",
                                                   "300",
                                                   "--recipient-quota-messages",
                                                   "10",
                                                   "--recipient-quota-bytes",
                                                   "4K"}));
  const NetworkParams& p = c.node.params;
  CHECK(p.directory_epoch_seconds == 1);
  CHECK(p.swarm == SwarmSizes{3, 3, 5});
  CHECK(p.quorum == 2);
  CHECK(p.directory_lifetime_epochs == 4);
  CHECK(p.cell_bytes == 2048);
  CHECK(p.onion_epoch_seconds == 100);
  CHECK(p.onion_grace_seconds == 10);
  CHECK(p.ttl_min_seconds == 5);
  CHECK(p.ttl_max_seconds == 60);
  CHECK(p.max_body_bytes == 300);
  CHECK(p.recipient_quota_messages == 10);
  CHECK(p.recipient_quota_bytes == 4096);
  CHECK(p.defences == Defences{});  // off unless asked for
  CHECK(p.check().empty());
}

TEST_CASE("node config: the anonymity defences become network parameters", "[unit][node_config]") {
  const DaemonConfig c = parse_ok(with(authority, {"--mix-delay-ms", "50", "--loop-rate", "0.25",
                                                   "--drop-rate", "2", "--poll-padding-ms", "500"}));
  const Defences& d = c.node.params.defences;
  CHECK(d.mix_delay_ms == 50);
  CHECK(d.mix_delay_max_ms == 250);  // 5 x the mean by default
  CHECK(d.loop_rate_millihertz == 250);
  CHECK(d.drop_rate_millihertz == 2000);
  CHECK(d.poll_padding_ms == 500);
  CHECK(parse_ok(with(authority, {"--mix-delay-ms", "3000"})).node.params.defences.mix_delay_max_ms ==
        10'000);
  CHECK(parse_ok(with(authority, {"--mix-delay-ms", "40", "--mix-delay-max-ms", "100"}))
            .node.params.defences.mix_delay_max_ms == 100);
  CHECK(parse_ok(with(authority, {"--loop-rate", "0.001"})).node.params.defences.loop_rate_millihertz ==
        1);
  for (const char* bad : {"-1", "0.0001", "abc", "1.", ".5", "101", "1e3"})
    CHECK(parse_error(with(authority, {"--loop-rate", bad})).rfind("--loop-rate: ", 0) == 0);
  CHECK(parse_error(with(authority, {"--mix-delay-max-ms", "100"})).rfind("--mix-delay-max-ms: ", 0) ==
        0);
  CHECK(parse_error(with(authority, {"--mix-delay-ms", "100", "--mix-delay-max-ms", "50"}))
            .find("mix delay bound") != std::string::npos);
  CHECK(parse_error(with(authority, {"--poll-padding-ms", "10"})).find("poll padding") !=
        std::string::npos);
}

TEST_CASE("node config: rates per second read back what they write", "[unit][node_config]") {
  CHECK(format_millihertz(0) == "0.000");
  CHECK(format_millihertz(5) == "0.005");
  CHECK(format_millihertz(250) == "0.250");
  CHECK(format_millihertz(2000) == "2.000");
  CHECK(format_millihertz(100'000) == "100.000");
  for (std::uint32_t v : {0u, 1u, 9u, 10u, 99u, 100u, 999u, 1000u, 1001u, 12'345u, 100'000u}) {
    auto back = parse_millihertz(format_millihertz(v));
    REQUIRE(back);
    CHECK(*back == v);
  }
}

TEST_CASE("node config: the config file's sections map to the same settings",
          "[unit][node_config]") {
  const std::string file =
      "# a comment\n"
      "[node]\n"
      "data-dir = /srv/nightjar\n"
      "[network]\n"
      "file = /etc/nightjar/network.conf\n"
      "listen = 127.0.0.1:7000\n"
      "public-address = 127.0.0.3:7000\n"
      "[authority]\n"
      "enabled = yes\n"
      "epoch-seconds = 60\n"
      "swarm-sizes = 1,1,3\n"
      "[storage]\n"
      "disk-cap = 2G\n"
      "[limits]\n"
      "max-connections = 12\n"
      "client-rate = 3\n"
      "[log]\n"
      "level = warn\n"
      "file = /var/log/nightjar.log\n"
      "max-files = 2\n"
      "[metrics]\n"
      "listen = off\n";
  const DaemonConfig c = parse_ok({}, file);
  CHECK(c.node.data_dir == "/srv/nightjar");
  CHECK(*c.network_file == "/etc/nightjar/network.conf");
  CHECK(c.node.listen.to_string() == "127.0.0.1:7000");
  CHECK(c.node.public_address->to_string() == "127.0.0.3:7000");
  CHECK(c.node.authority);
  CHECK(c.node.params.directory_epoch_seconds == 60);
  CHECK(c.node.params.swarm == SwarmSizes{1, 1, 3});
  CHECK(c.node.store.disk_cap_bytes == 2ull << 30);
  CHECK(c.node.listener.max_links == 12);
  CHECK(c.node.rate_limits.client.frames_per_second == 3);
  CHECK(c.log.level == spdlog::level::warn);
  CHECK(*c.log.file == "/var/log/nightjar.log");
  CHECK(c.log.max_files == 2);
  CHECK_FALSE(c.metrics.listen);
  CHECK(c.metrics.chosen);
}

TEST_CASE("node config: the command line overrides the file", "[unit][node_config]") {
  // A bad value in the file that the command line overrides is not read.
  CHECK(parse_ok(with(authority, {"--listen", "127.0.0.1:1"}), "[network]\nlisten = nonsense\n")
            .node.listen.to_string() == "127.0.0.1:1");
  const std::string file =
      "[node]\ndata-dir = /from/file\n[network]\nlisten = 127.0.0.1:7000\n"
      "[authority]\nenabled = true\n[log]\nlevel = error\n";
  const DaemonConfig c = parse_ok({"--listen", "127.0.0.1:8000", "--log-level", "trace"}, file);
  CHECK(c.node.data_dir == "/from/file");
  CHECK(c.node.listen.to_string() == "127.0.0.1:8000");
  CHECK(c.log.level == spdlog::level::trace);
}

TEST_CASE("node config: relative paths in the file are the file's", "[unit][node_config]") {
  const std::string file =
      "[node]\ndata-dir = data\n[network]\nfile = net/network.conf\n[log]\nfile = node.log\n";
  auto r = parse({}, file, "/etc/nightjar/node.conf");
  REQUIRE(r.ok());
  CHECK(r->node.data_dir == "/etc/nightjar/data");
  CHECK(*r->network_file == "/etc/nightjar/net/network.conf");
  CHECK(*r->log.file == "/etc/nightjar/node.log");
  // A file named without a directory leaves them relative to the working one.
  auto bare = parse({}, file, "node.conf");
  REQUIRE(bare.ok());
  CHECK(bare->node.data_dir == "data");
}

TEST_CASE("node config: unknown options and keys are named", "[unit][node_config]") {
  CHECK(parse_error(with(authority, {"--bogus"})) == "unrecognised option '--bogus' (see --help)");
  // No guessing from a prefix.
  CHECK(parse_error(with(authority, {"--list", "x"})).find("'--list'") != std::string::npos);
  CHECK(parse_error(authority, "[limits]\nmax-conections = 5\n") ==
        "/etc/nightjar/node.conf: unknown key 'max-conections' in section [limits]");
  CHECK(parse_error(authority, "[bogus]\nlisten = 1\n") ==
        "/etc/nightjar/node.conf: unknown key 'listen' in section [bogus]");
  CHECK(parse_error(authority, "listen = 127.0.0.1:1\n") ==
        "/etc/nightjar/node.conf: unknown key 'listen' outside any section");
  // Settings of the command line only are not keys of the file.
  CHECK(parse_error(authority, "config = other.conf\n").find("unknown key 'config'") !=
        std::string::npos);
  // A line that is not 'key = value'.
  const std::string syntax = parse_error(authority, "[node]\njust some words\n");
  CHECK(syntax.rfind("/etc/nightjar/node.conf: ", 0) == 0);
}

TEST_CASE("node config: a setting given twice is an error", "[unit][node_config]") {
  CHECK(parse_error(with(authority, {"--listen", "127.0.0.1:1", "--listen", "127.0.0.1:2"})) ==
        "--listen is given twice");
  CHECK(parse_error(authority, "[network]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n") ==
        "/etc/nightjar/node.conf: key 'listen' in section [network] is given twice");
}

TEST_CASE("node config: bad values name the setting and where it came from",
          "[unit][node_config]") {
  CHECK(parse_error(with(authority, {"--listen", "nonsense"})) ==
        "--listen: expected HOST:PORT, got 'nonsense'");
  CHECK(parse_error(with(authority, {"--swarm-sizes", "5,3,1"})) ==
        "--swarm-sizes: '5,3,1': need 1 <= MIN <= IDEAL <= MAX <= 64");
  CHECK(parse_error(with(authority, {"--swarm-sizes", "5,7"})).rfind("--swarm-sizes: ", 0) == 0);
  CHECK(parse_error(with(authority, {"--epoch-seconds", "0"})) ==
        "--epoch-seconds: '0' is out of range (1 to 86400)");
  CHECK(parse_error(with(authority, {"--epoch-seconds", "ten"})) ==
        "--epoch-seconds: 'ten' is not a whole number");
  CHECK(parse_error(with(authority, {"--disk-cap", "10X"}))
            .rfind("--disk-cap: '10X' is not a size", 0) == 0);
  CHECK(parse_error(with(authority, {"--log-level", "loud"})) ==
        "--log-level: 'loud' is not one of trace, debug, info, warn, error, critical, off");
  CHECK(
      parse_error(with(authority, {"--log-timestamps", "maybe"})).rfind("--log-timestamps: ", 0) ==
      0);
  CHECK(parse_error(with(authority, {"--metrics", "everywhere"})).rfind("--metrics: ", 0) == 0);
  CHECK(parse_error(with(authority, {"--authority=yes"})).find("'--authority'") !=
        std::string::npos);
  CHECK(parse_error(with(authority, {"--listen"})).find("'--listen'") != std::string::npos);
  CHECK(parse_error({"--data-dir", "d"}, "[authority]\nenabled = maybe\n") ==
        "/etc/nightjar/node.conf: [authority] enabled: 'maybe' is not true or false (or yes/no, "
        "on/off, 1/0)");
  CHECK(parse_error(authority, "[storage]\ndisk-cap =\n") ==
        "/etc/nightjar/node.conf: [storage] disk-cap: '' is not a size (e.g. 4096, 512K, 64M, "
        "10G)");
}

TEST_CASE("node config: settings that contradict each other are refused", "[unit][node_config]") {
  // Valid one by one, not together.
  CHECK(parse_error(with(authority, {"--swarm-sizes", "3,3,4"})) ==
        "invalid network parameters: swarm sizes must satisfy max >= 2*min - 1");
  CHECK(parse_error(with(authority, {"--link-write-queue", "1M", "--link-read-pause", "1M"})) ==
        "--link-read-pause: must be less than link-write-queue (1048576 bytes)");
  CHECK(parse_error(with(authority, {"--listen", "0.0.0.0:7420"}))
            .rfind("--listen: 0.0.0.0:7420 is not an address others can reach", 0) == 0);
  CHECK(parse_ok(with(authority, {"--listen", "0.0.0.0:7420", "--public-address", "10.0.0.1:7420"}))
            .node.public_address->to_string() == "10.0.0.1:7420");
  CHECK(parse_error(with(authority, {"--public-address", "10.0.0.1:0"})) ==
        "--public-address: needs a port other than 0");
}

TEST_CASE("node config: what must be given", "[unit][node_config]") {
  CHECK(parse_error({"--authority"}) ==
        "--data-dir is required (or data-dir in the [node] section of the config file)");
  CHECK(parse_error({"--data-dir", "d"}) ==
        "no network file (--network FILE) and not an authority (--authority): nothing to join");
  CHECK(parse_error({"--data-dir", "d", "--authority", "extra"}) ==
        "unexpected argument 'extra' (options start with --; see --help)");
  CHECK(parse_error({"--data-dir", "d", "--authority", "--", "extra"}) ==
        "unexpected argument 'extra' (options start with --; see --help)");
}

TEST_CASE("node config: printing an authority line", "[unit][node_config]") {
  const DaemonConfig c = parse_ok(
      {"--data-dir", "d", "--print-authority-line", "auth1", "--public-address", "10.0.0.1:7420"});
  CHECK(c.action == DaemonAction::print_authority_line);
  CHECK(c.authority_name == "auth1");
  // Needs neither a network nor --authority, but a port others can use.
  CHECK(parse_error({"--data-dir", "d", "--print-authority-line", "a", "--listen",
                     "127.0.0.1:0"}) == "--listen: an authority line needs a fixed port, not 0");
}

TEST_CASE("node config: the --config argument is found first", "[unit][node_config]") {
  auto none = config_file_argument(Args{"--data-dir", "d"});
  REQUIRE(none.ok());
  CHECK_FALSE(*none);
  auto some = config_file_argument(Args{"--config", "/etc/nightjar/node.conf"});
  REQUIRE(some.ok());
  CHECK(**some == "/etc/nightjar/node.conf");
  CHECK_FALSE(config_file_argument(Args{"--bogus"}).ok());
  auto help = config_file_argument(Args{"--config", "/nonexistent.conf", "--help"});
  REQUIRE(help.ok());
  CHECK_FALSE(*help);
}

TEST_CASE("node config: sizes", "[unit][node_config]") {
  CHECK(*parse_size("0") == 0);
  CHECK(*parse_size("512") == 512);
  CHECK(*parse_size("64K") == 64u << 10);
  CHECK(*parse_size("64k") == 64u << 10);
  CHECK(*parse_size("512M") == 512u << 20);
  CHECK(*parse_size("10G") == 10ull << 30);
  CHECK(*parse_size("1T") == 1ull << 40);
  CHECK(*parse_size("1KiB") == 1024);
  CHECK(*parse_size("1KB") == 1024);
  CHECK(*parse_size("100B") == 100);
  CHECK(*parse_size("16777215T") == 16777215ull << 40);
  for (const char* bad : {"", "G", "10X", "-1", "+1", "1.5G", " 10", "10 ", "10GG", "10Gi",
                          "16777216T", "99999999999999999999"}) {
    INFO(bad);
    auto r = parse_size(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().find(std::string("'") + bad + "'") != std::string::npos);
  }
}

TEST_CASE("node config: counts, flags and swarm sizes", "[unit][node_config]") {
  CHECK(*parse_count("0") == 0);
  CHECK(*parse_count("18446744073709551615") == UINT64_MAX);
  for (const char* bad : {"", "-1", "1e3", "0x10", "12a", "18446744073709551616"})
    CHECK_FALSE(parse_count(bad).ok());
  for (const char* yes : {"true", "YES", "on", "1"})
    CHECK(*parse_flag(yes));
  for (const char* no : {"false", "No", "OFF", "0"})
    CHECK_FALSE(*parse_flag(no));
  CHECK_FALSE(parse_flag("maybe").ok());
  CHECK_FALSE(parse_flag("").ok());
  CHECK(*parse_swarm_sizes("5,7,10") == SwarmSizes{5, 7, 10});
  CHECK(*parse_swarm_sizes("1,1,1") == SwarmSizes{1, 1, 1});
  for (const char* bad : {"", "5", "5,7", "5,7,10,12", "5,,10", "a,b,c", "0,1,1", "5,3,1", "1,1,65",
                          "5, 7, 10", "5,7,10,"})
    CHECK_FALSE(parse_swarm_sizes(bad).ok());
}

TEST_CASE("node config: the help lists every option and its config file key",
          "[unit][node_config]") {
  const std::string help = node_config_help();
  for (const char* option : {"--help",
                             "--version",
                             "--config FILE",
                             "--print-authority-line NAME",
                             "--data-dir DIR",
                             "--network FILE",
                             "--listen HOST:PORT",
                             "--public-address HOST:PORT",
                             "--authority",
                             "--epoch-seconds N",
                             "--swarm-sizes MIN,IDEAL,MAX",
                             "--disk-cap SIZE",
                             "--max-connections N",
                             "--client-rate N",
                             "--peer-rate N",
                             "--relay-entries N",
                             "--link-write-queue SIZE",
                             "--log-level LEVEL",
                             "--log-file FILE",
                             "--log-max-size SIZE",
                             "--log-max-files N",
                             "--metrics HOST:PORT|off"}) {
    INFO(option);
    CHECK(help.find(option) != std::string::npos);
  }
  for (const char* key :
       {"[node] in a config file", "data-dir = DIR", "[network] in a config file", "file = FILE",
        "[authority] in a config file", "enabled = true|false", "[storage] in a config file",
        "disk-cap = SIZE", "[limits] in a config file", "max-connections = N",
        "[log] in a config file", "level = LEVEL", "[metrics] in a config file",
        "listen = HOST:PORT|off"}) {
    INFO(key);
    CHECK(help.find(key) != std::string::npos);
  }
}

TEST_CASE("node config: the example config file parses, with the defaults", "[unit][node_config]") {
  const std::string path = std::string(NIGHTJAR_SOURCE_DIR) + "/contrib/nightjar-node.conf";
  std::ifstream in(path);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  auto r = parse({}, text.str(), path);
  INFO((r ? std::string("ok") : r.error()));
  REQUIRE(r.ok());
  const DaemonConfig defaults = parse_ok(authority);
  CHECK(r->node.data_dir == "/var/lib/nightjar");
  CHECK(*r->network_file == "/etc/nightjar/network.conf");
  CHECK(r->node.public_address);
  CHECK_FALSE(r->node.authority);
  CHECK(r->node.params == defaults.node.params);
  CHECK(r->node.store.disk_cap_bytes == defaults.node.store.disk_cap_bytes);
  CHECK(r->node.store.cache_bytes == defaults.node.store.cache_bytes);
  CHECK(r->node.listener.max_links == defaults.node.listener.max_links);
  CHECK(r->node.rate_limits.client.frames_per_second ==
        defaults.node.rate_limits.client.frames_per_second);
  CHECK(r->node.rate_limits.peer.burst == defaults.node.rate_limits.peer.burst);
  CHECK(r->node.relay.max_entries == defaults.node.relay.max_entries);
  CHECK(r->node.link.write_queue_limit == defaults.node.link.write_queue_limit);
  CHECK(r->node.max_long_polls == defaults.node.max_long_polls);
  CHECK(r->log.level == defaults.log.level);
  CHECK(r->log.max_file_bytes == defaults.log.max_file_bytes);
  CHECK(r->metrics.listen->to_string() == defaults.metrics.listen->to_string());
}
