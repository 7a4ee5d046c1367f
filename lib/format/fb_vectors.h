// FlatBuffers vectors of 8-byte scalars copied out bytewise: the Verifier checks a vector's
// length field (4-byte aligned) but not that its elements are 8-byte aligned, and a crafted
// record may place them anywhere (reading them in place would be a misaligned load).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <vector>

namespace tessera::detail {

template <typename T>
std::vector<T> copy_vector(const flatbuffers::Vector<T>& v) {
  std::vector<T> out(v.size());
  if (!out.empty()) std::memcpy(out.data(), v.Data(), out.size() * sizeof(T));
  return out;
}

}  // namespace tessera::detail
