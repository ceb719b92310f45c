// The Session every networked nightjar command runs in (send, recv, the
// group commands): one Client on a loop of the command's own, from start to
// stop, with its logs on stderr. Private to the CLI library.
#pragma once

#include <spdlog/spdlog.h>
#include <uv.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <memory>
#include <ostream>
#include <string>

#include "client/cli_options.hpp"
#include "client/client.hpp"

namespace nightjar::client::cli {

void print_error(std::ostream& err, const std::string& message);

// True when a step succeeded; otherwise prints why it did not.
template <class T>
bool succeeded(const Result<T, std::string>& r, std::ostream& err) {
  if (r) return true;
  print_error(err, r.error());
  return false;
}

Result<NetworkConfig, std::string> load_network(const CliOptions& o);

// The profile's settings file, PROFILE/nightjar.conf ("key = value" lines,
// '#' comments; docs/CLI.md): how long the history is kept and whether
// delivery receipts are sent. Defaults when there is no file; an unknown
// key or a bad value is an error naming the file.
inline constexpr std::string_view settings_file_name = "nightjar.conf";
struct ProfileSettings {
  HistoryLimits history;
  bool receipts = true;
};
Result<ProfileSettings, std::string> load_settings(const CliOptions& o);

// One process per profile: an exclusive lock (flock) on PROFILE/lock, held
// until the process ends (a crash releases it), naming the holder's PID and
// command for whoever finds it taken: "the profile /p is in use by `nightjar
// daemon` (PID 4242)". Every command that changes the profile takes it.
class ProfileLock {
 public:
  static Result<ProfileLock, std::string> take(const CliOptions& o);
  ProfileLock(ProfileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ProfileLock& operator=(ProfileLock&&) = delete;
  ~ProfileLock();

 private:
  explicit ProfileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// GROUP as typed: a group ID the profile holds, or the name of exactly one
// of its groups (client/cli_groups.cpp).
Result<GroupInfo, std::string> resolve_group(const std::vector<GroupInfo>& held, const std::string& ref);

// The history as JSON (client/cli_history.cpp): one entry, one
// conversation's summary, and what a user typed as a conversation (a
// contact's name, an account ID, a group's name or ID).
nlohmann::ordered_json history_entry_json(const HistoryEntry& e, const ContactBook& contacts);
nlohmann::ordered_json conversation_json(const ConversationSummary& s, const ContactBook& contacts,
                                         const std::vector<GroupInfo>& groups);
Result<ConversationKey, std::string> conversation_of(const std::string& text, const ContactBook& book,
                                                     const std::vector<GroupInfo>& groups);
// The profile's groups, read offline.
Result<std::vector<GroupInfo>, std::string> offline_groups(const CliOptions& o, const Identity& me);

// Logs of the client library (and of spdlog's default logger, which the
// link layer falls back to) go to stderr, so stdout carries only results.
std::shared_ptr<spdlog::logger> stderr_logger(const std::string& level);

// A Client on its own loop. run() starts it, calls `on_ready` once a
// directory is held, and returns when the work has called finish() (or a
// signal or a failed start has) and every handle is closed.
class Session {
 public:
  Session(const CliOptions& o, NetworkConfig network, Identity identity, std::ostream& err)
      : options_(o), err_(err) {
    uv_loop_init(&loop_);
    auto lock = ProfileLock::take(o);
    if (lock)
      lock_.emplace(std::move(*lock));
    else
      settings_error_ = lock.error();
    auto settings = load_settings(o);
    if (!settings && settings_error_.empty()) settings_error_ = settings.error();
    ClientOptions co;
    if (settings) {
      co.history_limits = settings->history;
      co.delivery_receipts = settings->receipts;
    }
    co.network = std::move(network);
    co.profile_dir = o.profile_dir;
    co.delete_after_read = o.delete_after_read;
    co.log = stderr_logger(o.log_level);
    co.on_notice = [this](const std::string& text) { err_ << "nightjar: " << text << "\n" << std::flush; };
    co.on_group_event = [this](const GroupKey& g, const group::GroupEvent& e) {
      if (on_group_event) on_group_event(g, e);
    };
    co.on_delivery_state = [this](const HistoryEntry& e) {
      if (on_delivery_state) on_delivery_state(e);
    };
    client_ = std::make_unique<Client>(&loop_, std::move(co), std::move(identity));
  }
  ~Session() { uv_loop_close(&loop_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Client& client() { return *client_; }
  uv_loop_t* loop() { return &loop_; }
  bool finished() const { return finished_; }
  // What the command does with a group change it learns of (recv prints it).
  std::function<void(const GroupKey&, const group::GroupEvent&)> on_group_event;
  // What the command does when a sent message's delivery state changes.
  std::function<void(const HistoryEntry&)> on_delivery_state;
  // What a signal does; by default the command ends as interrupted.
  std::function<void()> on_signal = [this] { finish(exit_failure, "interrupted"); };

  int run(std::function<void()> on_ready) {
    if (!settings_error_.empty()) {
      print_error(err_, settings_error_);
      return exit_failure;
    }
    for (uv_signal_t* s : {&sigint_, &sigterm_}) {
      uv_signal_init(&loop_, s);
      s->data = this;
    }
    auto signalled = [](uv_signal_t* s, int signum) {
      auto* self = static_cast<Session*>(s->data);
      spdlog::info("signal {}: stopping", signum);
      if (!self->finished_) self->on_signal();
    };
    uv_signal_start(&sigint_, signalled, SIGINT);
    uv_signal_start(&sigterm_, signalled, SIGTERM);
    const auto timeout = std::chrono::seconds(options_.timeout_seconds);
    client_->start(
        [this, on_ready = std::move(on_ready)](Result<void, std::string> ready) {
          if (finished_) return;
          if (!ready) {
            spdlog::info("client start failed: {}", ready.error());
            finish(exit_failure, "no directory from any authority in " +
                                     std::to_string(options_.timeout_seconds) +
                                     " s: check the network file and that nodes are running");
            return;
          }
          on_ready();
        },
        timeout);
    uv_run(&loop_, UV_RUN_DEFAULT);
    client_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // what the client's destructor closed
    return code_;
  }

  // Ends the command with `code` (and `error` printed, when not empty):
  // stops the client, which saves the profile, and closes the signal
  // handles, so the loop runs out. Only the first call counts.
  void finish(int code, const std::string& error = {}) {
    if (finished_) return;
    finished_ = true;
    code_ = code;
    if (!error.empty()) print_error(err_, error);
    client_->stop();
    for (uv_signal_t* s : {&sigint_, &sigterm_})
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(s)))
        uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }

 private:
  const CliOptions& options_;
  std::ostream& err_;
  uv_loop_t loop_{};
  uv_signal_t sigint_{}, sigterm_{};
  std::unique_ptr<Client> client_;
  bool finished_ = false;
  int code_ = exit_ok;
  std::string settings_error_;
  std::optional<ProfileLock> lock_;
};

// send --group: the text to the group o.group names (client/cli_groups.cpp).
int run_send_group(const CliOptions& o, const std::vector<std::uint8_t>& text, Session& session,
                   std::ostream& out);

}  // namespace nightjar::client::cli
