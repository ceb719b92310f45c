// `nightjar contact ...`: the profile's contact book (client/contacts.hpp),
// offline; and the lookup of contacts' names given where account IDs go.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "client/cli_commands.hpp"
#include "client/cli_output.hpp"
#include "client/cli_session.hpp"
#include "client/contacts.hpp"

namespace nightjar::client::cli {
namespace {

std::filesystem::path contacts_file(const CliOptions& o) {
  return o.profile_dir / "contacts";
}

std::string contact_json(const Contact& c, const char* standing) {
  nlohmann::ordered_json j;
  j["name"] = c.name;
  j["id"] = format_account_id(c.account);
  j["standing"] = standing;
  j["verified"] = c.verified;
  j["added"] = iso8601_utc(c.added_ms);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string contact_line(const Contact& c) {
  return printable_text(as_bytes(c.name)) + "  " + format_account_id(c.account) +
         (c.verified ? "  verified" : "");
}

// An account given as a contact's name or an ID, for block and unblock.
Result<AccountKey, std::string> account_of(const ContactBook& book, const std::string& text) {
  return resolve_account(book, text);
}

bool confirm(const std::string& question, std::ostream& out) {
  if (!::isatty(STDIN_FILENO)) return false;
  out << question << " [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int verify(const CliOptions& o, ContactBook& book, const Identity& me, std::ostream& out,
           std::ostream& err) {
  const Contact* c = book.find(o.contact_name);
  if (!c) {
    print_error(err, "no contact named \"" + o.contact_name + "\"");
    return exit_failure;
  }
  const std::string theirs = fingerprint(c->account);
  const std::string ours = fingerprint(me.account());
  if (o.json && !o.yes) {
    nlohmann::ordered_json j;
    j["name"] = c->name;
    j["fingerprint"] = theirs;
    j["own_fingerprint"] = ours;
    j["verified"] = c->verified;
    out << j.dump() << "\n" << std::flush;
    return exit_ok;
  }
  const std::string name = printable_text(as_bytes(c->name));
  if (!o.json) {
    std::string mine = "your fingerprint:", other = name + "'s fingerprint:";
    const std::size_t width = std::max(mine.size(), other.size()) + 1;
    mine.resize(width, ' ');
    other.resize(width, ' ');
    out << mine << ours << "\n"
        << other << theirs << "\n"
        << "Compare both, all eight groups, with " << name
        << " on a channel you trust (in person, or\na call where you know the voice).\n";
  }
  bool yes = o.yes;
  if (!yes && !confirm("Do both match what " + name + " sees?", out)) {
    if (!::isatty(STDIN_FILENO))
      out << "not marked verified: run `nightjar contact verify " << name
          << " --yes` once the fingerprints match\n";
    else
      out << "not marked verified\n";
    out << std::flush;
    return exit_ok;
  }
  if (auto r = book.set_verified(o.contact_name, true); !succeeded(r, err)) return exit_failure;
  if (auto r = book.save(); !succeeded(r, err)) return exit_failure;
  if (o.json) {
    out << contact_json(*book.find(o.contact_name), "contact") << "\n";
  } else {
    out << name << " is verified\n";
  }
  out << std::flush;
  return exit_ok;
}

}  // namespace

Result<CliOptions, std::string> resolve_names(const CliOptions& o, const Identity& me) {
  if (o.to_name.empty() && o.names.empty()) return o;
  auto book = ContactBook::load(contacts_file(o), me);
  if (!book) return fail("cannot read the contact book: " + book.error());
  CliOptions out = o;
  if (!o.to_name.empty()) {
    auto a = resolve_account(*book, o.to_name);
    if (!a) return a.failure();
    out.to = *a;
  }
  for (const std::string& name : o.names) {
    auto a = resolve_account(*book, name);
    if (!a) return a.failure();
    if (std::find(out.accounts.begin(), out.accounts.end(), *a) != out.accounts.end())
      return fail("\"" + name + "\" is an account given twice");
    out.accounts.push_back(*a);
  }
  return out;
}

int run_contact(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  auto lock = ProfileLock::take(o);
  if (!succeeded(lock, err)) return exit_failure;
  auto loaded = ContactBook::load(contacts_file(o), *identity);
  if (!loaded) {
    print_error(err, "cannot read the contact book: " + loaded.error());
    return exit_failure;
  }
  ContactBook& book = *loaded;
  const std::uint64_t now = system_unix_ms();
  auto save_and = [&](const std::string& line, const std::string& json) {
    if (auto r = book.save(); !succeeded(r, err)) return exit_failure;
    out << (o.json ? json : line) << "\n" << std::flush;
    return out ? exit_ok : exit_failure;
  };
  switch (o.command) {
    case Command::contact_add: {
      auto id = parse_account_id(o.contact_arg);
      if (!id) {
        print_error(err, "account ID: " + to_string(id.error()));
        return exit_failure;
      }
      const bool was_request = book.standing(*id) == Standing::request;
      if (auto r = book.add(o.contact_name, *id, now); !succeeded(r, err)) return exit_failure;
      return save_and("added " + printable_text(as_bytes(o.contact_name)) +
                          (was_request ? " (their message request is accepted)" : "") +
                          "; compare fingerprints with `nightjar contact verify " +
                          printable_text(as_bytes(o.contact_name)) + "`",
                      contact_json(*book.find(o.contact_name), "contact"));
    }
    case Command::contact_remove: {
      const Contact* c = book.find(o.contact_name);
      const std::string json = c ? contact_json(*c, "removed") : std::string();
      if (auto r = book.remove(o.contact_name); !succeeded(r, err)) return exit_failure;
      return save_and("removed " + printable_text(as_bytes(o.contact_name)), json);
    }
    case Command::contact_rename: {
      if (auto r = book.rename(o.contact_name, o.contact_arg); !succeeded(r, err)) return exit_failure;
      return save_and("renamed " + printable_text(as_bytes(o.contact_name)) + " to " +
                          printable_text(as_bytes(o.contact_arg)),
                      contact_json(*book.find(o.contact_arg), "contact"));
    }
    case Command::contact_verify:
      return verify(o, book, *identity, out, err);
    case Command::contact_block:
    case Command::contact_unblock: {
      auto a = account_of(book, o.contact_arg);
      if (!succeeded(a, err)) return exit_failure;
      const bool block = o.command == Command::contact_block;
      auto r = block ? book.block(*a) : book.unblock(*a);
      if (!succeeded(r, err)) return exit_failure;
      nlohmann::ordered_json j;
      j["id"] = format_account_id(*a);
      j["standing"] = to_string(book.standing(*a));
      return save_and(std::string(block ? "blocked " : "unblocked ") + book.display(*a) +
                          (block ? ": its messages are dropped unseen" : ""),
                      j.dump());
    }
    case Command::contact_list: {
      const auto contacts = book.contacts();
      for (const Contact& c : contacts) {
        const bool blocked = book.standing(c.account) == Standing::blocked;
        out << (o.json ? contact_json(c, blocked ? "blocked" : "contact")
                       : contact_line(c) + (blocked ? "  blocked" : ""))
            << "\n";
      }
      for (const AccountKey& a : book.blocked()) {
        if (book.find(a)) continue;
        nlohmann::ordered_json j;
        j["id"] = format_account_id(a);
        j["standing"] = "blocked";
        out << (o.json ? j.dump() : "(blocked)  " + format_account_id(a)) << "\n";
      }
      if (!o.json) {
        if (contacts.empty()) out << "no contacts yet: `nightjar contact add NAME ID` adds one\n";
        if (const auto n = book.requests().size(); n > 0)
          out << n << " message request" << (n == 1 ? "" : "s")
              << " waiting: `nightjar contact requests`\n";
      }
      out << std::flush;
      return out ? exit_ok : exit_failure;
    }
    case Command::contact_requests: {
      const auto requests = book.requests();
      for (const MessageRequest& r : requests) {
        if (o.json) {
          nlohmann::ordered_json j;
          j["id"] = format_account_id(r.account);
          j["first"] = iso8601_utc(r.first_ms);
          j["last"] = iso8601_utc(r.last_ms);
          j["messages"] = r.messages;
          out << j.dump() << "\n";
        } else {
          out << format_account_id(r.account) << "  " << r.messages << " message"
              << (r.messages == 1 ? "" : "s") << ", first " << iso8601_utc(r.first_ms) << "\n";
        }
      }
      if (!o.json) {
        if (requests.empty())
          out << "no message requests\n";
        else
          out << "accept one with `nightjar contact add NAME ID`, or `nightjar contact block ID`\n";
      }
      out << std::flush;
      return out ? exit_ok : exit_failure;
    }
    default:
      break;
  }
  print_error(err, "unknown contact command");
  return exit_failure;
}

}  // namespace nightjar::client::cli
