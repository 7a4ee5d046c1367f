// tessera/tessera.h — the whole public API.
#pragma once

#include "tessera/container.h"
#include "tessera/envi.h"
#include "tessera/iterator.h"
#include "tessera/status.h"
#include "tessera/types.h"
#include "tessera/verify.h"
#include "tessera/version.h"
