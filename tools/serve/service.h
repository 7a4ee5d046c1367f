// service.h — the answers of `tessera serve`, on the public API: one request target in, one
// HTTP response out, each request against a snapshot of its own (a commit of another process
// shows on the next request). No socket here: server.cc puts this behind cpp-httplib, and the
// tests and the fuzz target call it directly.
//
// Which pixels: a Deep Zoom or IIIF image is the frame's extent (View::extent; else the tiles
// holding its data, Precision::kLeaf), level L of it is pyramid level L, read from the pyramid where the frame has
// built it and made on the fly from the finest built level below (View::read_reduced) up to
// ServiceOptions::max_reduction levels above it. ETags are View::content_tag of what a
// response shows plus how it is rendered: a tile whose tiles did not change keeps its ETag
// across commits, and If-None-Match is answered 304 before anything is decoded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iiif.h"
#include "routes.h"
#include "tessera/tessera.h"

namespace tessera::serve {

struct ServiceOptions {
  uint32_t max_reduction = 3;  // levels made on the fly above the finest built one (each 4 x the reads)
  PictureLimits limits;        // the largest picture out (IIIF maxWidth, maxHeight, maxArea)
  uint64_t max_read_bytes = uint64_t(256) << 20;  // samples one request may read at its level
  uint64_t memory_bytes = uint64_t(1) << 30;      // samples all requests together may hold; others wait
};

// A file of the viewer, embedded at build time (viewer_files.cc).
struct EmbeddedFile {
  std::string_view name, content_type;
  std::span<const unsigned char> data;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string etag;           // quoted; empty for none
  std::string cache_control = "no-cache";  // every answer may change with the next commit
  std::string location;       // a redirect's target
  std::vector<std::pair<std::string, std::string>> headers;
};

// What the service needs of the request besides its target.
struct RequestInfo {
  std::string if_none_match;   // the header, as sent
  std::string host = "127.0.0.1";  // the Host header: IIIF ids are absolute URIs
};

class TileService {
 public:
  TileService(const Container& container, ServiceOptions options, std::span<const EmbeddedFile> viewer);
  ~TileService();
  // Never throws; every failure is a 4xx or 5xx response with a one-line message.
  Response handle(std::string_view target, const RequestInfo& request) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The HTTP status of a Status code: 400 invalid argument, 404 not found, 503 busy, 500 the rest.
int http_status(Code code);

}  // namespace tessera::serve
