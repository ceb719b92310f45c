// `nightjar daemon`: the client as a long-running process that programs
// drive with JSON-RPC 2.0, one object per line, over a Unix socket in the
// profile (mode 0600) or standard input and output (--stdio).
// docs/JSONRPC.md is the reference for every method and notification.
//
// One Client (a Session) runs for the daemon's life, subscribed: messages,
// delivery states and group changes go as notifications to the
// connections that called `subscribe`. Requests are answered in the order
// their work finishes (each answer carries its request's id). A line that
// is not JSON, not a request, or too long gets an error and changes nothing.
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <list>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "client/cli_commands.hpp"
#include "client/cli_output.hpp"
#include "client/cli_session.hpp"

namespace nightjar::client::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr std::size_t max_line_bytes = 1u << 20;  // a 64 KiB message, escaped, with room
constexpr int error_parse = -32700, error_request = -32600, error_method = -32601,
              error_params = -32602, error_failed = -32000;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

json parse_object(const std::string& text) {
  return json::parse(text, nullptr, true);
}

// A method's failure: a JSON-RPC error code and a message for people.
struct Failure {
  int code = error_failed;
  std::string message;
};

class Daemon;

// One JSON-RPC peer: a socket connection, or standard input and output.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `owned`: a socket connection's pipe (in == out), closed and freed here.
  Connection(Daemon& d, uv_stream_t* in, uv_stream_t* out, bool owned)
      : daemon_(d), in_(in), out_(out), owned_(owned) {}
  void start();
  void send(const json& j);
  void close();
  bool closed() const { return closed_; }
  bool subscribed = false;

 private:
  void on_data(const char* data, std::size_t n);
  Daemon& daemon_;
  uv_stream_t* in_;
  uv_stream_t* out_;
  std::string buffer_;
  bool owned_;
  bool closed_ = false;
  bool discarding_ = false;  // the rest of a line that was too long
};

class Daemon {
 public:
  Daemon(const CliOptions& o, Session& s) : o_(o), session_(s) {}

  Result<void, std::string> listen(uv_loop_t* loop);
  void stop();
  void handle(const std::shared_ptr<Connection>& c, const std::string& line);
  void notify(const std::string& method, json params);
  void drop(Connection* c);
  std::function<void()> on_end;  // standard input ended (--stdio)

 private:
  using Reply = std::function<void(Result<json, Failure>)>;
  void call(const std::string& method, const json& params, Reply reply);
  Client& client() { return session_.client(); }
  Result<AccountKey, Failure> account_param(const json& params, const char* key);
  Result<GroupInfo, Failure> group_param(const json& params, const char* key);
  static Result<std::string, Failure> string_param(const json& params, const char* key);

  const CliOptions& o_;
  Session& session_;
  uv_loop_t* loop_ = nullptr;
  std::list<std::shared_ptr<Connection>> connections_;
  std::unique_ptr<uv_pipe_t> server_, stdin_;
  std::filesystem::path socket_path_;
};

// --- Connection ---------------------------------------------------------------------------

void Connection::start() {
  in_->data = this;
  uv_read_start(
      in_,
      [](uv_handle_t*, std::size_t suggested, uv_buf_t* buf) {
        buf->base = new char[suggested];
        buf->len = suggested;
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* self = static_cast<Connection*>(s->data);
        std::unique_ptr<char[]> owned(buf->base);
        if (n < 0) return self->close();
        if (n > 0) self->on_data(buf->base, static_cast<std::size_t>(n));
      });
}

void Connection::on_data(const char* data, std::size_t n) {
  auto keep = shared_from_this();
  for (std::size_t i = 0; i < n && !closed_; ++i) {
    if (data[i] != '\n') {
      if (discarding_) continue;
      if (buffer_.size() >= max_line_bytes) {
        buffer_.clear();
        discarding_ = true;
        send(json{{"jsonrpc", "2.0"},
                  {"id", nullptr},
                  {"error", {{"code", error_request}, {"message", "line longer than 1 MiB"}}}});
        continue;
      }
      buffer_.push_back(data[i]);
      continue;
    }
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    std::string line = std::move(buffer_);
    buffer_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    daemon_.handle(keep, line);
  }
}

void Connection::send(const json& j) {
  if (closed_) return;
  if (!out_) {
    // Standard output (--stdio): written as it comes, whatever it is (a
    // pipe, a file, a terminal).
    const std::string text = dump(j) + "\n";
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return close();
      done += static_cast<std::size_t>(n);
    }
    return;
  }
  struct Write {
    uv_write_t req;
    std::string text;
  };
  auto* w = new Write;
  w->text = dump(j) + "\n";
  uv_buf_t buf = uv_buf_init(w->text.data(), static_cast<unsigned>(w->text.size()));
  const int r = uv_write(&w->req, out_, &buf, 1, [](uv_write_t* req, int) {
    delete reinterpret_cast<Write*>(req);
  });
  if (r != 0) {
    delete w;
    close();
  }
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  uv_read_stop(in_);
  if (owned_)
    uv_close(reinterpret_cast<uv_handle_t*>(in_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
  daemon_.drop(this);
}

// --- Daemon -------------------------------------------------------------------------------

Result<void, std::string> Daemon::listen(uv_loop_t* loop) {
  loop_ = loop;
  if (o_.stdio) {
    if (uv_guess_handle(STDIN_FILENO) != UV_NAMED_PIPE)
      return fail(std::string("--stdio needs standard input to be a pipe or a socket"));
    stdin_ = std::make_unique<uv_pipe_t>();
    uv_pipe_init(loop, stdin_.get(), 0);
    if (uv_pipe_open(stdin_.get(), STDIN_FILENO) != 0)
      return fail(std::string("cannot read standard input"));
    auto c = std::make_shared<Connection>(*this, reinterpret_cast<uv_stream_t*>(stdin_.get()), nullptr, false);
    connections_.push_back(c);
    c->start();
    return {};
  }
  socket_path_ = o_.socket_path.empty() ? o_.profile_dir / "daemon.sock" : o_.socket_path;
  // A socket left by a daemon that crashed: the profile lock says none runs.
  std::error_code ec;
  std::filesystem::remove(socket_path_, ec);
  server_ = std::make_unique<uv_pipe_t>();
  uv_pipe_init(loop, server_.get(), 0);
  server_->data = this;
  // Created 0600 from the start: nobody else may ever connect.
  const mode_t old = ::umask(0177);
  const int bound = uv_pipe_bind(server_.get(), socket_path_.c_str());
  ::umask(old);
  if (bound != 0)
    return fail("cannot listen on " + socket_path_.string() + ": " + uv_strerror(bound));
  const int listening = uv_listen(reinterpret_cast<uv_stream_t*>(server_.get()), 16, [](uv_stream_t* s, int status) {
    if (status != 0) return;
    auto* self = static_cast<Daemon*>(s->data);
    auto* pipe = new uv_pipe_t;
    uv_pipe_init(self->loop_, pipe, 0);
    if (uv_accept(s, reinterpret_cast<uv_stream_t*>(pipe)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(pipe), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
      return;
    }
    auto* stream = reinterpret_cast<uv_stream_t*>(pipe);
    auto c = std::make_shared<Connection>(*self, stream, stream, true);
    self->connections_.push_back(c);
    c->start();
  });
  if (listening != 0) return fail("cannot listen on " + socket_path_.string() + ": " + uv_strerror(listening));
  return {};
}

void Daemon::drop(Connection* c) {
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (it->get() != c) continue;
    connections_.erase(it);
    // Standard input ended: so does the daemon.
    if (o_.stdio && on_end) on_end();
    return;
  }
}

void Daemon::stop() {
  for (auto& c : std::list<std::shared_ptr<Connection>>(connections_)) c->close();
  auto close_handle = [](uv_pipe_t* p) {
    if (p && !uv_is_closing(reinterpret_cast<uv_handle_t*>(p))) uv_close(reinterpret_cast<uv_handle_t*>(p), nullptr);
  };
  close_handle(server_.get());
  close_handle(stdin_.get());
  if (!socket_path_.empty()) {
    std::error_code ec;
    std::filesystem::remove(socket_path_, ec);
  }
}

void Daemon::notify(const std::string& method, json params) {
  const json note{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
  for (auto& c : connections_)
    if (c->subscribed) c->send(note);
}

Result<std::string, Failure> Daemon::string_param(const json& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end() || !it->is_string())
    return fail(Failure{error_params, std::string("params.") + key + ": expected a string"});
  return it->get<std::string>();
}

Result<AccountKey, Failure> Daemon::account_param(const json& params, const char* key) {
  auto text = string_param(params, key);
  if (!text) return text.failure();
  auto a = resolve_account(client().contacts(), *text);
  if (!a) return fail(Failure{error_params, std::string("params.") + key + ": " + a.error()});
  return *a;
}

Result<GroupInfo, Failure> Daemon::group_param(const json& params, const char* key) {
  auto text = string_param(params, key);
  if (!text) return text.failure();
  auto g = resolve_group(client().groups(), *text);
  if (!g) return fail(Failure{error_params, std::string("params.") + key + ": " + g.error()});
  return *g;
}

void Daemon::handle(const std::shared_ptr<Connection>& c, const std::string& line) {
  json request;
  try {
    request = parse_object(line);
  } catch (const json::parse_error&) {
    c->send(json{{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", error_parse}, {"message", "not JSON"}}}});
    return;
  }
  const bool has_id = request.is_object() && request.contains("id");
  json id = has_id ? request["id"] : json(nullptr);
  auto error = [&](int code, const std::string& message) {
    c->send(json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
  };
  if (!request.is_object() || request.value("jsonrpc", "") != "2.0" || !request.contains("method") ||
      !request["method"].is_string() || (has_id && !id.is_string() && !id.is_number() && !id.is_null()))
    return error(error_request, "not a JSON-RPC 2.0 request");
  json params = request.contains("params") ? request["params"] : json::object();
  if (!params.is_object()) return error(error_params, "params: expected an object");
  const std::string method = request["method"].get<std::string>();
  std::weak_ptr<Connection> weak = c;
  if (method == "subscribe" || method == "unsubscribe") {
    c->subscribed = method == "subscribe";
    if (has_id) c->send(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", true}});
    return;
  }
  Reply reply = [weak, id, has_id](Result<json, Failure> r) {
    auto conn = weak.lock();
    if (!conn || !has_id) return;
    if (r)
      conn->send(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(*r)}});
    else
      conn->send(json{{"jsonrpc", "2.0"},
                      {"id", id},
                      {"error", {{"code", r.error().code}, {"message", r.error().message}}}});
  };
  try {
    call(method, params, reply);
  } catch (const json::exception& e) {
    // A parameter of the wrong type (json's value() and get() throw).
    reply(fail(Failure{error_params, std::string("bad params: ") + e.what()}));
  }
}

json contact_json(const Contact& c, Standing s) {
  return json{{"name", c.name},
              {"id", format_account_id(c.account)},
              {"standing", to_string(s)},
              {"verified", c.verified},
              {"added", iso8601_utc(c.added_ms)}};
}

void Daemon::call(const std::string& method, const json& params, Reply reply) {
  auto failed = [&](int code, std::string message) { reply(fail(Failure{code, std::move(message)})); };
  auto parsed = [](const std::string& text) { return parse_object(text); };
  if (method == "id.show") return reply(parsed(identity_json(client().identity().account())));
  if (method == "send") {
    auto text = string_param(params, "text");
    if (!text) return reply(text.failure());
    if (text->size() > max_message_bytes) return failed(error_params, "params.text: longer than 65536 bytes");
    auto done = [reply](Result<SendReceipt, SendFailure> r) {
      if (!r) {
        std::string why = std::string("cannot send: ") + to_string(r.error().error);
        if (!r.error().detail.empty()) why += ": " + r.error().detail;
        return reply(fail(Failure{error_failed, why}));
      }
      reply(json{{"message_id", r->message_id.hex()},
                 {"fragments", r->fragments},
                 {"replicas", r->min_replicas},
                 {"forward_secret", r->forward_secret},
                 {"state", "stored"}});
    };
    if (params.contains("group")) {
      auto g = group_param(params, "group");
      if (!g) return reply(g.failure());
      return client().send_group(g->id, as_bytes(*text), done);
    }
    auto to = account_param(params, "to");
    if (!to) return reply(to.failure());
    return client().send(*to, as_bytes(*text), done);
  }
  if (method == "history") {
    const std::size_t limit = params.value("limit", std::size_t{20});
    if (!params.contains("conversation")) {
      json list = json::array();
      for (const auto& s : client().history().conversations())
        list.push_back(conversation_json(s, client().contacts(), client().groups()));
      return reply(list);
    }
    auto text = string_param(params, "conversation");
    if (!text) return reply(text.failure());
    auto c = conversation_of(*text, client().contacts(), client().groups());
    if (!c) return failed(error_params, "params.conversation: " + c.error());
    json list = json::array();
    for (const auto& e : client().history().messages(*c, limit == 0 ? 20 : limit))
      list.push_back(history_entry_json(e, client().contacts()));
    if (params.value("mark_read", true)) (void)client().mark_read(*c);
    return reply(list);
  }
  if (method == "contacts.list") {
    json list = json::array();
    for (const auto& c : client().contacts().contacts())
      list.push_back(contact_json(c, client().contacts().standing(c.account)));
    return reply(list);
  }
  if (method == "contacts.requests") {
    json list = json::array();
    for (const auto& r : client().contacts().requests())
      list.push_back(json{{"id", format_account_id(r.account)},
                          {"first", iso8601_utc(r.first_ms)},
                          {"last", iso8601_utc(r.last_ms)},
                          {"messages", r.messages}});
    return reply(list);
  }
  if (method == "contacts.add" || method == "contacts.remove" || method == "contacts.block" ||
      method == "contacts.unblock" || method == "contacts.verify") {
    Result<void, std::string> changed = {};
    if (method == "contacts.add") {
      auto name = string_param(params, "name");
      auto id = string_param(params, "id");
      if (!name) return reply(name.failure());
      if (!id) return reply(id.failure());
      auto account = parse_account_id(*id);
      if (!account) return failed(error_params, "params.id: " + to_string(account.error()));
      changed = client().change_contacts([&](ContactBook& b) { return b.add(*name, *account, system_unix_ms()); });
    } else if (method == "contacts.remove" || method == "contacts.verify") {
      auto name = string_param(params, "name");
      if (!name) return reply(name.failure());
      changed = client().change_contacts([&](ContactBook& b) {
        return method == "contacts.remove" ? b.remove(*name) : b.set_verified(*name, true);
      });
    } else {
      auto who = account_param(params, "who");
      if (!who) return reply(who.failure());
      changed = client().change_contacts([&](ContactBook& b) {
        return method == "contacts.block" ? b.block(*who) : b.unblock(*who);
      });
    }
    if (!changed) return failed(error_failed, changed.error());
    return reply(json(true));
  }
  if (method == "groups.list") {
    json list = json::array();
    for (const auto& g : client().groups()) list.push_back(parsed(group_json(g)));
    return reply(list);
  }
  if (method == "groups.members") {
    auto g = group_param(params, "group");
    if (!g) return reply(g.failure());
    json list = json::array();
    for (const auto& m : g->members)
      list.push_back(parsed(member_json(m, m.account == client().identity().account())));
    return reply(list);
  }
  if (method == "groups.create") {
    auto name = string_param(params, "name");
    if (!name) return reply(name.failure());
    if (!group::valid_name(*name)) return failed(error_params, "params.name: not a good group name");
    return client().create_group(*name, [this, reply](Result<GroupKey, std::string> r) {
      if (!r) return reply(fail(Failure{error_failed, "cannot create the group: " + r.error()}));
      for (const auto& g : client().groups())
        if (g.id == *r) return reply(parse_object(group_json(g)));
      reply(fail(Failure{error_failed, "the new group is gone"}));
    });
  }
  if (method == "groups.add" || method == "groups.remove" || method == "groups.leave") {
    auto g = group_param(params, "group");
    if (!g) return reply(g.failure());
    const GroupKey key = g->id;
    auto done = [this, key, method, reply](Result<GroupChangeReport, std::string> r) {
      if (!r) return reply(fail(Failure{error_failed, r.error()}));
      for (const auto& info : client().groups())
        if (info.id == key) return reply(parse_object(group_change_json(method.substr(7), info, *r)));
      reply(json(true));
    };
    if (method == "groups.leave") return client().leave_group(key, done);
    auto members = params.find("members");
    if (members == params.end() || !members->is_array() || members->empty() || members->size() > group::max_changes)
      return failed(error_params, "params.members: expected a list of 1 to 64 names or IDs");
    std::vector<group::Change> changes;
    for (const auto& m : *members) {
      if (!m.is_string()) return failed(error_params, "params.members: expected strings");
      auto a = resolve_account(client().contacts(), m.get<std::string>());
      if (!a) return failed(error_params, "params.members: " + a.error());
      changes.push_back({method == "groups.add" ? group::ChangeType::add : group::ChangeType::remove, *a,
                         group::Role::member, {}});
    }
    return client().change_group(key, std::move(changes), done);
  }
  failed(error_method, "no method \"" + method + "\" (docs/JSONRPC.md lists them)");
}

}  // namespace

int run_daemon(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto network = load_network(o);
  if (!succeeded(network, err)) return exit_failure;
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  Session session(o, std::move(*network), std::move(*identity), err);
  Daemon daemon(o, session);
  auto end = [&](int code, const std::string& why) {
    daemon.stop();
    session.finish(code, why);
  };
  session.on_signal = [&] { end(exit_ok, {}); };
  daemon.on_end = [&] { end(exit_ok, {}); };
  session.on_delivery_state = [&](const HistoryEntry& e) {
    json p = history_entry_json(e, session.client().contacts());
    p["conversation"] = e.conversation.group ? format_group_id(e.conversation.key)
                                             : format_account_id(e.conversation.key);
    daemon.notify("message.state", std::move(p));
  };
  session.on_group_event = [&](const GroupKey& g, const group::GroupEvent& e) {
    std::string name;
    for (const auto& info : session.client().groups())
      if (info.id == g) name = info.name;
    daemon.notify("group.event", parse_object(group_event_json(g, name, e)));
  };
  return session.run([&] {
    if (auto r = daemon.listen(session.loop()); !r) return end(exit_failure, r.error());
    session.client().subscribe([&](const ReceivedMessage& m) {
      std::string group_name;
      if (m.group)
        for (const auto& info : session.client().groups())
          if (info.id == *m.group) group_name = info.name;
      const Contact* c = session.client().contacts().find(m.sender);
      daemon.notify("message", parse_object(message_json(m, group_name, c ? c->name : std::string())));
    });
    if (!o.stdio) {
      out << "nightjar daemon: listening on "
          << (o.socket_path.empty() ? o.profile_dir / "daemon.sock" : o.socket_path).string() << "\n"
          << std::flush;
    }
  });
}

}  // namespace nightjar::client::cli
