// progress_line.h — one progress line on stderr for long commands (import, export, verify,
// compact): "import scan.tif:  42% 1.2 of 2.9 GiB, 310 MiB/s, 6 s left", redrawn in place at
// most ten times a second. Shown only when stderr is a terminal and the user did not ask for
// --quiet; nothing of it is printed otherwise, so logs and pipes stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace tessera::cli {

class ProgressLine {
 public:
  // `quiet`: never show anything.
  ProgressLine(std::string label, bool quiet);
  ~ProgressLine();  // ends the line (a newline) when one was drawn
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // What the library calls with (done, total) in bytes; empty when nothing is to be shown.
  std::function<void(uint64_t done, uint64_t total)> callback();
  // Starts over under a new label (the next page, the next image), keeping the line.
  void relabel(std::string label);

 private:
  void draw(uint64_t done, uint64_t total);

  std::string label_;
  bool enabled_;
  bool shown_ = false;
  size_t width_ = 0;  // of the last line drawn, to blank what a shorter one leaves
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tessera::cli
