// Import progress records (spec/FORMAT.md section 4.1: meta keys "import/" | image | frame):
// where an importer stands in each frame it imports into, committed with its pixels.
#pragma once

#include <vector>

#include "store/env.h"

namespace tessera::detail {

// The records of `image`, frame order.
Result<std::vector<ImportProgress>> read_import_records(const Txn& txn, const ImageInfo& image);
Status put_import_record(Txn& txn, const ImageInfo& image, const ImportProgress& progress);

}  // namespace tessera::detail
