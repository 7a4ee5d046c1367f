// export_file (tessera/convert.h): an export into the sink of the output's format.
#include <filesystem>
#include <string>

#include "tessera/convert.h"
#include "tessera/envi.h"
#include "tessera/tiff.h"
#include "util/text.h"

namespace tessera {

RasterFormat export_format(const std::string& out, RasterFormat requested) {
  if (requested != RasterFormat::kAuto) return requested;
  const std::string extension = detail::ascii_lower(std::filesystem::path(out).extension().string());
  return extension == ".tif" || extension == ".tiff" ? RasterFormat::kTiff : RasterFormat::kEnvi;
}

Status export_file(const Container& container, const std::string& out, const FileExportOptions& options) {
  switch (export_format(out, options.format)) {
    case RasterFormat::kTiff: {
      if (options.export_options.interleave != Interleave::kBIP)
        return Status(Code::kInvalidArgument,
                      out + ": a TIFF is written pixel-interleaved (bip), not " +
                          std::string(interleave_name(options.export_options.interleave)));
      auto sink = make_tiff_sink(out, options.tiff);
      return export_raster(container, *sink, options.export_options);
    }
    case RasterFormat::kEnvi: return export_envi(container, out, options.export_options);
    default:
      return Status(Code::kInvalidArgument,
                    out + ": cannot export as " + std::string(raster_format_name(options.format)));
  }
}

}  // namespace tessera
