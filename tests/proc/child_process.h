// child_process.h — runs tessera_test_child (or the CLI) as a real process with pipes on its
// stdin and stdout; stderr is shared with the test so that the child's complaints show in the
// test log. posix_spawn + exec: nothing of the test process (no Container) lives on in it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace tessera::test {

class ChildProcess {
 public:
  // Starts `program` with `args`; check ok() (error() says why not).
  ChildProcess(const std::string& program, const std::vector<std::string>& args) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      error_ = std::string("pipe: ") + std::strerror(errno);
      return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::vector<std::string> all = {program};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    if (rc != 0) {
      error_ = "cannot run " + program + ": " + std::strerror(rc);
      pid_ = -1;
    }
  }
  ~ChildProcess() {
    if (pid_ > 0 && !waited_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    close_stdin();
    if (stdout_ >= 0) ::close(stdout_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  pid_t pid() const { return pid_; }

  // The next line of stdout (without "\n"); nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const size_t end = buffer_.find('\n');
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      if (eof_) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, int(left.count())) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
      if (n > 0) buffer_.append(chunk, size_t(n));
      else if (n == 0 || errno != EINTR) eof_ = true;
    }
  }
  // Every remaining line until EOF (the child exits or dies).
  std::vector<std::string> read_all_lines() {
    std::vector<std::string> lines;
    while (auto line = read_line()) lines.push_back(*line);
    if (!buffer_.empty()) lines.push_back(buffer_);  // a last line without "\n"
    buffer_.clear();
    return lines;
  }

  void write_stdin(const std::string& text) {
    if (stdin_ >= 0 && ::write(stdin_, text.data(), text.size()) < 0) close_stdin();
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }
  void kill(int signal) {
    if (pid_ > 0 && !waited_) ::kill(pid_, signal);
  }
  // True while the process has not exited (does not reap it).
  bool running() {
    if (pid_ <= 0 || waited_) return false;
    siginfo_t info{};
    return ::waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  }
  // Waits for the exit; the raw wait status.
  int wait() {
    if (pid_ <= 0) return -1;
    if (!waited_) {
      while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
      }
      waited_ = true;
    }
    return status_;
  }
  // The exit code, or 128 + signal for a killed process.
  int exit_code() {
    const int status = wait();
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1;
  std::string buffer_;
  bool eof_ = false;
  bool waited_ = false;
  int status_ = 0;
  std::string error_;
};

}  // namespace tessera::test
