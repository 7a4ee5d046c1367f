#include "server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>

#include <httplib.h>

namespace tessera::serve {
namespace {

// The write end of the pipe a stop signal is reported through (serve() waits on the other end).
volatile sig_atomic_t stop_pipe = -1;

void answer(const Response& r, httplib::Response& res) {
  res.status = r.status;
  for (const auto& [name, value] : r.headers) res.set_header(name, value);
  if (!r.etag.empty()) res.set_header("ETag", r.etag);
  if (!r.location.empty()) res.set_header("Location", r.location);
  res.set_header("Cache-Control", r.cache_control);
  res.set_header("Access-Control-Allow-Origin", "*");  // IIIF clients on other origins
  if (r.status == 304) return;
  res.set_content(r.body, r.content_type.c_str());
}

}  // namespace

Status serve(const Container& container, const ServerOptions& options) {
  httplib::Server server;
  for (const auto& [prefix, dir] : options.statics) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return Status(Code::kInvalidArgument, "--static " + prefix + "=" + dir + ": not a directory");
    if (!server.set_mount_point(prefix, dir))
      return Status(Code::kInvalidArgument, "--static " + prefix + "=" + dir + ": cannot be served");
  }
  const TileService service(container, options.service, viewer_files());
  const unsigned threads = std::max(1u, options.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_tcp_nodelay(true);  // a response's header and body go out at once, not 40 ms apart
  server.set_keep_alive_max_count(1000);
  server.set_keep_alive_timeout(2);  // an idle connection gives its thread back soon
  server.set_read_timeout(5, 0);
  server.set_write_timeout(10, 0);
  server.set_payload_max_length(1 << 16);
  const auto statics = options.statics;
  server.set_pre_routing_handler([&service, statics](const httplib::Request& req, httplib::Response& res) {
    for (const auto& [prefix, dir] : statics)  // "/dz" serves /dz/..., not /dzi/...
      if (req.path.rfind(prefix, 0) == 0 && (req.path.size() == prefix.size() || req.path[prefix.size()] == '/'))
        return httplib::Server::HandlerResponse::Unhandled;
    if (req.method != "GET" && req.method != "HEAD") {
      answer(Response{405, "text/plain; charset=utf-8", "only GET and HEAD are served\n"}, res);
      res.set_header("Allow", "GET, HEAD");
      return httplib::Server::HandlerResponse::Handled;
    }
    RequestInfo info;
    info.if_none_match = req.get_header_value("If-None-Match");
    info.host = req.get_header_value("Host");
    if (info.host.empty()) info.host = "127.0.0.1";
    answer(service.handle(req.target, info), res);
    return httplib::Server::HandlerResponse::Handled;
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    answer(Response{500, "text/plain; charset=utf-8", "internal error\n"}, res);
  });

  const int port = options.port == 0 ? server.bind_to_any_port(options.bind) : options.port;
  if (options.port != 0 && !server.bind_to_port(options.bind, options.port))
    return Status(Code::kIoError, "cannot listen on " + options.bind + ":" + std::to_string(options.port) + ": " +
                                      std::strerror(errno));
  if (port < 0) return Status(Code::kIoError, "cannot listen on " + options.bind + ": " + std::strerror(errno));

  // SIGINT and SIGTERM (and the time limit) stop the server from a thread of its own: a signal
  // handler may only write to the pipe that thread waits on (whichever thread the signal hit).
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0)
    return Status(Code::kIoError, std::string("cannot make a pipe: ") + std::strerror(errno));
  stop_pipe = pipe_fds[1];
  struct sigaction action {}, old_int {}, old_term {};
  action.sa_handler = [](int) {
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(stop_pipe, &byte, 1);
  };
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &old_int);
  ::sigaction(SIGTERM, &action, &old_term);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    const auto start = std::chrono::steady_clock::now();
    while (!done) {
      pollfd wait{pipe_fds[0], POLLIN, 0};
      if (::poll(&wait, 1, 200) > 0) break;
      if (options.stop_after > 0 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= options.stop_after)
        break;
    }
    server.stop();
  });
  if (options.on_listening) options.on_listening(port);
  const bool listened = server.listen_after_bind();
  done = true;
  watcher.join();
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  stop_pipe = -1;
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  if (!listened) return Status(Code::kIoError, "the server on " + options.bind + " stopped: " + std::strerror(errno));
  return Status::ok();
}

}  // namespace tessera::serve
