#include "node/node_config.hpp"

#include <cerrno>
#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "node/settings.hpp"

namespace nightjar {

namespace {

using K = SettingKind;
constexpr std::uint64_t u32_max = UINT32_MAX;

// Every setting of nightjar-node. The defaults here are the defaults: the
// help text and docs/OPERATING.md show them, and parse_node_config applies
// them. Keep OPERATING.md in step with this table.
// clang-format off
constexpr SettingSpec settings_table[] = {
  {"help", "help", K::flag, "", "", "Print this help and exit.", 0, 1, 'h'},
  {"version", "version", K::flag, "", "", "Print the version and exit."},
  {"config", "config", K::path, "FILE", "",
   "Read settings from this INI file; the command line overrides it. Relative paths in the file "
   "are relative to the file's directory."},
  {"print-authority-line", "print-authority-line", K::text, "NAME", "",
   "Print this node's line for a network file ('authority = NAME KEY LINK-KEY HOST:PORT', with "
   "the --public-address or --listen address), creating its keys in --data-dir if needed, and "
   "exit. Collect one line from each authority to write a multi-authority network file."},

  {"node.data-dir", "data-dir", K::path, "DIR", "",
   "Directory for the node's keys, its copy of the directory, its messages and (new networks) "
   "network.conf; created with mode 0700. Required."},

  {"network.file", "network", K::path, "FILE", "",
   "The network file (network ID and authorities) of the network to join. Service nodes need "
   "it; an authority without it starts a new network and writes DATA-DIR/network.conf."},
  {"network.listen", "listen", K::endpoint, "HOST:PORT", "127.0.0.1:7420",
   "Address to accept links from nodes and clients on (an IP literal; port 0 picks a free "
   "port)."},
  {"network.public-address", "public-address", K::endpoint, "HOST:PORT", "",
   "Address others reach this node at, as published in the directory. Default: the --listen "
   "address. Needed when listening on 0.0.0.0 or [::], or behind NAT."},

  {"authority.enabled", "authority", K::flag, "", "false",
   "Run as a directory authority: accept registrations, check reachability, publish a signed "
   "directory every epoch. The settings below are the network parameters an authority "
   "publishes; service nodes learn them from the directory (and only check them here)."},
  {"authority.epoch-seconds", "epoch-seconds", K::count, "N", "300",
   "Length of a directory epoch, in seconds.", 1, 86400},
  {"authority.swarm-sizes", "swarm-sizes", K::text, "MIN,IDEAL,MAX", "5,7,10",
   "Swarm sizes: 1 <= MIN <= IDEAL <= MAX <= 64 and MAX >= 2*MIN-1."},
  {"authority.quorum", "quorum", K::count, "N", "0",
   "Copies that must be durable before a store is acknowledged; 0: a majority of the swarm.", 0,
   64},
  {"authority.directory-lifetime-epochs", "directory-lifetime-epochs", K::count, "N", "3",
   "Epochs a directory stays valid after its own.", 1, 100},
  {"authority.cell-bytes", "cell-bytes", K::count, "N", "1032", "Onion cell size in bytes.", 552,
   16384},
  {"authority.onion-epoch-seconds", "onion-epoch-seconds", K::count, "N", "3600",
   "How often nodes rotate their onion keys, in seconds.", 2, u32_max},
  {"authority.onion-grace-seconds", "onion-grace-seconds", K::count, "N", "600",
   "How long an old onion key still works, in seconds; less than half the onion epoch.", 0,
   u32_max},
  {"authority.ttl-min-seconds", "ttl-min-seconds", K::count, "N", "10",
   "Shortest time to live a message may ask for.", 1, u32_max},
  {"authority.ttl-max-seconds", "ttl-max-seconds", K::count, "N", "1209600",
   "Longest time to live a message may ask for (1209600 s: 14 days).", 1, u32_max},
  {"authority.max-body-bytes", "max-body-bytes", K::count, "N", "440",
   "Largest message body a node stores.", 1, 65535},
  {"authority.recipient-quota-messages", "recipient-quota-messages", K::count, "N", "10000",
   "Messages a node keeps for one recipient.", 1, u32_max},
  {"authority.recipient-quota-bytes", "recipient-quota-bytes", K::size, "SIZE", "8M",
   "Message bytes a node keeps for one recipient.", 1},
  {"authority.mix-delay-ms", "mix-delay-ms", K::count, "MS", "0",
   "Anonymity defence (docs/ANONYMITY.md): every relay holds each cell and reply cell for a "
   "random delay, exponential with this mean; 0: none.", 0, 10'000},
  {"authority.mix-delay-max-ms", "mix-delay-max-ms", K::count, "MS", "0",
   "No cell is held longer than this; 0: 5 times mix-delay-ms (at most 10000).", 0, 10'000},
  {"authority.loop-rate", "loop-rate", K::text, "PER-SECOND", "0",
   "Anonymity defence: loop cover cells (they come back) each client sends per second, a "
   "Poisson stream; 0: none. Up to 100, to three decimals."},
  {"authority.drop-rate", "drop-rate", K::text, "PER-SECOND", "0",
   "Anonymity defence: drop cover cells (the destination discards them) per client per second; "
   "0: none."},
  {"authority.poll-padding-ms", "poll-padding-ms", K::count, "MS", "0",
   "Anonymity defence: a streamed long poll gets an answer at least this often, an empty one "
   "when nothing arrived; 0: none, else 50..60000.", 0, 60'000},

  {"storage.disk-cap", "disk-cap", K::size, "SIZE", "10G",
   "Most message bytes this node stores (bodies plus 256 bytes per message); stores beyond it are "
   "refused with disk_full.", 1 << 20},
  {"storage.cache", "store-cache", K::size, "SIZE", "8M", "RocksDB block cache.", 0, 64ull << 30},

  {"limits.max-connections", "max-connections", K::count, "N", "4096",
   "Links accepted at once; more are closed at once.", 1, 1'000'000},
  {"limits.client-rate", "client-rate", K::count, "N", "100",
   "Frames per second one client link may send (0: no limit). Over it, onion cells are answered "
   "'overloaded' and other frames dropped.", 0, 1'000'000'000},
  {"limits.client-burst", "client-burst", K::count, "N", "200",
   "Frames a client link may send at once after a quiet spell.", 1, 1'000'000'000},
  {"limits.peer-rate", "peer-rate", K::count, "N", "20000",
   "Frames per second one link of a directory node or authority may send (0: no limit).", 0,
   1'000'000'000},
  {"limits.peer-burst", "peer-burst", K::count, "N", "40000",
   "Frames a peer link may send at once after a quiet spell.", 1, 1'000'000'000},
  {"limits.relay-entries", "relay-entries", K::count, "N", "65536",
   "Cells in flight through this relay (reply routes remembered); beyond it cells are answered "
   "'overloaded'.", 16, 1u << 24},
  {"limits.relay-pending-per-peer", "relay-pending-per-peer", K::count, "N", "256",
   "Cells waiting for a link to the next hop to open.", 1, 1u << 20},
  {"limits.replay-cache-entries", "replay-cache-entries", K::count, "N", "4194304",
   "Replay tags remembered per onion key epoch; when full, cells are refused until the key "
   "rotates.", 1024, 1u << 28},
  {"limits.link-write-queue", "link-write-queue", K::size, "SIZE", "4M",
   "Bytes queued to one peer before sends to it are refused.", 64 << 10, 1ull << 30},
  {"limits.link-read-pause", "link-read-pause", K::size, "SIZE", "1M",
   "Stop reading from a peer while this much is queued to it (less than link-write-queue).",
   16 << 10, 1ull << 30},
  {"limits.mix-held", "mix-held", K::count, "N", "16384",
   "Cells this relay holds at once for the network's mixing delays; beyond it cells are answered "
   "'overloaded'.", 16, 1u << 24},
  {"limits.max-long-polls", "max-long-polls", K::count, "N", "20000",
   "Retrieve requests waiting for a message at once.", 1, 10'000'000},

  {"log.level", "log-level", K::text, "LEVEL", "info",
   "trace, debug, info, warn, error, critical or off. Above debug, no log line holds a message "
   "body, a key, or a client address next to a recipient."},
  {"log.file", "log-file", K::path, "FILE", "",
   "Log to this file, rotated by size, instead of standard error. SIGHUP reopens it."},
  {"log.max-size", "log-max-size", K::size, "SIZE", "100M", "Size at which the log file rotates.",
   64 << 10, 1ull << 40},
  {"log.max-files", "log-max-files", K::count, "N", "5",
   "Rotated log files kept (FILE.1 ... FILE.N).", 0, 1000},
  {"log.timestamps", "log-timestamps", K::text, "auto|yes|no", "auto",
   "Time-stamp log lines; auto: not when standard error is the systemd journal, which stamps "
   "lines itself."},

  {"metrics.listen", "metrics", K::text, "HOST:PORT|off", "127.0.0.1:9190",
   "Serve Prometheus metrics at http://HOST:PORT/metrics, or 'off'. Keep it on loopback or a "
   "private network. If the default port is busy the node runs without metrics (and says so)."},
};
// clang-format on

std::string read_file_text(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read config file " + path + ": " + std::strerror(errno);
    return {};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool unspecified(const Endpoint& e) {
  const Bytes ip = e.ip_bytes();
  for (std::uint8_t b : ip)
    if (b != 0) return false;
  return true;
}

void read_authority_params(Settings& s, NetworkParams& p) {
  p.directory_epoch_seconds = s.get<std::uint32_t>("authority.epoch-seconds");
  if (auto sizes = parse_swarm_sizes(s.get<std::string>("authority.swarm-sizes")); sizes)
    p.swarm = *sizes;
  else
    s.reject("authority.swarm-sizes", sizes.error());
  p.quorum = s.get<std::uint32_t>("authority.quorum");
  p.directory_lifetime_epochs = s.get<std::uint32_t>("authority.directory-lifetime-epochs");
  p.cell_bytes = s.get<std::uint32_t>("authority.cell-bytes");
  p.onion_epoch_seconds = s.get<std::uint32_t>("authority.onion-epoch-seconds");
  p.onion_grace_seconds = s.get<std::uint32_t>("authority.onion-grace-seconds");
  p.ttl_min_seconds = s.get<std::uint32_t>("authority.ttl-min-seconds");
  p.ttl_max_seconds = s.get<std::uint32_t>("authority.ttl-max-seconds");
  p.max_body_bytes = s.get<std::uint32_t>("authority.max-body-bytes");
  p.recipient_quota_messages = s.get<std::uint32_t>("authority.recipient-quota-messages");
  p.recipient_quota_bytes = s.get<std::uint64_t>("authority.recipient-quota-bytes");
  Defences& d = p.defences;
  d.mix_delay_ms = s.get<std::uint32_t>("authority.mix-delay-ms");
  d.mix_delay_max_ms = s.get<std::uint32_t>("authority.mix-delay-max-ms");
  if (d.mix_delay_ms > 0 && d.mix_delay_max_ms == 0)
    d.mix_delay_max_ms = std::min<std::uint32_t>(5 * d.mix_delay_ms, 10'000);
  if (d.mix_delay_ms == 0 && d.mix_delay_max_ms != 0)
    s.reject("authority.mix-delay-max-ms", "set without mix-delay-ms");
  for (auto [key, out] : {std::pair{"authority.loop-rate", &d.loop_rate_millihertz},
                          std::pair{"authority.drop-rate", &d.drop_rate_millihertz}}) {
    if (auto rate = parse_millihertz(s.get<std::string>(key)); rate)
      *out = *rate;
    else
      s.reject(key, rate.error());
  }
  d.poll_padding_ms = s.get<std::uint32_t>("authority.poll-padding-ms");
  if (s.failed()) return;
  if (auto err = p.check(); !err.empty()) s.add_error("invalid network parameters: " + err);
}

void read_limits(Settings& s, DaemonConfig& c) {
  NodeOptions& o = c.node;
  o.store.disk_cap_bytes = s.get<std::uint64_t>("storage.disk-cap");
  o.store.cache_bytes = s.get<std::size_t>("storage.cache");
  o.listener.max_links = s.get<std::size_t>("limits.max-connections");
  o.rate_limits.client.frames_per_second = s.get<std::uint64_t>("limits.client-rate");
  o.rate_limits.client.burst = s.get<std::uint64_t>("limits.client-burst");
  o.rate_limits.peer.frames_per_second = s.get<std::uint64_t>("limits.peer-rate");
  o.rate_limits.peer.burst = s.get<std::uint64_t>("limits.peer-burst");
  o.relay.max_entries = s.get<std::size_t>("limits.relay-entries");
  o.relay.max_pending_per_peer = s.get<std::size_t>("limits.relay-pending-per-peer");
  o.relay.replay_entries_per_epoch = s.get<std::size_t>("limits.replay-cache-entries");
  o.relay.max_mix_held = s.get<std::size_t>("limits.mix-held");
  o.link.write_queue_limit = s.get<std::size_t>("limits.link-write-queue");
  o.link.read_pause_bytes = s.get<std::size_t>("limits.link-read-pause");
  o.max_long_polls = s.get<std::size_t>("limits.max-long-polls");
  if (!s.failed() && o.link.read_pause_bytes >= o.link.write_queue_limit)
    s.reject("limits.link-read-pause", "must be less than link-write-queue (" +
                                           std::to_string(o.link.write_queue_limit) + " bytes)");
}

void read_log(Settings& s, LogSettings& log) {
  // spdlog's levels, in the order of its enum.
  log.level = static_cast<spdlog::level::level_enum>(
      s.choice("log.level", {"trace", "debug", "info", "warn", "error", "critical", "off"}));
  if (s.has("log.file")) log.file = s.get<std::filesystem::path>("log.file");
  log.max_file_bytes = s.get<std::uint64_t>("log.max-size");
  log.max_files = s.get<std::size_t>("log.max-files");
  constexpr LogTimestamps stamps[] = {LogTimestamps::automatic, LogTimestamps::on,
                                      LogTimestamps::off};
  log.timestamps = stamps[s.choice("log.timestamps", {"auto", "yes", "no"})];
}

void read_metrics(Settings& s, MetricsSettings& m) {
  const std::string text = s.get<std::string>("metrics.listen");
  m.chosen = s.has("metrics.listen");
  if (s.failed() || text == "off") return;
  auto e = Endpoint::parse(text);
  if (!e) return s.reject("metrics.listen", e.error() + " (or 'off')");
  m.listen = *e;
}

}  // namespace

Result<std::uint32_t, std::string> parse_millihertz(const std::string& text) {
  const auto dot = text.find('.');
  const std::string whole = text.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : text.substr(dot + 1);
  auto digits = [](const std::string& t) {
    return std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || whole.size() > 3 || frac.size() > 3 || !digits(whole) || !digits(frac) ||
      (dot != std::string::npos && frac.empty()))
    return fail(std::string("expected a rate per second such as 0.5 (at most three decimals)"));
  frac.resize(3, '0');
  const std::uint32_t v = static_cast<std::uint32_t>(std::stoul(whole) * 1000 + std::stoul(frac));
  if (v > 100'000) return fail(std::string("at most 100 per second"));
  return v;
}

std::string format_millihertz(std::uint32_t millihertz) {
  std::string frac = std::to_string(millihertz % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return std::to_string(millihertz / 1000) + "." + frac;
}

Result<SwarmSizes, std::string> parse_swarm_sizes(std::string_view text) {
  std::uint32_t v[3] = {};
  std::size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    const auto end = i < 2 ? text.find(',', pos) : text.size();
    if (end == std::string_view::npos) break;
    const std::string_view part = text.substr(pos, end - pos);
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v[i]);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size())
      return fail("'" + std::string(text) + "' is not MIN,IDEAL,MAX (three whole numbers)");
    pos = end + 1;
    if (i == 2) {
      SwarmSizes s{v[0], v[1], v[2]};
      if (!s.valid())
        return fail("'" + std::string(text) + "': need 1 <= MIN <= IDEAL <= MAX <= 64");
      return s;
    }
  }
  return fail("'" + std::string(text) + "' is not MIN,IDEAL,MAX (three whole numbers)");
}

Result<std::optional<std::string>, std::string> config_file_argument(
    std::span<const std::string> args) {
  Settings s(settings_table);
  if (!s.read_command_line(args)) return fail(s.error());
  // --help and --version answer without reading the file.
  if (!s.has("config") || s.has("help") || s.has("version")) return std::optional<std::string>{};
  auto path = s.get<std::filesystem::path>("config");
  if (s.failed()) return fail(s.error());
  return std::optional<std::string>{path.string()};
}

Result<DaemonConfig, std::string> parse_node_config(std::span<const std::string> args,
                                                    const ConfigText* file) {
  Settings s(settings_table);
  if (!s.read_command_line(args)) return fail(s.error());
  DaemonConfig c;
  if (s.has("help")) {
    c.action = DaemonAction::help;
    return c;
  }
  if (s.has("version")) {
    c.action = DaemonAction::version;
    return c;
  }
  if (file && !s.read_config_file(file->name, file->text)) return fail(s.error());

  NodeOptions& o = c.node;
  if (s.has("print-authority-line")) {
    c.action = DaemonAction::print_authority_line;
    c.authority_name = s.get<std::string>("print-authority-line");
  }
  if (s.has("node.data-dir")) o.data_dir = s.get<std::filesystem::path>("node.data-dir");
  if (s.has("network.file")) c.network_file = s.get<std::filesystem::path>("network.file");
  o.authority = s.get<bool>("authority.enabled");
  o.listen = s.get<Endpoint>("network.listen");
  if (s.has("network.public-address")) o.public_address = s.get<Endpoint>("network.public-address");
  read_authority_params(s, o.params);
  read_limits(s, c);
  read_log(s, c.log);
  read_metrics(s, c.metrics);
  if (s.failed()) return fail(s.error());

  // Checks across settings, in the order an operator would fix them.
  if (o.data_dir.empty())
    return fail(
        std::string("--data-dir is required (or data-dir in the [node] section of the "
                    "config file)"));
  const Endpoint published = o.public_address ? *o.public_address : o.listen;
  const std::string published_by = o.public_address ? "public-address" : "listen";
  if (unspecified(published))
    return fail(s.where("network." + published_by) + ": " + published.to_string() +
                " is not an address others can reach; give the node's address with "
                "--public-address HOST:PORT");
  if (o.public_address && o.public_address->port() == 0)
    return fail(s.where("network.public-address") + ": needs a port other than 0");
  if (c.action == DaemonAction::print_authority_line) {
    if (published.port() == 0)
      return fail(s.where("network." + published_by) +
                  ": an authority line needs a fixed port, not 0");
    return c;
  }
  if (!c.network_file && !o.authority)
    return fail(std::string(
        "no network file (--network FILE) and not an authority (--authority): nothing to join"));
  return c;
}

Result<DaemonConfig, std::string> load_node_config(int argc, const char* const* argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  auto path = config_file_argument(args);
  if (!path) return path.failure();
  if (!*path) return parse_node_config(args);
  std::string error;
  ConfigText file{**path, read_file_text(**path, error)};
  if (!error.empty()) return fail(error);
  return parse_node_config(args, &file);
}

std::string node_config_help() {
  std::string out =
      "Usage: nightjar-node --data-dir DIR (--network FILE | --authority) [OPTION]...\n"
      "       nightjar-node --data-dir DIR --print-authority-line NAME --public-address HOST:PORT\n"
      "\n"
      "Runs a Nightjar service node (or, with --authority, a directory authority).\n"
      "Every setting but the first four can also be given in a config file (--config\n"
      "FILE) as 'key = value' under its [section]; the command line wins. Sizes take\n"
      "K, M, G or T (binary: 1K = 1024). Exit status: 0 after a clean stop (SIGINT,\n"
      "SIGTERM), 1 when the node fails while starting or running, 2 for a usage or\n"
      "configuration error (nothing was started). docs/OPERATING.md has more.\n";
  Settings s(settings_table);
  return out + s.describe();
}

}  // namespace nightjar
