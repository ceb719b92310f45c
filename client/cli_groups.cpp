// The group commands (`nightjar group ...`) and `send --group`: `list` and
// `members` read the profile's groups offline (GroupStore); the others run
// a Session (client/cli_session.hpp) and the client's group calls.
#include <algorithm>
#include <ostream>

#include "client/cli_commands.hpp"
#include "client/cli_output.hpp"
#include "client/cli_session.hpp"
#include "client/group_store.hpp"

namespace nightjar::client::cli {
namespace {

bool starts_like_an_id(const std::string& ref) {
  if (ref.size() < 40 || ref.find(' ') != std::string::npos) return false;
  const auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
  return lower(ref[0]) == 'n' && (lower(ref[1]) == 'g' || lower(ref[1]) == 'j');
}

const GroupInfo* find_info(const std::vector<GroupInfo>& held, const GroupKey& key) {
  for (const auto& g : held)
    if (g.id == key) return &g;
  return nullptr;
}

int list_groups(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  auto held = offline_groups(o, *identity);
  if (!succeeded(held, err)) return exit_failure;
  if (o.command == Command::group_list) {
    for (const auto& g : *held) out << (o.json ? group_json(g) : group_line(g)) << "\n";
    if (held->empty() && !o.json)
      out << "no groups yet: `nightjar group create NAME` starts one\n";
    out << std::flush;
    return out ? exit_ok : exit_failure;
  }
  auto g = resolve_group(*held, o.group);
  if (!succeeded(g, err)) return exit_failure;
  for (const auto& m : g->members) {
    const bool you = m.account == identity->account();
    out << (o.json ? member_json(m, you) : member_line(m, you)) << "\n";
  }
  out << std::flush;
  return out ? exit_ok : exit_failure;
}

std::vector<group::Change> changes_of(const CliOptions& o) {
  std::vector<group::Change> out;
  if (o.command == Command::group_rename) {
    out.push_back({group::ChangeType::rename, {}, group::Role::member, o.group_name});
    return out;
  }
  const group::ChangeType type = o.command == Command::group_add      ? group::ChangeType::add
                                 : o.command == Command::group_remove ? group::ChangeType::remove
                                                                      : group::ChangeType::promote;
  for (const AccountKey& a : o.accounts) out.push_back({type, a, group::Role::member, {}});
  return out;
}

std::string action_of(Command c) {
  switch (c) {
    case Command::group_add: return "add";
    case Command::group_remove: return "remove";
    case Command::group_promote: return "promote";
    case Command::group_rename: return "rename";
    case Command::group_leave: return "leave";
    default: return "change";
  }
}

std::string done_text(const CliOptions& o) {
  const std::string n = std::to_string(o.accounts.size());
  switch (o.command) {
    case Command::group_add: return "added " + n;
    case Command::group_remove: return "removed " + n;
    case Command::group_promote: return "made " + n + " admin" + (o.accounts.size() == 1 ? "" : "s");
    case Command::group_rename: return "renamed";
    case Command::group_leave: return "asked the admins to remove you";
    default: return "changed";
  }
}

}  // namespace

// GROUP as typed: a group ID the profile holds, or the name of exactly one
// of its groups.
Result<GroupInfo, std::string> resolve_group(const std::vector<GroupInfo>& held, const std::string& ref) {
  if (auto id = parse_group_id(ref)) {
    if (const GroupInfo* g = find_info(held, *id)) return *g;
    return fail("you are not in the group " + ref + " (see `nightjar group list`)");
  } else if (starts_like_an_id(ref)) {
    return fail("GROUP: " + to_string(id.error()));
  }
  std::vector<const GroupInfo*> named;
  for (const auto& g : held)
    if (g.name == ref) named.push_back(&g);
  if (named.size() == 1) return *named.front();
  if (named.empty()) return fail("no group named \"" + ref + "\" (see `nightjar group list`)");
  return fail(std::to_string(named.size()) + " groups are named \"" + ref +
              "\": give the group's ID (see `nightjar group list`)");
}

Result<std::vector<GroupInfo>, std::string> offline_groups(const CliOptions& o, const Identity& me) {
  GroupStore store(o.profile_dir / "groups", me);
  std::vector<std::string> errors;
  auto groups = store.load_all(errors);
  if (!errors.empty()) return fail("cannot read a group: " + errors.front());
  std::vector<GroupInfo> out;
  for (const auto& [key, g] : groups) out.push_back(group_info(g));
  return out;
}

int run_group(const CliOptions& given, std::ostream& out, std::ostream& err) {
  if (given.command == Command::group_list || given.command == Command::group_members)
    return list_groups(given, out, err);
  auto network = load_network(given);
  if (!succeeded(network, err)) return exit_failure;
  auto identity = unlock_identity(given);
  if (!succeeded(identity, err)) return exit_failure;
  // Contacts' names given for members become their accounts.
  auto resolved = resolve_names(given, *identity);
  if (!succeeded(resolved, err)) return exit_failure;
  const CliOptions& o = *resolved;
  Session session(o, std::move(*network), std::move(*identity), err);
  Client* client = nullptr;
  return session.run([&] {
    client = &session.client();
    if (o.command == Command::group_create) {
      client->create_group(o.group_name, [&](Result<GroupKey, std::string> r) {
        if (session.finished()) return;
        if (!r) return session.finish(exit_failure, "cannot create the group: " + r.error());
        const auto held = client->groups();
        const GroupInfo* g = find_info(held, *r);
        if (o.json)
          out << group_json(*g) << "\n";
        else
          out << "created the group " << printable_text(as_bytes(g->name)) << "\n"
              << "group ID  " << format_group_id(g->id) << "\n"
              << "Add members with `nightjar group add " << format_group_id(g->id) << " ID...`\n";
        out << std::flush;
        session.finish(out ? exit_ok : exit_failure);
      });
      return;
    }
    auto g = resolve_group(client->groups(), o.group);
    if (!g) return session.finish(exit_failure, g.error());
    const GroupKey key = g->id;
    auto report = [&, key](Result<GroupChangeReport, std::string> r) {
      if (session.finished()) return;
      if (!r) return session.finish(exit_failure, "cannot " + action_of(o.command) + ": " + r.error());
      const auto held = client->groups();
      const GroupInfo* now = find_info(held, key);
      out << (o.json ? group_change_json(action_of(o.command), *now, *r)
                     : group_change_line(done_text(o), *now, *r))
          << "\n"
          << std::flush;
      for (const auto& p : r->problems) spdlog::info("group control not delivered yet: {}", p);
      session.finish(out ? exit_ok : exit_failure);
    };
    if (o.command == Command::group_leave)
      client->leave_group(key, report);
    else
      client->change_group(key, changes_of(o), report);
  });
}

int run_send_group(const CliOptions& o, const std::vector<std::uint8_t>& text, Session& session,
                   std::ostream& out) {
  return session.run([&] {
    Client& client = session.client();
    auto g = resolve_group(client.groups(), o.group);
    if (!g) return session.finish(exit_failure, g.error());
    const GroupInfo info = *g;
    client.send_group(info.id, text, [&, info](Result<SendReceipt, SendFailure> r) {
      if (session.finished()) return;
      if (!r) {
        std::string why = std::string("cannot send: ") + to_string(r.error().error);
        if (!r.error().detail.empty()) why += ": " + r.error().detail;
        return session.finish(exit_failure, why);
      }
      out << (o.json ? group_receipt_json(*r, info) : group_receipt_line(*r, info)) << "\n"
          << std::flush;
      session.finish(out ? exit_ok : exit_failure,
                     out ? std::string() : "cannot write the receipt to standard output");
    });
  });
}

}  // namespace nightjar::client::cli
