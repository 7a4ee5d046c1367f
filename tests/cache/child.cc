// tessera_test_cache_child — the other process of the shared tile cache tests
// (shared_cache_test.cc), driven by argv, reporting on stdout in lines.
//
//   put-loop NAME BYTES SLOT KEYS SEED   opens the cache, prints "ready", then puts random tiles
//                                        of ids [0, KEYS) forever (the test kills it mid-put)
//   check NAME BYTES SLOT KEYS SEED      gets random tiles, checks every hit's bytes and puts
//                                        the misses until stdin reaches EOF, then prints
//                                        "hits H misses M puts P stale S wrong W" (exit 2 if
//                                        any hit had wrong bytes)
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "cache/shared_tile_cache.h"
#include "cache/tile_pattern.h"

namespace {

using tessera::detail::SharedTileCache;
namespace pattern = tessera::test::tile_pattern;

void say(const std::string& line) {
  const std::string text = line + "\n";
  if (::write(1, text.data(), text.size()) != ssize_t(text.size())) std::exit(1);
}

bool stdin_closed() {
  pollfd p{0, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char c;
  return ::read(0, &c, 1) <= 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s put-loop|check NAME BYTES SLOT KEYS SEED\n", argv[0]);
    return 1;
  }
  const std::string mode = argv[1], name = argv[2];
  const uint64_t bytes = std::strtoull(argv[3], nullptr, 10);
  const uint32_t slot = uint32_t(std::strtoul(argv[4], nullptr, 10));
  const uint64_t keys = std::strtoull(argv[5], nullptr, 10);
  std::mt19937_64 rng(std::strtoull(argv[6], nullptr, 10));

  auto opened = SharedTileCache::open(name, bytes, slot);
  if (!opened) {
    std::fprintf(stderr, "cache child: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  SharedTileCache& cache = **opened;
  std::vector<uint8_t> buffer(slot);

  if (mode == "put-loop") {
    say("ready");
    for (;;) {
      const uint64_t id = rng() % keys;
      const size_t size = pattern::size_for(id, slot);
      pattern::fill(id, buffer.data(), size);
      cache.put(pattern::key_for(id), buffer.data(), size);
    }
  }
  if (mode != "check") return 1;
  say("ready");
  uint64_t wrong = 0;
  for (uint64_t i = 0;; ++i) {
    if (i % 64 == 0 && stdin_closed()) break;
    const uint64_t id = rng() % keys;
    const size_t size = pattern::size_for(id, slot);
    if (cache.get(pattern::key_for(id), buffer.data(), size)) {
      if (!pattern::matches(id, buffer.data(), size)) ++wrong;
    } else {
      pattern::fill(id, buffer.data(), size);
      cache.put(pattern::key_for(id), buffer.data(), size);
    }
  }
  const auto stats = cache.stats();
  say("hits " + std::to_string(stats.hits) + " misses " + std::to_string(stats.misses) +
      " puts " + std::to_string(stats.puts) + " stale " + std::to_string(stats.stale_recovered) +
      " wrong " + std::to_string(wrong));
  return wrong == 0 ? 0 : 2;
}
