// tessera/tessera.h — the whole public API of libtessera. The converters (tessera/io.h,
// tessera/envi.h) are a library of their own, libtessera-io (Tessera::io).
#pragma once

#include "tessera/container.h"
#include "tessera/iterator.h"
#include "tessera/status.h"
#include "tessera/types.h"
#include "tessera/verify.h"
#include "tessera/version.h"
