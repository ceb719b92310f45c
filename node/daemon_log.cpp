#include "node/daemon_log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace nightjar {

namespace {

// "<N>": the syslog priority journald reads from the start of a line.
class JournalPriority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    char p = '6';
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        p = '7';
        break;
      case spdlog::level::info:
        p = '6';
        break;
      case spdlog::level::warn:
        p = '4';
        break;
      case spdlog::level::err:
        p = '3';
        break;
      case spdlog::level::critical:
        p = '2';
        break;
      default:
        break;
    }
    const char text[] = {'<', p, '>'};
    dest.append(text, text + sizeof text);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JournalPriority>();
  }
};

}  // namespace

bool DaemonLog::stderr_is_journal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (env == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

void DaemonLog::set_pattern(spdlog::sinks::sink& sink, bool journal) const {
  bool stamps = settings_.timestamps == LogTimestamps::on;
  if (settings_.timestamps == LogTimestamps::automatic) stamps = !journal;
  std::string pattern = journal ? "%*" : "";
  if (stamps) pattern += "[%Y-%m-%d %H:%M:%S.%e] ";
  pattern += journal ? "%l: %v" : "[%^%l%$] %v";
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JournalPriority>('*').set_pattern(pattern);
  sink.set_formatter(std::move(formatter));
}

Result<std::shared_ptr<spdlog::sinks::sink>, std::string> DaemonLog::make_file_sink() const {
  try {
    auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        settings_.file->string(), static_cast<std::size_t>(settings_.max_file_bytes),
        settings_.max_files);
    set_pattern(*sink, false);
    return std::shared_ptr<spdlog::sinks::sink>(std::move(sink));
  } catch (const spdlog::spdlog_ex& e) {
    return fail("cannot open log file " + settings_.file->string() + ": " + e.what());
  }
}

Result<std::unique_ptr<DaemonLog>, std::string> DaemonLog::open(const LogSettings& settings) {
  std::unique_ptr<DaemonLog> log(new DaemonLog(settings));
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (settings.file) {
    auto file = log->make_file_sink();
    if (!file) return file.failure();
    sink = std::move(*file);
  } else {
    // Colours only on a terminal (automatic mode checks isatty and TERM).
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    log->set_pattern(*console, stderr_is_journal());
    sink = std::move(console);
  }
  log->logger_ = std::make_shared<spdlog::logger>("nightjar", std::move(sink));
  log->logger_->set_level(settings.level);
  // Operators read info lines as they happen; they are rare, so flush each.
  log->logger_->flush_on(spdlog::level::info);
  return log;
}

Result<void, std::string> DaemonLog::reopen() {
  if (!settings_.file) return {};
  logger_->flush();
  auto sink = make_file_sink();
  if (!sink) {
    logger_->error("{}; still writing to the old file", sink.error());
    return sink.failure();
  }
  logger_->sinks().front() = std::move(*sink);  // the old sink closes its file here
  logger_->info("log file reopened");
  return {};
}

std::string DaemonLog::destination() const {
  if (settings_.file) return settings_.file->string();
  return stderr_is_journal() ? "the systemd journal" : "standard error";
}

}  // namespace nightjar
