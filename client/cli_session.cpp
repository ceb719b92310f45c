// send and recv: one Client on a loop of the command's own, from start to
// stop (see cli_commands.hpp).
#include <fcntl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <ostream>
#include <system_error>

#include "client/cli_commands.hpp"
#include "client/cli_output.hpp"
#include "client/client.hpp"
#include "client/envelope.hpp"

namespace nightjar::client::cli {
namespace {

namespace fs = std::filesystem;

void print_error(std::ostream& err, const std::string& message) {
  err << "nightjar: " << message << "\n" << std::flush;
}

// True when a step succeeded; otherwise prints why it did not.
template <class T>
bool succeeded(const Result<T, std::string>& r, std::ostream& err) {
  if (r) return true;
  print_error(err, r.error());
  return false;
}

Result<NetworkConfig, std::string> load_network(const CliOptions& o) {
  std::error_code ec;
  if (!fs::exists(o.network_file, ec))
    return fail("no network file at " + o.network_file.string() +
                ": pass --network FILE or set NIGHTJAR_NETWORK (the network's operators "
                "publish it; `nightjar-node --authority` writes one for a new network)");
  return NetworkConfig::load(o.network_file);
}

// Reads at most max_message_bytes from `fd`; one byte more means too long.
Result<std::vector<std::uint8_t>, std::string> read_message(int fd, const std::string& name) {
  std::vector<std::uint8_t> data(max_message_bytes + 1);
  std::size_t size = 0;
  while (size < data.size()) {
    const ssize_t n = ::read(fd, data.data() + size, data.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read " + name + ": " + std::strerror(errno));
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  if (size > max_message_bytes)
    return fail("message too long: " + name + " has more than " +
                std::to_string(max_message_bytes) + " bytes");
  data.resize(size);
  return data;
}

Result<std::vector<std::uint8_t>, std::string> message_of(const CliOptions& o) {
  if (!o.file) return std::vector<std::uint8_t>(o.text.begin(), o.text.end());
  if (o.file->string() == "-") return read_message(STDIN_FILENO, "standard input");
  const int fd = ::open(o.file->c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot open " + o.file->string() + ": " + std::strerror(errno));
  auto data = read_message(fd, o.file->string());
  ::close(fd);
  return data;
}

// Logs of the client library (and of spdlog's default logger, which the
// link layer falls back to) go to stderr, so stdout carries only results.
std::shared_ptr<spdlog::logger> stderr_logger(const std::string& level) {
  auto log = std::make_shared<spdlog::logger>(
      "nightjar", std::make_shared<spdlog::sinks::stderr_color_sink_st>());
  log->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(log);
  return log;
}

// A Client on its own loop. run() starts it, calls `on_ready` once a
// directory is held, and returns when the work has called finish() (or a
// signal or a failed start has) and every handle is closed.
class Session {
 public:
  Session(const CliOptions& o, NetworkConfig network, Identity identity, std::ostream& err)
      : options_(o), err_(err) {
    uv_loop_init(&loop_);
    ClientOptions co;
    co.network = std::move(network);
    co.profile_dir = o.profile_dir;
    co.delete_after_read = o.delete_after_read;
    co.log = stderr_logger(o.log_level);
    co.on_notice = [this](const std::string& text) { err_ << "nightjar: " << text << "\n" << std::flush; };
    client_ = std::make_unique<Client>(&loop_, std::move(co), std::move(identity));
  }
  ~Session() { uv_loop_close(&loop_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Client& client() { return *client_; }
  bool finished() const { return finished_; }
  // What a signal does; by default the command ends as interrupted.
  std::function<void()> on_signal = [this] { finish(exit_failure, "interrupted"); };

  int run(std::function<void()> on_ready) {
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
};

}  // namespace

int run_send(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto network = load_network(o);
  if (!succeeded(network, err)) return exit_failure;
  auto text = message_of(o);
  if (!succeeded(text, err)) return exit_failure;
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  Session session(o, std::move(*network), std::move(*identity), err);
  const AccountKey to = *o.to;
  return session.run([&] {
    session.client().send(to, *text, [&](Result<SendReceipt, SendFailure> r) {
      if (session.finished()) return;
      if (!r) {
        std::string why = std::string("cannot send: ") + to_string(r.error().error);
        if (!r.error().detail.empty()) why += ": " + r.error().detail;
        session.finish(exit_failure, why);
        return;
      }
      out << (o.json ? receipt_json(*r, to) : receipt_line(*r, to)) << "\n" << std::flush;
      session.finish(out ? exit_ok : exit_failure,
                     out ? std::string() : "cannot write the receipt to standard output");
    });
  });
}

int run_recv(const CliOptions& o, std::ostream& out, std::ostream& err) {
  auto network = load_network(o);
  if (!succeeded(network, err)) return exit_failure;
  auto identity = unlock_identity(o);
  if (!succeeded(identity, err)) return exit_failure;
  Session session(o, std::move(*network), std::move(*identity), err);
  auto print = [&](const ReceivedMessage& m) {
    if (session.finished()) return;
    out << (o.json ? message_json(m) : message_line(m, TimeZone::local)) << "\n" << std::flush;
    if (!out) session.finish(exit_failure, "cannot write to standard output");
  };
  if (o.follow) session.on_signal = [&] { session.finish(exit_ok); };
  return session.run([&] {
    session.client().receive(print, [&](Result<void, std::string> done) {
      if (session.finished()) return;
      if (!done) {
        session.finish(exit_failure, "cannot receive: " + done.error());
        return;
      }
      if (!o.follow) {
        session.finish(exit_ok);
        return;
      }
      session.client().subscribe(print);
    });
  });
}

}  // namespace nightjar::client::cli
