// Reading FlatBuffers records out of LMDB values, the one way every parser does it: a record is
// verified in an aligned copy (LMDB values are only 2-byte aligned, FlatBuffers wants more),
// and vectors of 8-byte scalars are copied out bytewise (the Verifier checks a vector's length
// field, 4-byte aligned, but not that 8-byte elements are 8-byte aligned: a crafted record may
// place them anywhere, and reading them in place would be a misaligned load).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <vector>

#include "util/bytes.h"

namespace tessera::detail {

// The root of `data` as a T, in this thread's aligned copy of it (valid until the thread's next
// call for a T); nullptr when the Verifier refuses it.
template <typename T>
const T* verified_root(const uint8_t* data, size_t size) {
  thread_local AlignedBuffer copy;
  copy.resize(size ? size : 1);
  if (size) std::memcpy(copy.data(), data, size);
  flatbuffers::Verifier verifier(copy.data(), size);
  if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<T>(copy.data());
}

template <typename T>
std::vector<T> copy_vector(const flatbuffers::Vector<T>& v) {
  std::vector<T> out(v.size());
  if (!out.empty()) std::memcpy(out.data(), v.Data(), out.size() * sizeof(T));
  return out;
}

}  // namespace tessera::detail
