#include "store/import_records.h"

#include <cstring>

#include "format/records.h"
#include "util/bytes.h"

namespace tessera::detail {

Result<std::vector<ImportProgress>> read_import_records(const Txn& txn, const ImageInfo& image) {
  std::vector<ImportProgress> found;
  const std::vector<uint8_t> start = import_record_key(image.id, 0);
  Cursor cursor(txn, txn.env().meta);
  TESSERA_RETURN_IF_ERROR(cursor.status());
  MDB_val k = to_val(start), v;
  for (auto r = cursor.get(&k, &v, MDB_SET_RANGE);; r = cursor.get(&k, &v, MDB_NEXT)) {
    if (!r) return r.status();
    // The keys of this image: the prefix and its id (the frame is the last 4 bytes).
    if (!*r || k.mv_size != start.size() || std::memcmp(k.mv_data, start.data(), start.size() - 4) != 0) break;
    auto progress = parse_import_record(bytes_of(v), v.mv_size);
    if (!progress) return progress.status().with_context(txn.env().path() + ": image '" + image.name + "'");
    progress->frame = get_be32(bytes_of(k) + kImportKeyPrefixSize + 4);
    found.push_back(std::move(*progress));
  }
  return found;
}

Status put_import_record(Txn& txn, const ImageInfo& image, const ImportProgress& progress) {
  if (progress.blocks_done > progress.blocks_total || progress.bytes_done > progress.bytes_total)
    return txn.env().error(Code::kInvalidArgument, "import progress beyond its total");
  return txn.put(txn.env().meta, import_record_key(image.id, progress.frame), build_import_record(progress));
}

}  // namespace tessera::detail
