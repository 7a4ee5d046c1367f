// XXH3 for every checksum and content hash of the library. On x86 the calls go to libxxhash's
// runtime-dispatched versions (xxh_x86dispatch.h: AVX2 or AVX-512 where the CPU has them,
// the same values as the portable code), so a build for generic x86-64 still hashes at the
// machine's speed: a chunk's checksum is verified on every read.
#pragma once

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xxh_x86dispatch.h>
#endif
