#include "tests/support/log_capture.hpp"

#include <spdlog/sinks/base_sink.h>

#include <mutex>

namespace nightjar::test {
namespace {

class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.clear();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::string line(buf.data(), buf.size());
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    // Bounded, so a chatty test cannot grow memory without limit.
    if (lines_.size() >= 20000) lines_.erase(lines_.begin(), lines_.begin() + 10000);
    lines_.push_back(std::move(line));
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

std::shared_ptr<CaptureSink> sink() {
  static auto s = std::make_shared<CaptureSink>();
  return s;
}

}  // namespace

std::shared_ptr<spdlog::logger> capture_logger(const std::string& name) {
  auto logger = std::make_shared<spdlog::logger>(name, sink());
  logger->set_level(spdlog::level::debug);
  return logger;
}

std::vector<std::string> captured_lines() {
  return sink()->lines();
}

bool log_contains(const std::string& needle) {
  for (const auto& l : captured_lines())
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

void clear_captured() {
  sink()->clear();
}

}  // namespace nightjar::test
