// The nightjar binary end to end: the test runs it as a child process
// (NIGHTJAR_CLI_BINARY) against a loopback network of in-process nodes,
// pumping the nodes' loop while the child runs. Two profiles, Alice and Bob,
// create identities, exchange a message and receive it as JSON; bad input
// (a mistyped ID, a wrong passphrase, a missing network file, no identity,
// no reachable authority) gives one line on stderr and the documented exit
// status. Children get their own session (no terminal to prompt on), are
// waited for with a bound, and are killed by PID if they overrun it.
#include <fcntl.h>
#include <signal.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "client/account.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_network.hpp"

using namespace nightjar;
using namespace nightjar::test;
namespace fs = std::filesystem;

namespace {

constexpr auto child_limit = std::chrono::seconds(60);

struct Outcome {
  int exit_code = -1;  // 128 + signal when killed
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// Runs the nightjar binary in `dir` with a small environment of its own
// (HOME inside the test's directory, never the user's) plus `env`.
class Cli {
 public:
  Cli(TestLoop& loop, const fs::path& dir) : loop_(loop), dir_(dir) {
    fs::create_directories(dir_ / "home");
  }

  // Starts the binary; stdout and stderr go to files read by wait().
  pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env,
              const std::string& program = NIGHTJAR_CLI_BINARY) {
    const std::string tag = "run" + std::to_string(++runs_);
    const std::string out_path = (dir_ / (tag + ".out")).string();
    const std::string err_path = (dir_ / (tag + ".err")).string();
    std::vector<std::string> argv_s{program};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<std::string> env_s{"HOME=" + (dir_ / "home").string(), "PATH=/usr/bin:/bin"};
    env_s.insert(env_s.end(), env.begin(), env.end());
    // Everything the child needs is built before fork: after it, only
    // async-signal-safe calls until exec.
    std::vector<char*> argv, envp;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(out >= 0);
    REQUIRE(err >= 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::setsid();  // no controlling terminal: a passphrase prompt fails instead of waiting
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      const int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) ::dup2(null, STDIN_FILENO);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out);
    ::close(err);
    outputs_[pid] = {out_path, err_path};
    return pid;
  }

  // What the child has written to stdout so far.
  std::string output_so_far(pid_t pid) { return slurp(outputs_.at(pid).first); }

  // Pumps the nodes' loop until the child exits (bounded; a child that
  // overruns is killed by its PID).
  Outcome wait(pid_t pid, std::chrono::seconds limit = child_limit) {
    int status = 0;
    const bool exited = loop_.run_until(
        [&] {
          int st = 0;
          if (::waitpid(pid, &st, WNOHANG) != pid) return false;
          status = st;
          return true;
        },
        limit);
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    Outcome o;
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    o.out = slurp(outputs_.at(pid).first);
    o.err = slurp(outputs_.at(pid).second);
    outputs_.erase(pid);
    if (!exited) FAIL("nightjar did not exit within the limit; stderr: " << o.err);
    return o;
  }

  Outcome run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    return wait(spawn(args, env));
  }

 private:
  TestLoop& loop_;
  fs::path dir_;
  int runs_ = 0;
  std::map<pid_t, std::pair<std::string, std::string>> outputs_;
};

std::string show(const Outcome& o) {
  return "exit " + std::to_string(o.exit_code) + "\nstdout: " + o.out + "\nstderr: " + o.err;
}

struct Person {
  std::vector<std::string> env;
  std::string id;
};

Person person(const fs::path& profile, const fs::path& network, const std::string& passphrase) {
  return {{"NIGHTJAR_PROFILE=" + profile.string(), "NIGHTJAR_NETWORK=" + network.string(),
           "NIGHTJAR_PASSPHRASE=" + passphrase},
          ""};
}

// `env` with NAME=VALUE set (replaced, since getenv finds the first).
std::vector<std::string> with(std::vector<std::string> env, const std::string& setting) {
  const std::string name = setting.substr(0, setting.find('=') + 1);
  std::erase_if(env, [&](const std::string& e) { return e.starts_with(name); });
  env.push_back(setting);
  return env;
}

// A network file naming one authority on a loopback port nobody listens on.
NetworkConfig unreachable_network() {
  NetworkConfig c;
  crypto::random_bytes(c.network_id.mutable_view());
  c.name = "nobody home";
  c.authorities.push_back(
      AuthorityInfo{"gone", crypto::ed25519_generate().pub, crypto::x25519_generate().pub,
                    *Endpoint::parse("127.0.0.1:" + std::to_string(free_loopback_port()))});
  return c;
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// What most tests here start from: a loopback network of 6 in-process nodes,
// its network file, and people, each with a profile and an identity; a
// `published` person has also run `recv` once (its prekey bundle is out, so
// others reach it forward-secret).
struct World {
  explicit World(TestLoop& loop) : net(loop), dir("nightjar-cli"), network(dir / "network.conf"), cli(loop, dir.path()) {
    net.start_authorities(1);
    net.add_nodes(6);
    REQUIRE(loop.run_until([&] { return net.agree_on(6); }, std::chrono::seconds(20)));
    write_file(network, net.config().to_text());
  }
  Person add(const std::string& name, bool published) {
    Person p = person(dir / name, network, name + "'s passphrase");
    REQUIRE(cli.run({"id", "new"}, p.env).exit_code == 0);
    const Outcome shown = cli.run({"id", "show", "--json"}, p.env);
    REQUIRE(shown.exit_code == 0);
    p.id = nlohmann::json::parse(shown.out).at("account_id").get<std::string>();
    if (published) {
      const Outcome first = cli.run({"recv"}, p.env);
      INFO(show(first));
      REQUIRE(first.exit_code == 0);
    }
    return p;
  }
  TestNetwork net;
  TempDir dir;
  fs::path network;
  Cli cli;
};

}  // namespace

TEST_CASE("Alice sends Bob a message with the nightjar binary and Bob receives it as JSON",
          "[cli]") {
  TestLoop loop;
  {
    TestNetwork net(loop);
    net.start_authorities(1);
    net.add_nodes(6);
    REQUIRE(loop.run_until([&] { return net.agree_on(6); }, std::chrono::seconds(20)));
    TempDir dir("nightjar-cli");
    const fs::path network = dir / "network.conf";
    write_file(network, net.config().to_text());
    Cli cli(loop, dir.path());
    Person alice = person(dir / "alice", network, "alice's passphrase");
    Person bob = person(dir / "bob", network, "bob's passphrase");

    for (Person* p : {&alice, &bob}) {
      const Outcome made = cli.run({"id", "new"}, p->env);
      INFO(show(made));
      REQUIRE(made.exit_code == 0);
      CHECK(made.out.find("fingerprint") != std::string::npos);
      const Outcome shown = cli.run({"id", "show", "--json"}, p->env);
      INFO(show(shown));
      REQUIRE(shown.exit_code == 0);
      const auto j = nlohmann::json::parse(shown.out);
      p->id = j.at("account_id").get<std::string>();
      CHECK(client::parse_account_id(p->id).ok());
      CHECK(j.at("fingerprint").get<std::string>().size() == 47);
    }
    REQUIRE(alice.id != bob.id);

    // A second `id new` must not destroy the first identity.
    const Outcome again = cli.run({"id", "new"}, alice.env);
    CHECK(again.exit_code == 1);
    CHECK(again.err.starts_with("nightjar: an identity already exists in " +
                                (dir / "alice").string()));

    const Outcome sent = cli.run({"send", "--to", bob.id, "hello"}, alice.env);
    INFO(show(sent));
    REQUIRE(sent.exit_code == 0);
    CHECK(sent.out.starts_with("sent message "));

    const Outcome received = cli.run({"recv", "--json"}, bob.env);
    INFO(show(received));
    REQUIRE(received.exit_code == 0);
    const auto lines = lines_of(received.out);
    REQUIRE(lines.size() == 1);
    const auto m = nlohmann::json::parse(lines[0]);
    CHECK(m.at("sender") == alice.id);
    CHECK(m.at("text") == "hello");
    CHECK(m.at("encoding") == "utf-8");
    CHECK(m.at("message_id").get<std::string>().size() == 32);
    CHECK(m.at("time").get<std::string>().ends_with("Z"));

    // Handled once: the profile remembers it across runs.
    const Outcome nothing_new = cli.run({"recv", "--json"}, bob.env);
    INFO(show(nothing_new));
    CHECK(nothing_new.exit_code == 0);
    CHECK(lines_of(nothing_new.out).empty());

    // --follow prints what arrives while it runs and ends with 0 on SIGTERM.
    const pid_t follower = cli.spawn({"recv", "--follow"}, bob.env);
    const Outcome second = cli.run({"send", "--to", bob.id, "--", "-second- message"}, alice.env);
    INFO(show(second));
    CHECK(second.exit_code == 0);
    const bool arrived = loop.run_until(
        [&] { return cli.output_so_far(follower).find("-second- message") != std::string::npos; },
        std::chrono::seconds(40));
    ::kill(follower, SIGTERM);
    const Outcome followed = cli.wait(follower);
    INFO(show(followed));
    CHECK(arrived);
    CHECK(followed.exit_code == 0);
    const auto follow_lines = lines_of(followed.out);
    REQUIRE(follow_lines.size() == 1);
    CHECK(follow_lines[0].find(alice.id.substr(0, 12) + ": -second- message") != std::string::npos);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("the nightjar binary reports bad input in one line with its exit status", "[cli]") {
  TestLoop loop;
  TempDir dir("nightjar-cli");
  const fs::path network = dir / "network.conf";
  write_file(network, unreachable_network().to_text());
  Cli cli(loop, dir.path());
  Person alice = person(dir / "alice", network, "alice's passphrase");
  const Outcome made = cli.run({"id", "new", "--json"}, alice.env);
  INFO(show(made));
  REQUIRE(made.exit_code == 0);
  alice.id = nlohmann::json::parse(made.out).at("account_id").get<std::string>();

  SECTION("a mistyped ID") {
    std::string typo = alice.id;
    typo[20] = typo[20] == 'a' ? 'b' : 'a';
    const Outcome o = cli.run({"send", "--to", typo, "hi"}, alice.env);
    CHECK(o.exit_code == 2);
    CHECK(o.err == "nightjar: --to: checksum mismatch: a character is mistyped\n");
    CHECK(o.out.empty());
  }
  SECTION("a wrong passphrase") {
    const Outcome o =
        cli.run({"recv"}, with(alice.env, "NIGHTJAR_PASSPHRASE=not alice's passphrase"));
    CHECK(o.exit_code == 1);
    CHECK(o.err == "nightjar: " + (dir / "alice" / "identity").string() +
                       ": cannot unlock the identity: wrong passphrase or damaged file\n");
  }
  SECTION("a passphrase file instead of the environment") {
    write_file(dir / "pw", "alice's passphrase\n");
    const Outcome o = cli.run({"id", "show", "--passphrase-file", (dir / "pw").string()},
                              {"NIGHTJAR_PROFILE=" + (dir / "alice").string()});
    INFO(show(o));
    CHECK(o.exit_code == 0);
    CHECK(o.out.find(alice.id) != std::string::npos);
  }
  SECTION("no passphrase and no terminal") {
    const Outcome o = cli.run({"id", "show"}, {"NIGHTJAR_PROFILE=" + (dir / "alice").string()});
    CHECK(o.exit_code == 1);
    CHECK(o.err ==
          "nightjar: no terminal to ask for the passphrase on: set NIGHTJAR_PASSPHRASE or use "
          "--passphrase-file FILE\n");
  }
  SECTION("a missing network file") {
    const fs::path missing = dir / "no-such.conf";
    const Outcome o = cli.run({"recv", "--network", missing.string()}, alice.env);
    CHECK(o.exit_code == 1);
    CHECK(o.err.starts_with("nightjar: no network file at " + missing.string() +
                            ": pass --network FILE or set NIGHTJAR_NETWORK"));
    CHECK(std::count(o.err.begin(), o.err.end(), '\n') == 1);
  }
  SECTION("no identity in the profile") {
    const Person nobody = person(dir / "nobody", network, "whatever");
    const Outcome o = cli.run({"recv"}, nobody.env);
    CHECK(o.exit_code == 1);
    CHECK(o.err ==
          "nightjar: no identity in " + (dir / "nobody").string() + ": run `nightjar id new`\n");
  }
  SECTION("no authority answers") {
    const Outcome o = cli.run({"recv", "--timeout", "2"}, alice.env);
    INFO(show(o));
    CHECK(o.exit_code == 1);
    CHECK(o.err.ends_with(
        "nightjar: no directory from any authority in 2 s: check the network file and that "
        "nodes are running\n"));
  }
  SECTION("usage errors and help") {
    const Outcome bad = cli.run({"recv", "--bogus"}, alice.env);
    CHECK(bad.exit_code == 2);
    CHECK(bad.err == "nightjar: unrecognised option '--bogus' (see `nightjar --help`)\n");
    const Outcome help = cli.run({"send", "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.starts_with("Usage: nightjar send --to ID"));
    const Outcome version = cli.run({"--version"});
    CHECK(version.exit_code == 0);
    CHECK(version.out == "nightjar 0.1.0\n");
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("three people run a closed group with the nightjar binary", "[cli][groups]") {
  TestLoop loop;
  {
    World world(loop);
    Cli& cli = world.cli;
    Person ann = world.add("ann", true);
    Person ben = world.add("ben", true);
    Person cat = world.add("cat", true);

    const Outcome created = cli.run({"group", "create", "hikers", "--json"}, ann.env);
    INFO(show(created));
    REQUIRE(created.exit_code == 0);
    const std::string gid = nlohmann::json::parse(created.out).at("group").get<std::string>();
    CHECK(client::parse_group_id(gid).ok());

    const Outcome added = cli.run({"group", "add", "hikers", ben.id, cat.id}, ann.env);
    INFO(show(added));
    REQUIRE(added.exit_code == 0);
    CHECK(added.out == "hikers: added 2 (epoch 1); reached 2 members\n");

    // Ben learns of the group by receiving (his keys go out before recv ends).
    const Outcome ben_joins = cli.run({"recv", "--json"}, ben.env);
    INFO(show(ben_joins));
    REQUIRE(ben_joins.exit_code == 0);
    const auto joined = lines_of(ben_joins.out);
    REQUIRE_FALSE(joined.empty());
    const auto event = nlohmann::json::parse(joined.front());
    CHECK(event.at("event") == "joined");
    CHECK(event.at("group") == gid);
    CHECK(event.at("by") == ann.id);

    const Outcome members = cli.run({"group", "members", gid, "--json"}, ben.env);
    INFO(show(members));
    REQUIRE(members.exit_code == 0);
    CHECK(lines_of(members.out).size() == 3);
    const Outcome listed = cli.run({"group", "list"}, ben.env);
    CHECK(listed.out.find("hikers  3 members") != std::string::npos);

    const Outcome said = cli.run({"send", "--group", "hikers", "meet", "at", "nine"}, ben.env);
    INFO(show(said));
    REQUIRE(said.exit_code == 0);
    CHECK(said.out.find(" to group hikers: 1 fragment") != std::string::npos);

    const Outcome cat_reads = cli.run({"recv"}, cat.env);
    INFO(show(cat_reads));
    REQUIRE(cat_reads.exit_code == 0);
    CHECK(cat_reads.out.find("[group hikers] " + ann.id.substr(0, 12) + " added you") != std::string::npos);
    CHECK(cat_reads.out.find("hikers / " + ben.id.substr(0, 12) + ": meet at nine") != std::string::npos);
    const Outcome ann_reads = cli.run({"recv", "--json"}, ann.env);
    INFO(show(ann_reads));
    bool ann_got = false;
    for (const auto& line : lines_of(ann_reads.out)) {
      const auto j = nlohmann::json::parse(line);
      if (j.contains("text") && j.at("text") == "meet at nine") {
        ann_got = true;
        CHECK(j.at("group_name") == "hikers");
        CHECK(j.at("sender") == ben.id);
      }
    }
    CHECK(ann_got);

    // Bad input: one line, exit 1, nothing changed.
    const Outcome not_admin = cli.run({"group", "remove", "hikers", cat.id}, ben.env);
    CHECK(not_admin.exit_code == 1);
    CHECK(not_admin.err == "nightjar: cannot remove: only an admin of the group can do that\n");
    const Outcome unknown = cli.run({"send", "--group", "climbers", "hi"}, ben.env);
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err == "nightjar: no group named \"climbers\" (see `nightjar group list`)\n");
    std::string typo = gid;
    typo[20] = typo[20] == 'a' ? 'b' : 'a';
    const Outcome mistyped = cli.run({"group", "members", typo}, ben.env);
    CHECK(mistyped.exit_code == 1);
    CHECK(mistyped.err == "nightjar: GROUP: checksum mismatch: a character is mistyped\n");
    const Outcome usage = cli.run({"group", "add", "hikers"}, ann.env);
    CHECK(usage.exit_code == 2);

    // Ann removes Cat; Cat is told, and reads nothing sent after.
    const Outcome removed = cli.run({"group", "remove", "hikers", cat.id, "--json"}, ann.env);
    INFO(show(removed));
    REQUIRE(removed.exit_code == 0);
    CHECK(nlohmann::json::parse(removed.out).at("queued") == 0);
    REQUIRE(cli.run({"recv"}, ben.env).exit_code == 0);  // Ben takes the change, sends new keys
    REQUIRE(cli.run({"send", "--group", "hikers", "cat is gone"}, ben.env).exit_code == 0);
    const Outcome cat_after = cli.run({"recv"}, cat.env);
    INFO(show(cat_after));
    CHECK(cat_after.out.find("removed you") != std::string::npos);
    CHECK(cat_after.out.find("cat is gone") == std::string::npos);
    const Outcome ann_after = cli.run({"recv"}, ann.env);
    CHECK(ann_after.out.find("cat is gone") != std::string::npos);
    const Outcome cat_list = cli.run({"group", "list", "--json"}, cat.env);
    CHECK(nlohmann::json::parse(cat_list.out).at("member") == false);
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("contacts, message requests and blocking with the nightjar binary", "[cli][contacts]") {
  TestLoop loop;
  {
    World world(loop);
    Cli& cli = world.cli;
    Person ann = world.add("ann", false);
    Person ben = world.add("ben", false);
    // Ann knows Ben by name and writes to the name.
    const Outcome added = cli.run({"contact", "add", "ben", ben.id}, ann.env);
    INFO(show(added));
    REQUIRE(added.exit_code == 0);
    REQUIRE(cli.run({"send", "--to", "ben", "hello from ann"}, ann.env).exit_code == 0);
    // To Ben, Ann is a stranger: her message is a request.
    Outcome got = cli.run({"recv", "--json"}, ben.env);
    INFO(show(got));
    REQUIRE(got.exit_code == 0);
    auto lines = lines_of(got.out);
    REQUIRE(lines.size() == 1);
    auto m = nlohmann::json::parse(lines[0]);
    CHECK(m.at("request") == true);
    CHECK(m.at("text") == "hello from ann");
    CHECK_FALSE(m.contains("sender_name"));
    Outcome requests = cli.run({"contact", "requests", "--json"}, ben.env);
    REQUIRE(requests.exit_code == 0);
    REQUIRE(lines_of(requests.out).size() == 1);
    CHECK(nlohmann::json::parse(requests.out).at("id") == ann.id);
    // Accepted: her next message carries her name.
    REQUIRE(cli.run({"contact", "add", "ann", ann.id}, ben.env).exit_code == 0);
    CHECK(cli.run({"contact", "requests"}, ben.env).out == "no message requests\n");
    REQUIRE(cli.run({"send", "--to", "ben", "second"}, ann.env).exit_code == 0);
    got = cli.run({"recv"}, ben.env);
    INFO(show(got));
    REQUIRE(got.exit_code == 0);
    CHECK(got.out.find("] ann: second") != std::string::npos);
    // Blocked: what she sends is dropped unseen.
    REQUIRE(cli.run({"contact", "block", "ann"}, ben.env).exit_code == 0);
    REQUIRE(cli.run({"send", "--to", "ben", "third"}, ann.env).exit_code == 0);
    got = cli.run({"recv"}, ben.env);
    INFO(show(got));
    REQUIRE(got.exit_code == 0);
    CHECK(got.out.empty());
    // Bad input changes nothing.
    const Outcome twice = cli.run({"contact", "add", "ben", ben.id}, ann.env);
    CHECK(twice.exit_code == 1);
    CHECK(twice.err == "nightjar: a contact named \"ben\" exists already\n");
    const Outcome unknown = cli.run({"send", "--to", "bem", "typo"}, ann.env);
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err.find("no contact named \"bem\"") != std::string::npos);
    const Outcome list = cli.run({"contact", "list", "--json"}, ann.env);
    REQUIRE(list.exit_code == 0);
    REQUIRE(lines_of(list.out).size() == 1);
    CHECK(nlohmann::json::parse(list.out).at("name") == "ben");
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("nightjar purge erases what the swarm holds, and only when confirmed", "[cli][purge]") {
  TestLoop loop;
  {
    World world(loop);
    Cli& cli = world.cli;
    Person ann = world.add("ann", false);
    Person ben = world.add("ben", false);
    for (const char* text : {"one", "two", "three"})
      REQUIRE(cli.run({"send", "--to", ben.id, text}, ann.env).exit_code == 0);
    // Without a terminal to ask on, nothing happens without --yes.
    const Outcome refused = cli.run({"purge"}, ben.env);
    CHECK(refused.exit_code == 1);
    CHECK(refused.err.find("give --yes to confirm") != std::string::npos);
    const Outcome purged = cli.run({"purge", "--yes", "--json"}, ben.env);
    INFO(show(purged));
    REQUIRE(purged.exit_code == 0);
    const auto report = nlohmann::json::parse(purged.out);
    CHECK(report.at("reached") == report.at("members"));
    // Members delete at once and tell each other: the first to act holds
    // the three (the next recv below is the real check).
    CHECK(report.at("deleted").get<int>() >= 1);
    CHECK(report.at("deleted").get<int>() <= 3);
    // Ben's next recv finds nothing; what Ann sends afterwards arrives.
    REQUIRE(cli.run({"send", "--to", ben.id, "after"}, ann.env).exit_code == 0);
    const Outcome got = cli.run({"recv", "--json"}, ben.env);
    INFO(show(got));
    REQUIRE(got.exit_code == 0);
    const auto lines = lines_of(got.out);
    REQUIRE(lines.size() == 1);
    CHECK(nlohmann::json::parse(lines[0]).at("text") == "after");
  }
  CHECK(loop.drain_and_close());
}

TEST_CASE("nightjar history shows delivery states, and purge --local erases it", "[cli][history]") {
  TestLoop loop;
  {
    World world(loop);
    Cli& cli = world.cli;
    Person ann = world.add("ann", true);
    Person ben = world.add("ben", true);
    REQUIRE(cli.run({"contact", "add", "ben", ben.id}, ann.env).exit_code == 0);
    REQUIRE(cli.run({"contact", "add", "ann", ann.id}, ben.env).exit_code == 0);
    REQUIRE(cli.run({"send", "--to", "ben", "see you at nine"}, ann.env).exit_code == 0);
    Outcome h = cli.run({"history", "ben"}, ann.env);
    INFO(show(h));
    REQUIRE(h.exit_code == 0);
    CHECK(h.out.find("] you: see you at nine  (stored)") != std::string::npos);
    // Ben reads it (and sends a receipt before recv ends); Ann's next recv
    // takes the receipt in.
    REQUIRE(cli.run({"recv"}, ben.env).exit_code == 0);
    REQUIRE(cli.run({"recv"}, ann.env).exit_code == 0);
    h = cli.run({"history", "ben", "--json"}, ann.env);
    INFO(show(h));
    REQUIRE(h.exit_code == 0);
    auto lines = lines_of(h.out);
    REQUIRE(lines.size() == 1);
    auto e = nlohmann::json::parse(lines[0]);
    CHECK(e.at("state") == "delivered");
    CHECK(e.at("direction") == "out");
    CHECK(e.at("text") == "see you at nine");
    // Ben's side: one unread conversation, read once shown.
    Outcome list = cli.run({"history", "--json"}, ben.env);
    REQUIRE(list.exit_code == 0);
    auto c = nlohmann::json::parse(lines_of(list.out).at(0));
    CHECK(c.at("name") == "ann");
    CHECK(c.at("unread") == 1);
    REQUIRE(cli.run({"history", "ann"}, ben.env).exit_code == 0);
    list = cli.run({"history", "--json"}, ben.env);
    CHECK(nlohmann::json::parse(lines_of(list.out).at(0)).at("unread") == 0);
    // Unknown names are one line and exit 1.
    const Outcome unknown = cli.run({"history", "zed"}, ann.env);
    CHECK(unknown.exit_code == 1);
    CHECK(unknown.err ==
          "nightjar: no contact or group named \"zed\" (nightjar contact list, nightjar group list)\n");
    // purge --local: the network's copies and the local history go.
    const Outcome purged = cli.run({"purge", "--local", "--yes"}, ben.env);
    INFO(show(purged));
    REQUIRE(purged.exit_code == 0);
    CHECK(purged.out.find("the local history is erased") != std::string::npos);
    CHECK(cli.run({"history"}, ben.env).out == "no messages yet\n");
  }
  CHECK(loop.drain_and_close());
}

namespace {

// A blocking JSON-RPC client on the daemon's socket, for requests that need
// no network (the daemon is another process; the nodes' loop is not pumped
// while it waits).
class RpcSocket {
 public:
  explicit RpcSocket(const fs::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, path.c_str(), path.string().size());
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RpcSocket() { ::close(fd_); }
  // Sends `line` and returns the next line that comes back.
  nlohmann::json ask(const std::string& line) {
    const std::string out = line + "\n";
    REQUIRE(::write(fd_, out.data(), out.size()) == static_cast<ssize_t>(out.size()));
    while (buffer_.find('\n') == std::string::npos) {
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      REQUIRE(n > 0);
      buffer_.append(buf, static_cast<std::size_t>(n));
    }
    const auto nl = buffer_.find('\n');
    const std::string answer = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    return nlohmann::json::parse(answer);
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace

TEST_CASE("a bot runs on the JSON-RPC daemon: contrib/echo-bot.py answers a message", "[cli][daemon]") {
  TestLoop loop;
  {
    World world(loop);
    Cli& cli = world.cli;
    Person ann = world.add("ann", true);
    Person bot = world.add("bot", true);
    const pid_t daemon = cli.spawn({"daemon"}, bot.env);
    REQUIRE(loop.run_until([&] { return cli.output_so_far(daemon).find("listening on") != std::string::npos; },
                           std::chrono::seconds(30)));
    const fs::path socket = world.dir / "bot" / "daemon.sock";
    CHECK((fs::status(socket).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);

    // One process per profile: another command on it says who holds it.
    const Outcome second = cli.run({"recv"}, bot.env);
    CHECK(second.exit_code == 1);
    CHECK(second.err.find("is in use by `nightjar daemon` (PID " + std::to_string(daemon) + ")") !=
          std::string::npos);

    // Bad requests get JSON-RPC errors and change nothing.
    {
      RpcSocket rpc(socket);
      CHECK(rpc.ask("not json").at("error").at("code") == -32700);
      CHECK(rpc.ask(R"({"jsonrpc":"2.0","id":1,"method":"nope"})").at("error").at("code") == -32601);
      CHECK(rpc.ask(R"({"jsonrpc":"2.0","id":2,"method":"send","params":{"to":"zed","text":"x"}})")
                .at("error").at("code") == -32602);
      CHECK(rpc.ask(R"({"jsonrpc":"2.0","id":3,"method":"contacts.add","params":{"name":"ann"}})")
                .at("error").at("code") == -32602);
      CHECK(rpc.ask(R"({"id":4,"method":"id.show"})").at("error").at("code") == -32600);
      const auto me = rpc.ask(R"({"jsonrpc":"2.0","id":"me","method":"id.show"})");
      CHECK(me.at("id") == "me");
      CHECK(me.at("result").at("account_id") == bot.id);
      const auto added = rpc.ask(R"({"jsonrpc":"2.0","id":5,"method":"contacts.add","params":{"name":"ann","id":")" +
                                 ann.id + R"("}})");
      CHECK(added.at("result") == true);
      const auto list = rpc.ask(R"({"jsonrpc":"2.0","id":6,"method":"contacts.list"})");
      REQUIRE(list.at("result").size() == 1);
      CHECK(list.at("result")[0].at("name") == "ann");
    }

    const pid_t echo = cli.spawn({ECHO_BOT_SCRIPT, "--socket", socket.string(), "--max", "1"}, {},
                                 "/usr/bin/python3");
    REQUIRE(loop.run_until([&] { return cli.output_so_far(echo).find("ready") != std::string::npos; },
                           std::chrono::seconds(30)));
    REQUIRE(cli.run({"send", "--to", bot.id, "hello bot"}, ann.env).exit_code == 0);
    const Outcome answered = cli.wait(echo);
    INFO(show(answered));
    CHECK(answered.exit_code == 0);
    CHECK(answered.out == "ready\nanswered ann\n");
    // Ann gets the echo.
    bool echoed = false;
    for (int attempt = 0; attempt < 10 && !echoed; ++attempt) {
      const Outcome got = cli.run({"recv", "--json"}, ann.env);
      REQUIRE(got.exit_code == 0);
      for (const auto& l : lines_of(got.out))
        if (nlohmann::json::parse(l).at("text") == "echo: hello bot") echoed = true;
    }
    CHECK(echoed);

    // SIGTERM: the daemon stops cleanly and takes its socket with it.
    REQUIRE(::kill(daemon, SIGTERM) == 0);
    const Outcome stopped = cli.wait(daemon);
    INFO(show(stopped));
    CHECK(stopped.exit_code == 0);
    CHECK_FALSE(fs::exists(socket));
    CHECK(cli.run({"contact", "list", "--json"}, bot.env).exit_code == 0);  // the lock is free again
  }
  CHECK(loop.drain_and_close());
}

namespace {

// `nightjar chat` in a pseudo-terminal: keystrokes written to the master
// side, everything the program draws read from it (on the test's loop, so
// the child never blocks on a full terminal while the nodes run).
class PtyChild {
 public:
  PtyChild(TestLoop& loop, const std::vector<std::string>& env, unsigned short rows, unsigned short cols) {
    std::vector<std::string> argv_s{NIGHTJAR_CLI_BINARY, "chat"};
    std::vector<std::string> env_s{"PATH=/usr/bin:/bin", "TERM=vt100", "LANG=C.UTF-8"};
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    winsize ws{rows, cols, 0, 0};
    pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
    uv_poll_init(loop.get(), &poll_, master_);
    poll_.data = this;
    uv_poll_start(&poll_, UV_READABLE | UV_DISCONNECT, [](uv_poll_t* p, int, int) {
      auto* self = static_cast<PtyChild*>(p->data);
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(self->master_, buf, sizeof buf);
        if (n <= 0) {
          if (n == 0 || (errno != EAGAIN && errno != EINTR)) uv_poll_stop(p);  // the child is gone
          return;
        }
        self->screen_.append(buf, static_cast<std::size_t>(n));
      }
    });
  }
  ~PtyChild() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
    ::close(master_);
  }
  void type(const std::string& keys) { REQUIRE(::write(master_, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size())); }
  // Everything drawn since `from` (a position in the output).
  bool shows(const std::string& text, std::size_t from = 0) const {
    return screen_.find(text, std::min(from, screen_.size())) != std::string::npos;
  }
  std::size_t drawn() const { return screen_.size(); }
  void resize(unsigned short rows, unsigned short cols) {
    winsize ws{rows, cols, 0, 0};
    REQUIRE(::ioctl(master_, TIOCSWINSZ, &ws) == 0);  // the kernel signals SIGWINCH
  }
  // The exit status (128 + signal when killed), waited for within `limit`.
  int wait(TestLoop& loop, std::chrono::seconds limit) {
    int status = 0;
    const bool done = loop.run_until(
        [&] {
          if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
          return true;
        },
        limit);
    if (!done) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  const std::string& screen() const { return screen_; }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  uv_poll_t poll_{};
  std::string screen_;
};

}  // namespace

TEST_CASE("two people talk in nightjar chat, in a pseudo-terminal", "[cli][chat]") {
  TestLoop loop;
  {
    World world(loop);
    Cli& cli = world.cli;
    Person ann = world.add("ann", true);
    Person ben = world.add("ben", true);
    REQUIRE(cli.run({"contact", "add", "ben", ben.id}, ann.env).exit_code == 0);
    REQUIRE(cli.run({"contact", "add", "ann", ann.id}, ben.env).exit_code == 0);

    auto env = ann.env;
    env.push_back("HOME=" + (world.dir / "home").string());
    PtyChild chat(loop, env, 24, 80);
    // The first screen, read until it is all there: the title, and Ben in the conversations.
    REQUIRE(loop.run_until([&] { return chat.shows("/help lists the commands") && chat.shows("ben"); },
                           std::chrono::seconds(30)));

    // Ann writes (UTF-8) in the open conversation, Ben's recv gets it.
    chat.type("gr\xc3\xbc\xc3\x9f" "e aus dem Chat\r");
    REQUIRE(loop.run_until([&] { return chat.shows("e aus dem Chat"); }, std::chrono::seconds(10)));
    bool got = false;
    for (int attempt = 0; attempt < 10 && !got; ++attempt) {
      const Outcome r = cli.run({"recv", "--json"}, ben.env);
      REQUIRE(r.exit_code == 0);
      for (const auto& l : lines_of(r.out))
        if (nlohmann::json::parse(l).at("text") == "gr\xc3\xbc\xc3\x9f" "e aus dem Chat") got = true;
    }
    REQUIRE(got);
    // Ben answers; it appears as it arrives.
    REQUIRE(cli.run({"send", "--to", "ann", "hi from ben"}, ben.env).exit_code == 0);
    REQUIRE(loop.run_until([&] { return chat.shows("ben: hi from ben"); }, std::chrono::seconds(15)));
    // Ben's receipt marked Ann's message delivered: drawn again whole (Ctrl-L), the line ends in two ticks.
    const bool delivered = loop.run_until(
        [&] {
          const std::size_t from = chat.drawn();
          chat.type("\x0c");
          loop.run_for(std::chrono::milliseconds(200));
          return chat.shows("e aus dem Chat \xe2\x9c\x93\xe2\x9c\x93", from);
        },
        std::chrono::seconds(15));
    INFO(chat.screen().substr(chat.screen().size() > 2000 ? chat.screen().size() - 2000 : 0));
    CHECK(delivered);
    // A command, and a resize.
    chat.type("/help\r");
    // ncurses writes only what changed: the whole screen again (Ctrl-L) to read a line whole.
    auto shows_whole = [&](const std::string& text) {
      return loop.run_until(
          [&] {
            const std::size_t from = chat.drawn();
            chat.type("\x0c");
            loop.run_for(std::chrono::milliseconds(200));
            return chat.shows(text, from);
          },
          std::chrono::seconds(10));
    };
    REQUIRE(shows_whole("/open NAME|ID|GROUP"));
    const std::size_t before_resize = chat.drawn();
    chat.resize(30, 100);  // drawn again at the new size, without a key
    CHECK(loop.run_until([&] { return chat.shows("nightjar", before_resize); }, std::chrono::seconds(10)));
    CHECK(shows_whole("/verify NAME [yes]  /block NAME|ID"));  // fits only in the wider screen
    // Ctrl-C leaves cleanly.
    chat.type("\x03");
    CHECK(chat.wait(loop, std::chrono::seconds(30)) == 0);
  }
  CHECK(loop.drain_and_close());
}
