// server.h — `tessera serve`: the TileService (service.h) over HTTP/1.1 with cpp-httplib, a
// pool of threads each serving one connection at a time, read-only, on 127.0.0.1 unless told
// otherwise.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "service.h"

namespace tessera::serve {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;             // 0: any free port (on_listening says which)
  unsigned threads = 64;       // connections served at once; more wait for a thread
  std::vector<std::pair<std::string, std::string>> statics;  // URL prefix, directory: files served as they are
  double stop_after = 0;       // seconds; 0: until SIGINT or SIGTERM
  ServiceOptions service;
  std::function<void(int port)> on_listening;  // once bound, before the first request
};

// Serves until SIGINT, SIGTERM or stop_after. kInvalidArgument (a directory that is not one),
// kIoError (the address cannot be bound: the message names it and the reason).
Status serve(const Container& container, const ServerOptions& options);

// The viewer's files, embedded at build time (empty when the build has none).
std::span<const EmbeddedFile> viewer_files();

}  // namespace tessera::serve
