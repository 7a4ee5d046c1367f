// tessera/export.h — which symbols the shared libraries export.
//
// The libraries are built with hidden visibility: only what is marked TESSERA_API is part of
// the ABI. Internals stay private, so a binding or a consumer cannot come to depend on them.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define TESSERA_API [[gnu::visibility("default")]]
#else
#define TESSERA_API
#endif
