// The live progress of a run, on standard error: on a terminal one line
// rewritten in place a few times a second; otherwise (a pipe, a CI log) a
// plain line every few seconds, so logs stay readable.
#pragma once

#include <cstdio>
#include <string>

namespace nightjar::simnet {

class ProgressLine {
 public:
  // `terminal`: rewrite in place; otherwise a line every `plain_interval_s`.
  ProgressLine(std::FILE* out, bool terminal, double plain_interval_s = 5);
  // For stderr: a terminal when isatty says so.
  static ProgressLine for_stderr(bool enabled);

  // Shows `text` (at `now_s`, seconds since the run began).
  void update(double now_s, const std::string& text);
  // A line of its own that stays (a fault, a phase).
  void event(const std::string& text);
  // Ends the in-place line.
  void finish();

 private:
  std::FILE* out_;
  bool terminal_;
  bool enabled_ = true;
  double interval_s_;
  double last_s_ = -1e9;
  bool line_open_ = false;
};

}  // namespace nightjar::simnet
