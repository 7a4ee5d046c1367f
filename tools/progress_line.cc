#include "progress_line.h"

#include <unistd.h>

#include <cstdio>

namespace tessera::cli {
namespace {

std::string bytes_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) bytes /= 1024, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, unit ? "%.1f %s" : "%.0f %s", bytes, units[unit]);
  return text;
}

std::string seconds_text(double seconds) {
  char text[32];
  if (seconds < 60) std::snprintf(text, sizeof text, "%.0f s", seconds);
  else if (seconds < 3600) std::snprintf(text, sizeof text, "%d min %02d s", int(seconds / 60), int(seconds) % 60);
  else std::snprintf(text, sizeof text, "%d h %02d min", int(seconds / 3600), int(seconds / 60) % 60);
  return text;
}

}  // namespace

ProgressLine::ProgressLine(std::string label, bool quiet)
    : label_(std::move(label)), enabled_(!quiet && ::isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()) {}

ProgressLine::~ProgressLine() {
  if (shown_) std::fputc('\n', stderr);
}

std::function<void(uint64_t, uint64_t)> ProgressLine::callback() {
  if (!enabled_) return {};
  return [this](uint64_t done, uint64_t total) { draw(done, total); };
}

void ProgressLine::relabel(std::string label) {
  label_ = std::move(label);
  start_ = std::chrono::steady_clock::now();
  last_draw_ = {};
}

void ProgressLine::draw(uint64_t done, uint64_t total) {
  const auto now = std::chrono::steady_clock::now();
  const bool finished = done >= total;
  if (!finished && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string line = label_ + ": ";
  char percent[16];
  std::snprintf(percent, sizeof percent, "%3.0f%% ", total ? 100.0 * double(done) / double(total) : 100.0);
  line += percent + bytes_text(double(done)) + " of " + bytes_text(double(total));
  if (elapsed > 0.5 && done > 0) {
    const double rate = double(done) / elapsed;
    line += ", " + bytes_text(rate) + "/s";
    if (!finished) line += ", " + seconds_text(double(total - done) / rate) + " left";
  }
  const size_t width = line.size();
  if (width < width_) line.append(width_ - width, ' ');
  width_ = width;
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
  shown_ = true;
}

}  // namespace tessera::cli
