#include "simnet/progress.hpp"

#include <unistd.h>

namespace nightjar::simnet {

ProgressLine::ProgressLine(std::FILE* out, bool terminal, double plain_interval_s)
    : out_(out), terminal_(terminal), interval_s_(plain_interval_s) {}

ProgressLine ProgressLine::for_stderr(bool enabled) {
  ProgressLine p(stderr, ::isatty(STDERR_FILENO) == 1);
  p.enabled_ = enabled;
  return p;
}

void ProgressLine::update(double now_s, const std::string& text) {
  if (!enabled_) return;
  if (terminal_) {
    if (now_s - last_s_ < 0.25) return;
    last_s_ = now_s;
    std::fprintf(out_, "\r\x1b[K%s", text.c_str());
    line_open_ = true;
  } else {
    if (now_s - last_s_ < interval_s_) return;
    last_s_ = now_s;
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

void ProgressLine::event(const std::string& text) {
  if (!enabled_) return;
  if (line_open_) std::fprintf(out_, "\r\x1b[K");
  line_open_ = false;
  std::fprintf(out_, "%s\n", text.c_str());
  last_s_ = -1e9;  // redraw the progress line at once
  std::fflush(out_);
}

void ProgressLine::finish() {
  if (line_open_) std::fprintf(out_, "\n");
  line_open_ = false;
  std::fflush(out_);
}

}  // namespace nightjar::simnet
