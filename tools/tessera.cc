// tessera — the command-line tool: create, import, export, attr, info, frames, geometry,
// pyramid, serve, ls, dump, recompress, merge, map, materialize, compact and verify over the
// public API.
//
// Scripts rely on this file's contract: the subcommand and option names, a single
// "tessera: <message>" line on stderr for every error, nothing written on error, and exit
// codes 0 (success), 1 (the operation failed) and 2 (the command line is wrong), never 128 or
// more. verify exits 1 also when it found faults (its report is on stdout, not an error line).
// It uses only the public API (tessera/tessera.h): logic two subcommands would share belongs in
// the library, not here.
//
// kProgram, at the end, is the command line: one row per subcommand (synopsis, summary, options)
// from which command_line.cc makes the usage, the dispatch and `tessera SUB --help`. Mistakes in
// the command line are thrown as cli::UsageError (exit code 2); everything the library reports
// stays a Status and is turned into exit code 1 by fail().
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "command_line.h"
#include "progress_line.h"
#include "serve/server.h"
#include "tessera/convert.h"
#include "tessera/envi.h"
#include "tessera/tessera.h"

namespace {

using namespace tessera;
using Json = nlohmann::ordered_json;
using cli::UsageError;

constexpr int kExitFailure = 1;

// Prints the one error line and returns the failure exit code.
int fail(const Status& status) {
  std::string message = status.message().empty() ? status.to_string() : status.message();
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "tessera: %s\n", message.c_str());
  return kExitFailure;
}

// A JSON report as printed: indented, a final newline; bytes that are not UTF-8 (attribute
// texts keep whatever bytes a source had) are replaced rather than failing the report.
std::string json_text(const Json& report) {
  return report.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

int print(const std::string& text);

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// --region X,Y,W,H, when given.
Filter filter_option(const std::string& text) {
  auto filter = parse_filter(text);
  if (!filter) throw UsageError{"--filter: " + filter.status().message()};
  return *filter;
}

std::optional<Region> region_option(const cli::Args& args) {
  auto region = args.value("--region");
  if (!region) return std::nullopt;
  const auto r = cli::parse_number_list<int64_t>(*region, 4, "--region", "X,Y,W,H");
  return Region{r[0], r[1], r[2], r[3]};
}

// The image --image names, or the container's only one.
Result<std::string> image_option(const Container& container, const cli::Args& args) {
  auto snapshot = container.snapshot();
  if (!snapshot) return snapshot.status();
  auto info = snapshot->image_or_only(args.value("--image").value_or(""));
  if (!info) return info.status();
  return info->name;
}

// ---------------------------------------------------------------------------------------------
// Subcommands

int run_create(const cli::Args& args) {
  auto container = Container::create(args.positional(0));
  return container ? 0 : fail(container.status());
}

int run_import(const cli::Args& args) {
  const std::string& file = args.positional(0);
  const std::string& src = args.positional(1);
  FileImportOptions options;
  ImportOptions& import = options.import;
  import.image = cli::required_text(args, "--image");
  if (auto frame = args.value("--frame")) import.frame = cli::parse_number<uint32_t>(*frame, "--frame");
  if (auto tile = args.value("--tile")) {
    import.tile_size = cli::parse_number<uint32_t>(*tile, "--tile");
    if (!std::has_single_bit(import.tile_size) || import.tile_size < 16 || import.tile_size > 4096)
      throw UsageError{"--tile: " + *tile + " is not a power of two from 16 to 4096"};
  }
  if (auto storage = args.value("--storage")) {
    auto layout = parse_storage_layout(*storage);
    if (!layout) throw UsageError{"--storage: " + layout.status().message()};
    import.storage = *layout;
  }
  if (auto batch = args.value("--batch")) {
    import.batch_bytes = cli::parse_number<uint64_t>(*batch, "--batch");
    if (import.batch_bytes == 0) throw UsageError{"--batch: a batch of 0 bytes"};
  }
  import.resume = args.flag("--resume");
  // A name the user did not choose must not land in an image another source made.
  import.new_image_only = !args.value("--image") && !args.flag("--update");
  if (auto codec = args.value("--codec")) {
    auto spec = parse_codec_spec(*codec);
    if (!spec) throw UsageError{"--codec: " + spec.status().message()};
    import.codec = *spec;
  }
  if (auto filter = args.value("--filter")) import.filter = filter_option(*filter);
  if (auto origin = args.value("--origin")) {
    const auto xy = cli::parse_number_list<int64_t>(*origin, 2, "--origin", "X,Y");
    import.origin_x = xy[0];
    import.origin_y = xy[1];
  }
  if (auto format = args.value("--format")) {
    auto parsed = parse_raster_format(*format);
    if (!parsed) throw UsageError{"--format: " + parsed.status().message()};
    options.format = *parsed;
  }
  if (auto pages = args.value("--pages-as")) {
    if (*pages == "frames") options.pages = FileImportOptions::Pages::kFrames;
    else if (*pages == "images") options.pages = FileImportOptions::Pages::kImages;
    else throw UsageError{"--pages-as: expected frames or images, not '" + *pages + "'"};
  }
  options.tiff.expand_palette = args.flag("--expand-palette");
  options.associated_images = !args.flag("--no-associated");
  const bool quiet = args.flag("--quiet");

  // Every source is opened and checked before FILE is created or touched.
  auto plan = plan_import(src, options);
  if (!plan) return fail(plan.status());
  const bool created = !path_exists(file);
  std::optional<Container> container;
  {
    auto opened = created ? Container::create(file) : Container::open(file);
    if (!opened) return fail(opened.status());
    container.emplace(std::move(opened).value());
  }
  cli::ProgressLine progress("import " + src, quiet);
  std::string report;
  for (ImportJob& job : plan->jobs) {
    if (plan->jobs.size() > 1) progress.relabel("import " + src + " -> " + job.options.image);
    job.options.progress = progress.callback();
    auto result = import_raster(*container, *job.source, job.options);
    if (!result) {
      // FILE stays even when this run created it and committed nothing: another process may
      // have opened it since (an import waiting for the write lock would commit into a removed
      // file). Committed batches stay too: `--resume` goes on from them.
      const int code = fail(result.status());
      auto snapshot = container->snapshot();
      if (created && snapshot && snapshot->images().empty())
        std::fprintf(stderr, "tessera: note: %s was created for this import and is left in place, empty\n",
                     file.c_str());
      return code;
    }
    const ImportProgress& p = result->progress;
    if (result->already_finished)
      report += "import of " + p.source + " frame " + std::to_string(p.frame) + " finished already: nothing to do\n";
    else if (result->blocks_skipped)
      report += "import of " + p.source + " frame " + std::to_string(p.frame) + " resumed after " +
                std::to_string(result->blocks_skipped) + " of " + std::to_string(p.blocks_total) + " blocks\n";
  }
  if (!quiet)
    for (const std::string& note : plan->notes) report += "note: " + note + "\n";
  return print(report);
}

// The imports into `image` (one frame, or every frame) that did not finish: what each holds and
// the command that completes it. An unfinished import looks like data: say so wherever it shows.
Result<Json> unfinished_imports(const View& view, const std::string& file, const ImageInfo& info,
                                std::optional<uint32_t> frame = std::nullopt) {
  auto imports = view.imports(info.name);
  if (!imports) return imports.status();
  Json out = Json::array();
  for (const ImportProgress& p : *imports) {
    if (p.finished() || (frame && p.frame != *frame)) continue;
    out.push_back({{"frame", p.frame},
                   {"source", p.source},
                   {"blocks_done", p.blocks_done},
                   {"blocks_total", p.blocks_total},
                   {"resume", "tessera import " + file + " " + p.source + " --image " + info.name + " --frame " +
                                  std::to_string(p.frame) + " --resume"}});
  }
  return out;
}
std::string unfinished_text(const Json& u) {
  return "frame " + u["frame"].dump() + " holds an unfinished import of " + u["source"].get<std::string>() + " (" +
         u["blocks_done"].dump() + " of " + u["blocks_total"].dump() + " blocks): " + u["resume"].get<std::string>() +
         " completes it";
}

// While an export runs, SIGINT and SIGTERM remove the partial outputs (OUT.part, and ENVI's
// OUT.hdr.part) before the process dies as the signal says: an interrupted export leaves
// nothing behind, as a failed one does. The handler only unlinks (async-signal-safe).
class RemovePartsOnSignal {
 public:
  explicit RemovePartsOnSignal(const std::string& out) {
    std::snprintf(parts_[0], sizeof parts_[0], "%s.part", out.c_str());
    std::snprintf(parts_[1], sizeof parts_[1], "%s.hdr.part", out.c_str());
    struct sigaction action {};
    action.sa_handler = &handle;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < 2; ++i) ::sigaction(kSignals[i], &action, &previous_[i]);
  }
  ~RemovePartsOnSignal() {
    for (int i = 0; i < 2; ++i) ::sigaction(kSignals[i], &previous_[i], nullptr);
  }
  RemovePartsOnSignal(const RemovePartsOnSignal&) = delete;
  RemovePartsOnSignal& operator=(const RemovePartsOnSignal&) = delete;

 private:
  static void handle(int signal) {
    for (const char* part : parts_) ::unlink(part);
    ::signal(signal, SIG_DFL);
    ::raise(signal);
  }
  static constexpr int kSignals[2] = {SIGINT, SIGTERM};
  static inline char parts_[2][4096] = {};
  struct sigaction previous_[2] {};
};

int run_export(const cli::Args& args) {
  FileExportOptions file_options;
  ExportOptions& options = file_options.export_options;
  options.image = cli::required_text(args, "--image");
  if (auto frame = args.value("--frame")) options.frame = cli::parse_number<uint32_t>(*frame, "--frame");
  if (auto level = args.value("--level")) options.level = cli::parse_number<uint32_t>(*level, "--level");
  if (args.value("--region") == "data") options.data_bounds = true;
  else options.region = region_option(args);
  if (auto bands = args.value("--bands"))
    options.bands = cli::parse_number_list<uint32_t>(*bands, 0, "--bands", "band numbers I,J,...");
  if (auto interleave = args.value("--interleave")) {
    auto parsed = parse_interleave(*interleave);
    if (!parsed) throw UsageError{"--interleave: " + parsed.status().message()};
    options.interleave = *parsed;
  }
  if (auto format = args.value("--format")) {
    auto parsed = parse_raster_format(*format);
    if (!parsed || *parsed == RasterFormat::kOpenSlide)
      throw UsageError{"--format: expected envi or tiff, not '" + *format + "'"};
    file_options.format = *parsed;
  }
  const std::string& out = args.positional(1);
  const bool tiff = export_format(out, file_options.format) == RasterFormat::kTiff;
  for (const char* option : {"--compression", "--tile", "--bigtiff"})
    if (!tiff && args.value(option))
      throw UsageError{std::string("export: ") + option + " applies to TIFF output (OUT.tif or --format tiff)"};
  if (tiff && args.value("--interleave"))
    throw UsageError{"export: --interleave applies to ENVI output: a TIFF is pixel-interleaved"};
  if (auto compression = args.value("--compression")) {
    const Status parsed = parse_tiff_compression(*compression, &file_options.tiff);
    if (!parsed) throw UsageError{"--compression: " + parsed.message()};
  }
  if (auto tile = args.value("--tile")) file_options.tiff.tile_size = cli::parse_number<uint32_t>(*tile, "--tile");
  if (auto bigtiff = args.value("--bigtiff")) {
    using BigTiff = TiffSinkOptions::BigTiff;
    if (*bigtiff == "auto") file_options.tiff.bigtiff = BigTiff::kAuto;
    else if (*bigtiff == "yes") file_options.tiff.bigtiff = BigTiff::kYes;
    else if (*bigtiff == "no") file_options.tiff.bigtiff = BigTiff::kNo;
    else throw UsageError{"--bigtiff: expected auto, yes or no, not '" + *bigtiff + "'"};
  }

  OpenOptions open_options;
  open_options.read_only = true;
  auto container = Container::open(args.positional(0), open_options);
  if (!container) return fail(container.status());
  {
    // An unfinished import: the export lacks what did not arrive. A warning, or with --strict
    // a refusal.
    auto snapshot = container->snapshot();
    if (!snapshot) return fail(snapshot.status());
    auto info = snapshot->image_or_only(options.image);
    if (!info) return fail(info.status());
    auto unfinished = unfinished_imports(*snapshot, args.positional(0), *info, options.frame);
    if (!unfinished) return fail(unfinished.status());
    for (const Json& u : *unfinished) {
      const std::string what = "image '" + info->name + "' " + unfinished_text(u);
      if (args.flag("--strict")) return fail(Status(Code::kInvalidArgument, what + ": not exported (--strict)"));
      std::fprintf(stderr, "tessera: warning: %s: the export lacks what did not arrive\n", what.c_str());
    }
    // A region far larger than the data and the extent (a mistyped size) would write mostly fill.
    if (options.region && !args.flag("--force")) {
      auto bounds = snapshot->bounds(info->name, options.frame);
      if (!bounds) return fail(bounds.status());
      auto extent = snapshot->extent(info->name, options.frame);
      if (!extent) return fail(extent.status());
      const auto at_level = [&](const std::optional<Region>& r) {
        return r ? level_region(*r, options.level).pixel_count() : 0;
      };
      const uint64_t known = std::max(at_level(*bounds), at_level(*extent));
      const uint64_t asked = options.region->pixel_count();
      const double bytes = double(asked) * double(info->pixel_bytes());
      if (bytes > double(uint64_t(1) << 30) && double(asked) > 4.0 * double(known)) {
        const auto text = [&](const std::optional<Region>& r) {
          return r ? to_string(level_region(*r, options.level)) : std::string("none");
        };
        char size[32];
        std::snprintf(size, sizeof size, "%.1f GB", bytes / 1e9);
        return fail(Status(Code::kInvalidArgument,
                           "region " + to_string(*options.region) + " is " + size +
                               ", over 4 times the data's bounds (" + text(*bounds) + ") and the extent (" +
                               text(*extent) + "): mostly fill; pass --force to export it"));
      }
    }
  }
  RemovePartsOnSignal cleanup(out);
  cli::ProgressLine progress("export " + out, args.flag("--quiet"));
  options.progress = progress.callback();
  const Status status = export_file(*container, out, file_options);
  return status ? 0 : fail(status);
}

// ---------------------------------------------------------------------------------------------
// Attributes

// A value as JSON: text as a string, numbers as numbers (a real that is not finite as the
// string "nan", "inf" or "-inf", which JSON has no number for), lists as arrays.
Json attribute_json(const AttributeValue& value) {
  auto real = [](double v) { return std::isfinite(v) ? Json(v) : Json(format_attribute_value(v)); };
  switch (value.index()) {
    case 0: return std::get<0>(value);
    case 1: return std::get<1>(value);
    case 2: return real(std::get<2>(value));
    case 3: return std::get<3>(value);
    case 4: return std::get<4>(value);
    default: {
      Json list = Json::array();
      for (double v : std::get<5>(value)) list.push_back(real(v));
      return list;
    }
  }
}

Json attributes_json(const Attributes& attributes) {
  Json object = Json::object();
  for (const Attribute& a : attributes) object[a.name] = attribute_json(a.value);
  return object;
}

// "name = value" lines (the text syntax of tessera/attributes.h), each value cut to `limit`
// characters when limit is not 0.
std::string attributes_text(const Attributes& attributes, const std::string& indent, size_t limit) {
  std::string out;
  for (const Attribute& a : attributes) {
    std::string value = format_attribute_value(a.value);
    for (char& c : value)
      if (c == '\n' || c == '\r') c = ' ';
    if (limit && value.size() > limit)
      value = value.substr(0, limit) + "... (" + std::to_string(value.size()) + " characters)";
    out += indent + a.name + " = " + value + "\n";
  }
  return out;
}

// A ratio for reports; null when the denominator is zero (nothing to compare).
Json ratio(uint64_t numerator, uint64_t denominator) {
  if (denominator == 0) return nullptr;
  return double(numerator) / double(denominator);
}

// The fill value of each band exactly as stored: integers as JSON integers (a 64-bit fill above
// 2^53 would not survive a double), floats as numbers (null for NaN, which JSON lacks).
Json fill_json(const ImageInfo& info) {
  Json out = Json::array();
  const size_t s = sample_size(info.spec.type);
  for (uint32_t b = 0; b < info.spec.bands; ++b) {
    const uint8_t* p = info.fill_pixel.data() + size_t(b) * s;
    uint64_t bits = 0;
    for (size_t i = 0; i < s; ++i) bits |= uint64_t(p[i]) << (8 * i);
    const unsigned shift = unsigned(64 - 8 * s);
    switch (info.spec.type) {
      case DataType::kU8: case DataType::kU16: case DataType::kU32: case DataType::kU64:
        out.push_back(bits);
        break;
      case DataType::kI8: case DataType::kI16: case DataType::kI32: case DataType::kI64:
        out.push_back(int64_t(bits << shift) >> shift);  // sign-extended
        break;
      case DataType::kF32: {
        float f;
        const uint32_t b32 = uint32_t(bits);
        std::memcpy(&f, &b32, 4);
        out.push_back(double(f));
        break;
      }
      case DataType::kF64: {
        double d;
        std::memcpy(&d, &bits, 8);
        out.push_back(d);
        break;
      }
    }
  }
  return out;
}

// Everything info reports about one image. Tile and byte counts describe the image's last
// frame (the one a viewer shows), named by "stats_frame" (null when the image has no frame).
//  compression_ratio = bytes_raw / bytes_stored: what the frame's stored tiles would take
//    decoded over what they take in the file (chunk records counted once, plus tile records),
//    so uniform tiles and dedup count as savings too.
//  dedup_ratio = tiles_chunk / chunks_unique: how many tiles share each stored chunk on
//    average (1 when no tile is a duplicate), i.e. the raw bytes of every chunk reference over
//    the raw bytes of the distinct chunks. Counted in tiles rather than from bytes_chunk_refs
//    because a chunk is always one whole tile, and the tile counts mean the same whatever
//    bytes_chunk_refs measures (raw or stored bytes per reference).
Json region_json(const std::optional<Region>& r) {
  if (!r) return Json(nullptr);
  return Json{{"x", r->x}, {"y", r->y}, {"width", r->width}, {"height", r->height}};
}

std::optional<Region> json_region(const Json& r) {
  if (r.is_null()) return std::nullopt;
  return Region{r["x"].get<int64_t>(), r["y"].get<int64_t>(), r["width"].get<int64_t>(), r["height"].get<int64_t>()};
}

// A mapped image's definition, and the boxes its sources give it.
Result<Json> describe_mapped(const View& view, const ImageInfo& info) {
  auto spec = view.mapped(info.name);
  if (!spec) return spec.status();
  Json sources = Json::array();
  for (const MappedSource& s : spec->sources)
    sources.push_back({{"image", s.image},
                       {"frame", s.frame},
                       {"bands", s.bands.empty() ? Json(nullptr) : Json(s.bands)},
                       {"affine", to_string(s.transform)}});
  Json image = {{"name", info.name}, {"mapped", true}, {"sources", sources},
                {"blend", blend_name(spec->blend)}, {"resampling", interpolation_name(spec->interpolation)}};
  // Where the sources are at fault (one gone, a frame dropped), the definition alone.
  auto bounds = view.bounds(info.name, 0, Precision::kLeaf);
  if (!bounds) {
    image["error"] = bounds.status().message();
    return image;
  }
  auto extent = view.extent(info.name);
  if (!extent) return extent.status();
  auto pyramid = view.pyramid(info.name);
  if (!pyramid) return pyramid.status();
  image.update({{"dtype", data_type_name(info.spec.type)}, {"bands", info.spec.bands},
                {"tile_size", info.spec.tile_size}, {"fill", fill_json(info)}, {"frames", 1},
                {"bounds", region_json(*bounds)}, {"extent", region_json(*extent)},
                {"pyramid", {{"levels", pyramid->levels}}}});
  return image;
}

std::string format_mapped(const Json& image) {
  std::string out = "\nmapped image '" + image["name"].get<std::string>() + "'\n";
  auto line = [&out](const char* key, const std::string& value) {
    char label[32];
    std::snprintf(label, sizeof label, "  %-13s ", key);
    out += label + value + "\n";
  };
  for (const Json& s : image["sources"])
    line("source:", "'" + s["image"].get<std::string>() + "' frame " + s["frame"].dump() +
                        (s["bands"].is_null() ? "" : " bands " + s["bands"].dump()) + " affine " +
                        s["affine"].get<std::string>());
  line("blend:", image["blend"].get<std::string>());
  line("resampling:", image["resampling"].get<std::string>());
  if (image.contains("error")) {
    line("error:", image["error"].get<std::string>());
    return out;
  }
  line("dtype:", image["dtype"].get<std::string>());
  line("bands:", image["bands"].dump());
  line("tile_size:", image["tile_size"].dump());
  const auto region = [](const Json& r, const char* none) {
    const std::optional<Region> box = json_region(r);
    return box ? to_string(*box) + " (x,y,WxH)" : std::string(none);
  };
  line("extent:", region(image["extent"], "none"));
  line("bounds:", region(image["bounds"], "empty"));
  const uint32_t levels = image["pyramid"]["levels"].get<uint32_t>();
  line("pyramid:", levels ? "levels 1.." + std::to_string(levels) + " (every source has them)" : std::string("none"));
  return out;
}

Result<Json> describe_image(const View& view, const ImageInfo& info) {
  if (info.mapped) return describe_mapped(view, info);
  const ImageSpec& spec = info.spec;
  Json image = {
      {"name", info.name},
      {"dtype", data_type_name(spec.type)},
      {"bands", spec.bands},
      {"tile_size", spec.tile_size},
      {"macro_tiles", spec.macro_tiles},
      {"storage", storage_layout_name(spec.storage)},
      {"codec", codec_spec_name(spec.codec)},
      {"filter", std::string(filter_name(spec.filter))},
      {"fill", fill_json(info)},
      {"frames", info.frames},
  };
  ImageStats stats;
  std::optional<Region> bounds, extent;
  if (info.frames > 0) {
    const uint32_t frame = info.frames - 1;
    auto frame_stats = view.stats(info.name, frame);
    if (!frame_stats) return frame_stats.status();
    stats = *frame_stats;
    auto frame_bounds = view.bounds(info.name, frame, Precision::kExact);
    if (!frame_bounds) return frame_bounds.status();
    bounds = *frame_bounds;
    auto frame_extent = view.extent(info.name, frame);
    if (!frame_extent) return frame_extent.status();
    extent = *frame_extent;
    image["stats_frame"] = frame;
    auto pyramid = view.pyramid(info.name, frame);
    if (!pyramid) return pyramid.status();
    image["pyramid"] = {{"levels", pyramid->levels},
                        {"resampling", resampling_name(pyramid->resampling)},
                        {"unfinished_target", pyramid->target ? Json(pyramid->target) : Json(nullptr)}};
  } else {
    image["stats_frame"] = nullptr;
  }
  image["bounds"] = region_json(bounds);
  image["extent"] = region_json(extent);
  image["tiles_uniform"] = stats.tiles_uniform;
  image["tiles_chunk"] = stats.tiles_chunk;
  image["chunks_unique"] = stats.chunks_unique;
  image["bytes_raw"] = stats.bytes_raw;
  image["bytes_stored"] = stats.bytes_stored;
  image["bytes_chunk_refs"] = stats.bytes_chunk_refs;
  image["compression_ratio"] = ratio(stats.bytes_raw, stats.bytes_stored);
  image["dedup_ratio"] = ratio(stats.tiles_chunk, stats.chunks_unique);
  auto unfinished = unfinished_imports(view, view.path(), info);
  if (!unfinished) return unfinished.status();
  image["unfinished_imports"] = std::move(*unfinished);
  return image;
}

std::string format_bytes(uint64_t bytes) {
  char text[64];
  std::snprintf(text, sizeof text, "%llu (%.1f MiB)", static_cast<unsigned long long>(bytes),
                double(bytes) / (1024.0 * 1024.0));
  return text;
}

std::string format_ratio(const Json& value, const char* meaning) {
  if (value.is_null()) return "-";
  char text[96];
  std::snprintf(text, sizeof text, "%.2f (%s)", value.get<double>(), meaning);
  return text;
}

// The open snapshots of every process. "warning" (null when none) says when the oldest is
// more than `lag_limit` commits old, as OpenOptions::on_reader_lag would.
Json describe_readers(const ReaderReport& readers, uint64_t lag_limit) {
  const OpenReader* oldest = readers.oldest();
  return Json{
      {"open", readers.readers.size()},
      {"last_commit", readers.last_commit},
      {"oldest", oldest ? Json{{"pid", oldest->pid},
                               {"commit", oldest->commit},
                               {"age_commits", oldest->age}}
                        : Json(nullptr)},
      {"pinned_pages", readers.pinned_pages},
      {"pinned_bytes", readers.pinned_pages * readers.page_size},
      {"warning", readers.lagging(lag_limit) ? Json(readers.warning()) : Json(nullptr)},
  };
}

// The text form of info: one block per image, the same facts as the JSON (`attributes`: each
// image's, in report order, whose values the text shows in the text syntax, cut short).
std::string format_info(const Json& report, const std::vector<Attributes>& attributes) {
  std::string out = "file: " + report["file"].get<std::string>() + "\n";
  out += "format: " + report["format"].get<std::string>() + "\n";
  const Json& pool = report["pool"];
  out += "chunk pool: " + pool["chunks"].dump() + " unique chunks, " + pool["references"].dump() +
         " references, " + format_bytes(pool["bytes_stored"].get<uint64_t>()) + " stored, " +
         format_bytes(pool["bytes_saved"].get<uint64_t>()) + " saved by dedup\n";
  const Json& readers = report["readers"];
  out += "readers: " + readers["open"].dump() + " open snapshots";
  if (!readers["oldest"].is_null())
    out += ", the oldest " + readers["oldest"]["age_commits"].dump() + " commits old (process " +
           readers["oldest"]["pid"].dump() + ")";
  out += "\n";
  if (!readers["warning"].is_null()) out += "warning: " + readers["warning"].get<std::string>() + "\n";
  out += "images: " + std::to_string(report["images"].size()) + "\n";
  for (size_t i = 0; i < report["images"].size(); ++i) {
    const Json& image = report["images"][i];
    if (image.contains("mapped")) {
      out += format_mapped(image);
      continue;
    }
    auto line = [&out](const char* key, const std::string& value) {
      char label[32];
      std::snprintf(label, sizeof label, "  %-13s ", key);
      out += label + value + "\n";
    };
    const std::string frame =
        image["stats_frame"].is_null() ? "" : " (frame " + image["stats_frame"].dump() + ")";
    out += "\nimage '" + image["name"].get<std::string>() + "'\n";
    line("dtype:", image["dtype"].get<std::string>());
    line("bands:", image["bands"].dump());
    line("tile_size:", image["tile_size"].dump());
    line("storage:", image["storage"].get<std::string>());
    line("codec:", image["codec"].get<std::string>());
    line("filter:", image["filter"].get<std::string>());
    line("frames:", image["frames"].dump());
    const auto region_text = [&](const Json& r, const char* none) {
      const std::optional<Region> region = json_region(r);
      return region ? to_string(*region) + " (x,y,WxH)" + frame : std::string(none);
    };
    line("extent:", region_text(image["extent"], "none declared"));
    line("bounds:", region_text(image["bounds"], "empty"));
    if (image.contains("pyramid")) {
      const Json& p = image["pyramid"];
      std::string levels = p["levels"].get<uint32_t>() == 0
                               ? std::string("none")
                               : "levels 1.." + p["levels"].dump() + " (" + p["resampling"].get<std::string>() + ")";
      if (!p["unfinished_target"].is_null())
        levels += ", a build to level " + p["unfinished_target"].dump() + " unfinished";
      line("pyramid:", levels + frame);
    }
    for (const Json& u : image["unfinished_imports"]) line("unfinished:", unfinished_text(u));
    line("tiles:", image["tiles_uniform"].dump() + " uniform, " + image["tiles_chunk"].dump() +
                       " chunk" + frame);
    line("chunks:", image["chunks_unique"].dump() + " unique");
    line("bytes_raw:", format_bytes(image["bytes_raw"].get<uint64_t>()));
    line("bytes_stored:", format_bytes(image["bytes_stored"].get<uint64_t>()));
    line("compression:", format_ratio(image["compression_ratio"], "raw / stored"));
    line("dedup:", format_ratio(image["dedup_ratio"], "chunk tiles / unique chunks"));
    line("attributes:", std::to_string(attributes[i].size()));
    out += attributes_text(attributes[i], "    ", 100);
  }
  return out;
}

int run_info(const cli::Args& args) {
  OpenOptions open_options;
  open_options.read_only = true;
  auto container = Container::open(args.positional(0), open_options);
  if (!container) return fail(container.status());
  // Before info's own snapshot, which would be listed too.
  auto readers = container->readers();
  if (!readers) return fail(readers.status());
  auto snapshot = container->snapshot();
  if (!snapshot) return fail(snapshot.status());

  auto pool = snapshot->pool_stats();
  if (!pool) return fail(pool.status());
  Json report = {{"file", args.positional(0)},
                 {"format", to_string(container->format_version())},
                 {"pool",
                  {{"chunks", pool->chunks},
                   {"references", pool->references},
                   {"bytes_stored", pool->bytes_stored},
                   {"bytes_saved", pool->bytes_saved}}},
                 {"readers", describe_readers(*readers, open_options.reader_lag_limit)},
                 {"images", Json::array()}};
  std::vector<Attributes> attributes;
  for (const ImageInfo& info : snapshot->images()) {
    auto image = describe_image(*snapshot, info);
    if (!image) return fail(image.status());
    auto own = info.mapped ? Result<Attributes>(Attributes{}) : snapshot->attributes(info.name);
    if (!own) return fail(own.status());
    (*image)["attributes"] = attributes_json(*own);
    attributes.push_back(std::move(own).value());
    report["images"].push_back(std::move(image).value());
  }
  // Printed only once complete, so an error never leaves half a report on stdout.
  const std::string text = args.flag("--json") ? json_text(report) : format_info(report, attributes);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

// Opens FILE read-only and takes a snapshot: what the reporting commands read.
struct ReadView {
  std::optional<Container> container;
  std::optional<Snapshot> snapshot;
};
Result<ReadView> open_for_reading(const std::string& file) {
  OpenOptions options;
  options.read_only = true;
  auto container = Container::open(file, options);
  if (!container) return container.status();
  ReadView view;
  view.container.emplace(std::move(container).value());
  auto snapshot = view.container->snapshot();
  if (!snapshot) return snapshot.status();
  view.snapshot.emplace(std::move(snapshot).value());
  return view;
}

// Prints a finished text only: an error never leaves half a report on stdout.
int print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

int run_frames(const cli::Args& args) {
  auto view = open_for_reading(args.positional(0));
  if (!view) return fail(view.status());
  const Snapshot& snapshot = *view->snapshot;
  std::vector<ImageInfo> images;
  if (auto name = args.value("--image")) {
    auto info = snapshot.image(cli::required_text(args, "--image"));
    if (!info) return fail(info.status());
    images.push_back(*info);
  } else {
    images = snapshot.images();
  }
  Json report = {{"file", args.positional(0)}, {"images", Json::array()}};
  std::string text;
  for (const ImageInfo& info : images) {
    auto frames = snapshot.frames(info.name);
    if (!frames) return fail(frames.status());
    Json list = Json::array();
    text += "image '" + info.name + "': " + std::to_string(frames->size()) + (frames->size() == 1 ? " frame\n" : " frames\n");
    text += "  frame      tiles   macro  tombstones   bytes_stored\n";
    for (const FrameInfo& f : *frames) {
      list.push_back({{"frame", f.frame},
                      {"tiles", f.tiles},
                      {"macro_blocks", f.macro_blocks},
                      {"tombstones", f.tombstones},
                      {"bytes_stored", f.bytes_stored}});
      char line[128];
      std::snprintf(line, sizeof line, "  %5u %10llu %7llu %11llu %14llu\n", f.frame,
                    static_cast<unsigned long long>(f.tiles),
                    static_cast<unsigned long long>(f.macro_blocks),
                    static_cast<unsigned long long>(f.tombstones),
                    static_cast<unsigned long long>(f.bytes_stored));
      text += line;
    }
    report["images"].push_back({{"name", info.name}, {"frames", std::move(list)}});
  }
  return print(args.flag("--json") ? json_text(report) : text);
}

int run_geometry(const cli::Args& args) {
  uint32_t frame = 0;
  if (auto value = args.value("--frame")) frame = cli::parse_number<uint32_t>(*value, "--frame");
  Precision precision = Precision::kExact;
  if (auto value = args.value("--precision")) {
    auto parsed = parse_precision(*value);
    if (!parsed) throw UsageError{"--precision: " + parsed.status().message()};
    precision = *parsed;
  }
  auto view = open_for_reading(args.positional(0));
  if (!view) return fail(view.status());
  auto info = view->snapshot->image_or_only(cli::required_text(args, "--image"));
  if (!info) return fail(info.status());
  auto box = view->snapshot->bounds(info->name, frame, precision);
  if (!box) return fail(box.status());
  const std::string what = "image '" + info->name + "' frame " + std::to_string(frame) + " (" +
                           std::string(precision_name(precision)) + ")";
  if (args.flag("--json")) {
    Json report = {{"image", info->name},
                   {"frame", frame},
                   {"precision", precision_name(precision)},
                   {"empty", !box->has_value()}};
    for (const char* key : {"x", "y", "width", "height"}) report[key] = nullptr;
    if (*box) {
      report["x"] = (*box)->x, report["y"] = (*box)->y;
      report["width"] = (*box)->width, report["height"] = (*box)->height;
    }
    return print(json_text(report));
  }
  if (!*box) return print(what + ": no data\n");
  const Region& r = **box;
  return print(what + ": x " + std::to_string(r.x) + ", y " + std::to_string(r.y) + ", width " +
               std::to_string(r.width) + ", height " + std::to_string(r.height) + "\n");
}

// Shows, sets and deletes attributes of an image or one of its frames. Changes are one
// transaction: all of them or, on any error, none.
int run_attr(const cli::Args& args) {
  const std::vector<std::string> sets = args.values("--set"), deletes = args.values("--delete");
  std::optional<uint32_t> frame;
  if (auto value = args.value("--frame")) frame = cli::parse_number<uint32_t>(*value, "--frame");
  std::vector<std::pair<std::string, AttributeValue>> changes;
  for (const std::string& set : sets) {
    const size_t eq = set.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError{"attr: malformed --set '" + set + "': expected KEY=VALUE"};
    auto value = parse_attribute_value(std::string_view(set).substr(eq + 1));
    if (!value) throw UsageError{"attr: --set " + set + ": " + value.status().message()};
    changes.emplace_back(set.substr(0, eq), std::move(value).value());
  }
  const std::string& file = args.positional(0);
  const bool changing = !sets.empty() || !deletes.empty();
  std::string image;
  Attributes attributes;
  if (changing) {
    auto container = Container::open(file);
    if (!container) return fail(container.status());
    const Status status = container->write([&](WriteTxn& txn) {
      auto info = txn.image_or_only(cli::required_text(args, "--image"));
      if (!info) return info.status();
      image = info->name;
      for (const std::string& name : deletes)
        TESSERA_RETURN_IF_ERROR(txn.delete_attribute(image, name, frame));
      for (const auto& [name, value] : changes)
        TESSERA_RETURN_IF_ERROR(txn.set_attribute(image, name, value, frame));
      auto after = txn.attributes(image, frame);
      if (!after) return after.status();
      attributes = std::move(after).value();
      return Status::ok();
    });
    if (!status) return fail(status);
    if (!args.flag("--json")) return 0;
  } else {
    auto view = open_for_reading(file);
    if (!view) return fail(view.status());
    auto info = view->snapshot->image_or_only(cli::required_text(args, "--image"));
    if (!info) return fail(info.status());
    image = info->name;
    auto found = view->snapshot->attributes(image, frame);
    if (!found) return fail(found.status());
    attributes = std::move(found).value();
  }
  if (args.flag("--json")) {
    Json report = {{"file", file}, {"image", image}, {"frame", frame ? Json(*frame) : Json(nullptr)},
                   {"attributes", attributes_json(attributes)}};
    return print(json_text(report));
  }
  return print(attributes_text(attributes, "", 0));
}

int run_serve(const cli::Args& args) {
  const std::string& file = args.positional(0);
  serve::ServerOptions options;
  if (auto bind = args.value("--bind")) options.bind = *bind;
  if (auto port = args.value("--port")) {
    options.port = cli::parse_number<int>(*port, "--port");
    if (options.port < 0 || options.port > 65535) throw UsageError{"--port: expected 0..65535, not " + *port};
  }
  if (auto threads = args.value("--threads")) {
    options.threads = cli::parse_number<unsigned>(*threads, "--threads");
    if (options.threads == 0 || options.threads > 1024) throw UsageError{"--threads: expected 1..1024, not " + *threads};
  }
  for (const std::string& s : args.values("--static")) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || s[0] != '/' || eq + 1 == s.size())
      throw UsageError{"--static: expected /PREFIX=DIR, not '" + s + "'"};
    options.statics.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  if (auto k = args.value("--max-reduction")) {
    options.service.max_reduction = cli::parse_number<uint32_t>(*k, "--max-reduction");
    if (options.service.max_reduction > 8) throw UsageError{"--max-reduction: expected 0..8, not " + *k};
  }
  if (auto seconds = args.value("--stop-after")) {
    options.stop_after = double(cli::parse_number<uint32_t>(*seconds, "--stop-after"));
    if (options.stop_after == 0) throw UsageError{"--stop-after: expected at least 1 second"};
  }
  OpenOptions open;
  open.read_only = true;
  open.tile_cache_bytes = uint64_t(256) << 20;
  if (auto cache = args.value("--cache")) open.tile_cache_bytes = cli::parse_number<uint64_t>(*cache, "--cache");
  auto container = Container::open(file, open);
  if (!container) return fail(container.status());
  const bool quiet = args.flag("--quiet");
  options.on_listening = [&](int port) {
    if (quiet) return;
    std::printf("tessera serve: %s on http://%s:%d/ (ctrl-C stops)\n", file.c_str(), options.bind.c_str(), port);
    std::fflush(stdout);
  };
  const Status status = serve::serve(*container, options);
  if (!status) return fail(status);
  return 0;
}

int run_pyramid(const cli::Args& args) {
  const std::string& file = args.positional(0);
  PyramidOptions options;
  if (args.flag("--all-frames")) {
    if (args.value("--frame")) throw UsageError{"pyramid: --frame and --all-frames exclude each other"};
    options.frame.reset();
  } else if (auto frame = args.value("--frame")) {
    options.frame = cli::parse_number<uint32_t>(*frame, "--frame");
  }
  if (auto levels = args.value("--levels"); levels && *levels != "auto") {
    options.levels = cli::parse_number<uint32_t>(*levels, "--levels");
    if (options.levels == 0 || options.levels > kMaxPyramidLevels)
      throw UsageError{"--levels: expected 1.." + std::to_string(kMaxPyramidLevels) + " or auto, not " + *levels};
  }
  if (auto resampling = args.value("--resampling")) {
    auto parsed = parse_resampling(*resampling);
    if (!parsed) throw UsageError{"--resampling: " + parsed.status().message()};
    options.resampling = *parsed;
  }
  auto container = Container::open(file);
  if (!container) return fail(container.status());
  auto named = image_option(*container, args);
  if (!named) return fail(named.status());
  const std::string image = *named;
  Status status;
  {
    cli::ProgressLine progress("pyramid " + image, args.flag("--quiet"), "tiles");
    options.progress = progress.callback();
    status = container->build_pyramid(image, options);
  }
  if (!status) return fail(status);
  auto snapshot = container->snapshot();
  if (!snapshot) return fail(snapshot.status());
  auto info = snapshot->image(image);
  if (!info) return fail(info.status());
  std::string report;
  for (uint32_t f = options.frame.value_or(0); f < (options.frame ? *options.frame + 1 : info->frames); ++f) {
    auto pyramid = snapshot->pyramid(image, f);
    if (!pyramid) return fail(pyramid.status());
    report += "image '" + image + "' frame " + std::to_string(f) + ": levels 1.." + std::to_string(pyramid->levels) +
              " (" + std::string(resampling_name(pyramid->resampling)) + ")\n";
  }
  return print(report);
}

// ---------------------------------------------------------------------------------------------
// Inspection: ls and dump

std::string hex_u64(uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string hex_bytes(const std::vector<uint8_t>& bytes) {
  std::string out;
  char pair[3];
  for (uint8_t b : bytes) std::snprintf(pair, sizeof pair, "%02x", b), out += pair;
  return out;
}

Json chunk_json(const ChunkSummary& c) {
  Json table = Json::array();
  for (const ChunkSummary::Block& b : c.table) table.push_back({{"stored", b.stored}, {"sum", hex_u64(b.sum)}});
  return {{"key", c.key},           {"version", c.version},         {"codec", codec_spec_name({c.codec, 0})},
          {"filter", std::string(filter_name(c.filter))}, {"sample_size", c.sample_size}, {"raw_size", c.raw_size},
          {"stored_size", c.stored_size}, {"blocks", c.blocks}, {"delta_distance", c.delta_distance},     {"checksum", hex_u64(c.checksum)},
          {"table", std::move(table)}, {"value_bytes", c.value_bytes}, {"references", c.references}};
}

std::string chunk_text(const ChunkSummary& c, const std::string& indent) {
  std::string out = indent + "chunk " + c.key + "\n";
  const auto field = [&](const char* name, const std::string& value) {
    out += indent + "  " + name + ": " + value + "\n";
  };
  field("version", std::to_string(c.version));
  field("codec", codec_spec_name({c.codec, 0}));
  field("filter", std::string(filter_name(c.filter)));
  field("sample_size", std::to_string(c.sample_size));
  field("raw_size", std::to_string(c.raw_size));
  field("stored_size", std::to_string(c.stored_size));
  if (c.version == 1)
    field(c.delta_distance ? "delta_distance" : "reserved", std::to_string(c.delta_distance));
  else
    field("blocks", std::to_string(c.blocks));
  field("checksum", hex_u64(c.checksum));
  for (size_t i = 0; i < c.table.size(); ++i)
    field(("block " + std::to_string(i)).c_str(),
          "stored " + std::to_string(c.table[i].stored) + ", sum " + hex_u64(c.table[i].sum));
  field("value bytes", std::to_string(c.value_bytes));
  field("references", std::to_string(c.references));
  return out;
}

Json tile_entry_json(const std::string& image, const TileEntry& e) {
  Json j = {{"image", image}, {"x", e.x}, {"y", e.y}, {"level", e.level}, {"frame", e.frame},
            {"kind", tile_kind_name(e.kind)}};
  j["pixel"] = e.pixel.empty() ? Json(nullptr) : Json(hex_bytes(e.pixel));
  j["chunk"] = e.chunk ? Json(e.chunk->key) : Json(nullptr);
  j["codec"] = e.chunk ? Json(codec_spec_name({e.chunk->codec, 0})) : Json(nullptr);
  j["filter"] = e.chunk ? Json(std::string(filter_name(e.chunk->filter))) : Json(nullptr);
  j["stored_bytes"] = e.chunk ? e.chunk->value_bytes : 0;
  j["raw_bytes"] = e.raw_bytes;
  j["record_bytes"] = e.record_bytes;
  j["references"] = e.chunk ? Json(e.chunk->references) : Json(nullptr);
  return j;
}

int run_ls(const cli::Args& args) {
  TileListOptions options;
  if (auto frame = args.value("--frame")) options.frame = cli::parse_number<uint32_t>(*frame, "--frame");
  if (auto level = args.value("--level")) options.level = cli::parse_number<uint32_t>(*level, "--level");
  options.region = region_option(args);
  auto view = open_for_reading(args.positional(0));
  if (!view) return fail(view.status());
  auto info = view->snapshot->image_or_only(args.value("--image").value_or(""));
  if (!info) return fail(info.status());
  const bool json = args.flag("--json");
  // Streamed: a line per tile as the scan finds it (a failure after the first lines still
  // ends with the one error line on stderr and exit 1).
  const Status listed = view->snapshot->list_tiles(info->name, options, [&](const TileEntry& e) {
    std::string line;
    if (json) {
      line = tile_entry_json(info->name, e).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
    } else {
      line = "(" + std::to_string(e.x) + "," + std::to_string(e.y) + ") level " + std::to_string(e.level) +
             " frame " + std::to_string(e.frame) + " " + std::string(tile_kind_name(e.kind));
      if (!e.pixel.empty()) line += " pixel " + hex_bytes(e.pixel);
      if (e.chunk)
        line += " " + e.chunk->key + " " + codec_spec_name({e.chunk->codec, 0}) + "/" + std::string(filter_name(e.chunk->filter)) +
                " stored " + std::to_string(e.chunk->value_bytes) + " raw " + std::to_string(e.raw_bytes) +
                " refs " + std::to_string(e.chunk->references);
      line += "\n";
    }
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size())
      return Status(Code::kIoError, "cannot write to stdout");
    return Status::ok();
  });
  return listed ? 0 : fail(listed);
}

Json record_json(const std::optional<TileRecordDump>& r) {
  if (!r) return nullptr;
  return {{"key", r->key},
          {"frame", r->frame},
          {"kind", tile_kind_name(r->kind)},
          {"uniform", r->uniform.empty() ? Json(nullptr) : Json(hex_bytes(r->uniform))},
          {"chunk", r->chunk.empty() ? Json(nullptr) : Json(r->chunk)}};
}

std::string record_text(const char* what, const std::optional<TileRecordDump>& r) {
  if (!r) return std::string(what) + ": none\n";
  std::string out = std::string(what) + ": key " + r->key + "\n  frame: " + std::to_string(r->frame) +
                    "\n  kind: " + std::string(tile_kind_name(r->kind)) + "\n";
  if (!r->uniform.empty()) out += "  uniform: " + hex_bytes(r->uniform) + "\n";
  if (!r->chunk.empty()) out += "  chunk: " + r->chunk + "\n";
  return out;
}

// "IMAGE/FRAME/LEVEL/TX/TY": the image name may hold '/': the numbers are the last four parts.
struct TileAddress {
  std::string image;
  uint32_t frame = 0, level = 0;
  int64_t x = 0, y = 0;
};
TileAddress parse_tile_address(const std::string& text) {
  std::vector<std::string> parts;
  size_t end = text.size();
  for (int i = 0; i < 4; ++i) {
    const size_t slash = text.rfind('/', end == 0 ? 0 : end - 1);
    if (slash == std::string::npos || end == 0)
      throw UsageError{"--tile: expected IMAGE/FRAME/LEVEL/TX/TY, not '" + text + "'"};
    parts.insert(parts.begin(), text.substr(slash + 1, end - slash - 1));
    end = slash;
  }
  TileAddress a;
  a.image = text.substr(0, end);
  a.frame = cli::parse_number<uint32_t>(parts[0], "--tile FRAME");
  a.level = cli::parse_number<uint32_t>(parts[1], "--tile LEVEL");
  a.x = cli::parse_number<int64_t>(parts[2], "--tile TX");
  a.y = cli::parse_number<int64_t>(parts[3], "--tile TY");
  return a;
}

int run_dump(const cli::Args& args) {
  const auto tile = args.value("--tile");
  const auto chunk = args.value("--chunk");
  if (bool(tile) == bool(chunk)) throw UsageError{"dump: give one of --tile IMAGE/FRAME/LEVEL/TX/TY and --chunk KEY"};
  const std::optional<std::string> raw_out = args.value("--raw");
  auto view = open_for_reading(args.positional(0));
  if (!view) return fail(view.status());
  const Snapshot& snap = *view->snapshot;
  const bool json = args.flag("--json");
  std::vector<uint8_t> raw;
  std::string text;
  if (chunk) {
    auto summary = snap.dump_chunk(*chunk, raw_out ? &raw : nullptr);
    if (!summary) return fail(summary.status());
    text = json ? json_text(chunk_json(*summary)) : chunk_text(*summary, "");
  } else {
    const TileAddress a = parse_tile_address(*tile);
    auto dump = snap.dump_tile(a.image, a.frame, a.level, a.x, a.y);
    if (!dump) return fail(dump.status());
    if (json) {
      text = json_text({{"image", dump->image}, {"frame", dump->frame}, {"level", dump->level},
                        {"x", dump->x}, {"y", dump->y}, {"own", record_json(dump->own)},
                        {"block", record_json(dump->block)},
                        {"shown", dump->block_shown ? "block" : dump->own ? "own" : "none"},
                        {"chunk", dump->chunk ? chunk_json(*dump->chunk) : Json(nullptr)}});
    } else {
      text = "tile (" + std::to_string(a.x) + "," + std::to_string(a.y) + ") of image '" + dump->image +
             "' frame " + std::to_string(a.frame) + " level " + std::to_string(a.level) + "\n" +
             record_text("own record", dump->own) + record_text("macro block record", dump->block) +
             "shown: " + (dump->block_shown ? "the macro block's" : dump->own ? "its own" : "none (the fill)") + "\n";
      if (dump->chunk) text += chunk_text(*dump->chunk, "");
    }
    if (raw_out) {
      // The tile's samples as a read returns them (pixel-interleaved), the fill where absent.
      auto info = snap.image(a.image);
      if (!info) return fail(info.status());
      const int64_t t = info->spec.tile_size;
      const Region region{a.x * t, a.y * t, t, t};
      raw.resize(region.pixel_count() * info->pixel_bytes());
      const Status read = snap.read(a.image, region, Selection{a.frame, a.level, {}}, raw.data(), raw.size());
      if (!read) return fail(read);
    }
  }
  if (raw_out) {
    FILE* out = std::fopen(raw_out->c_str(), "wb");
    if (!out || std::fwrite(raw.data(), 1, raw.size(), out) != raw.size() || std::fclose(out) != 0)
      return fail(Status(Code::kIoError, *raw_out + ": cannot write"));
  }
  return print(text);
}

// "A-B" or "N" (A = B = N), inclusive.
std::pair<uint32_t, uint32_t> parse_range(const std::string& text, const char* option) {
  const size_t dash = text.find('-');
  const uint32_t first = cli::parse_number<uint32_t>(text.substr(0, dash), option);
  const uint32_t last = dash == std::string::npos ? first : cli::parse_number<uint32_t>(text.substr(dash + 1), option);
  if (first > last) throw UsageError{std::string(option) + ": " + text + " is an empty range"};
  return {first, last};
}

int run_recompress(const cli::Args& args) {
  RecompressOptions options;
  auto codec = parse_codec_spec(cli::required_text(args, "--codec"));
  if (!codec) throw UsageError{"--codec: " + codec.status().message()};
  options.codec = *codec;
  if (auto filter = args.value("--filter")) options.filter = filter_option(*filter);
  options.region = region_option(args);
  if (auto frames = args.value("--frames")) std::tie(options.first_frame, options.last_frame) = parse_range(*frames, "--frames");
  if (auto levels = args.value("--levels")) std::tie(options.first_level, options.last_level) = parse_range(*levels, "--levels");
  auto container = Container::open(args.positional(0));
  if (!container) return fail(container.status());
  auto named = image_option(*container, args);
  if (!named) return fail(named.status());
  const std::string image = *named;
  Result<RecompressReport> report = Status(Code::kInternal, "not run");
  {
    cli::ProgressLine progress("recompress " + image, args.flag("--quiet"), "chunks");
    options.progress = progress.callback();
    report = container->recompress(image, options);
  }
  if (!report) return fail(report.status());
  return print("image '" + image + "': " + std::to_string(report->rewritten) + " of " +
               std::to_string(report->chunks) + " chunks encoded anew as " + codec_spec_name(options.codec) +
               " (" + std::string(filter_name(options.filter)) + "), " + std::to_string(report->bytes_before) + " -> " +
               std::to_string(report->bytes_after) + " bytes\n");
}

int run_merge(const cli::Args& args) {
  const std::string& file = args.positional(0);
  const std::string& src = args.positional(1);
  OpenOptions read_only;
  read_only.read_only = true;
  auto source = Container::open(src, read_only);
  if (!source) return fail(source.status());
  auto from = source->snapshot();
  if (!from) return fail(from.status());
  std::vector<ImageInfo> images;
  if (auto name = args.value("--image")) {
    auto info = from->image(*name);
    if (!info) return fail(info.status());
    images.push_back(*info);
  } else {
    images = from->images();
  }
  const auto into = args.value("--into");
  if (into && images.size() != 1) throw UsageError{"--into: name one image of SRC with --image"};
  auto container = Container::open(file);
  if (!container) return fail(container.status());
  std::string report;
  for (const ImageInfo& image : images) {
    const std::string target = into ? *into : image.name;
    // Every frame of the source image, frame by frame, one transaction each; a new image gets
    // the source's spec (its codec too).
    for (uint32_t frame = 0; frame < image.frames; ++frame) {
      Status s = container->write([&](WriteTxn& txn) -> Status {
        if (frame == 0 && !txn.image(target)) TESSERA_RETURN_IF_ERROR(txn.create_image(target, image.spec));
        return txn.merge(*from, image.name, target, frame, frame);
      });
      if (!s.is_ok()) return fail(s);
    }
    report += "image '" + image.name + "' -> '" + target + "': " + std::to_string(image.frames) +
              (image.frames == 1 ? " frame" : " frames") + " merged\n";
  }
  return print(report);
}

// --affine a,b,c,d,e,f, --translate X,Y and --fill: decimal numbers (any that strtod reads,
// finite), exactly `count` of them (0: any number).
std::vector<double> parse_reals(const std::string& text, size_t count, const std::string& what, const char* form) {
  std::vector<double> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const double v = item.empty() ? NAN : std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v))
      throw UsageError{"malformed " + what + " '" + text + "': expected " + form};
    values.push_back(v);
    start = comma + 1;
  }
  if (count && values.size() != count) throw UsageError{"malformed " + what + " '" + text + "': expected " + form};
  return values;
}

// The sources of tessera map: each --source, with the --bands and --affine or --translate that
// follow it (before the next --source).
std::vector<MappedSource> mapped_sources(const cli::Args& args) {
  std::vector<MappedSource> sources;
  bool placed = false;
  for (const auto& [option, value] : args.sequence()) {
    if (option == "--source") {
      MappedSource source;
      const size_t at = value.rfind('@');
      source.image = value.substr(0, at);
      if (at != std::string::npos) source.frame = cli::parse_number<uint32_t>(value.substr(at + 1), "--source frame");
      if (source.image.empty()) throw UsageError{"malformed --source '" + value + "': expected IMAGE[@FRAME]"};
      sources.push_back(std::move(source));
      placed = false;
      continue;
    }
    if (option != "--affine" && option != "--translate" && option != "--bands") continue;
    if (sources.empty()) throw UsageError{option + " '" + value + "' comes before any --source: it applies to the --source before it"};
    MappedSource& last = sources.back();
    if (option == "--bands") {
      last.bands = cli::parse_number_list<uint32_t>(value, 0, "--bands", "I,J,...");
      continue;
    }
    if (placed) throw UsageError{"--source '" + last.image + "' has two transforms: give one --affine or --translate"};
    placed = true;
    if (option == "--translate") {
      const auto t = parse_reals(value, 2, "--translate", "X,Y");
      last.transform = Affine::translation(t[0], t[1]);
    } else {
      const auto a = parse_reals(value, 6, "--affine", "a,b,c,d,e,f (x' = a x + b y + c, y' = d x + e y + f)");
      last.transform = Affine{a[0], a[1], a[2], a[3], a[4], a[5]};
    }
  }
  return sources;
}

int run_map(const cli::Args& args) {
  const std::string& name = args.positional(1);
  const bool remove = args.flag("--remove");
  MappedSpec spec;
  spec.sources = mapped_sources(args);
  if (remove && (!spec.sources.empty() || args.value("--blend") || args.value("--resampling")))
    throw UsageError{"map: --remove takes no --source, --blend or --resampling"};
  if (!remove && spec.sources.empty()) throw UsageError{"map: give at least one --source IMAGE[@FRAME]"};
  if (auto blend = args.value("--blend")) {
    auto parsed = parse_blend(*blend);
    if (!parsed) throw UsageError{"--blend: " + parsed.status().message()};
    spec.blend = *parsed;
  }
  if (auto resampling = args.value("--resampling")) {
    auto parsed = parse_interpolation(*resampling);
    if (!parsed) throw UsageError{"--resampling: " + parsed.status().message()};
    spec.interpolation = *parsed;
  }
  if (auto fill = args.value("--fill")) spec.fill = parse_reals(*fill, 0, "--fill", "V or V,V,... (one per band)");
  auto container = Container::open(args.positional(0));
  if (!container) return fail(container.status());
  Status s = container->write([&](WriteTxn& txn) {
    return remove ? txn.remove_mapped(name) : txn.define_mapped(name, spec, args.flag("--replace"));
  });
  return s.is_ok() ? 0 : fail(s);
}

int run_materialize(const cli::Args& args) {
  MaterializeOptions options;
  options.region = region_option(args);
  if (auto codec = args.value("--codec")) {
    auto parsed = parse_codec_spec(*codec);
    if (!parsed) throw UsageError{"--codec: " + parsed.status().message()};
    options.codec = *parsed;
  }
  auto container = Container::open(args.positional(0));
  if (!container) return fail(container.status());
  Status s;
  {
    cli::ProgressLine progress("materialize " + args.positional(2), args.flag("--quiet"), "rows");
    options.progress = progress.callback();
    s = container->materialize(args.positional(1), args.positional(2), options);
  }
  return s.is_ok() ? 0 : fail(s);
}

int run_version(const cli::Args&) {
  return print("tessera " + std::string(version()) + "\nfile format: " + format_versions() + "\n");
}

int run_compact(const cli::Args& args) {
  const std::string& file = args.positional(0);
  const std::string out = args.positional_count() > 1 ? args.positional(1) : std::string();
  if (out.empty() && args.positional_count() > 1) throw UsageError{"compact: OUT is empty"};
  struct stat before;
  const bool sized = ::stat(file.c_str(), &before) == 0;
  Status status;
  {
    cli::ProgressLine progress("compact " + file, args.flag("--quiet"));
    status = Container::compact(file, out, progress.callback());
  }
  if (!status) return fail(status);
  struct stat after;
  const std::string target = out.empty() ? file : out;
  if (sized && ::stat(target.c_str(), &after) == 0)
    std::printf("compacted %s: %lld -> %lld bytes\n", target.c_str(),
                static_cast<long long>(before.st_size), static_cast<long long>(after.st_size));
  return 0;
}

// The report of verify as JSON: every fault with its location (null where it has none).
Json verify_json(const std::string& file, const VerifyReport& report) {
  Json faults = Json::array();
  for (const Fault& f : report.faults) {
    faults.push_back({
        {"invariant", f.invariant},
        {"message", f.message},
        {"image", f.image ? Json(*f.image) : Json(nullptr)},
        {"frame", f.frame ? Json(*f.frame) : Json(nullptr)},
        {"tile", f.tile ? Json::array({f.tile->first, f.tile->second}) : Json(nullptr)},
        {"chunk", f.chunk_hex ? Json(*f.chunk_hex) : Json(nullptr)},
    });
  }
  return {{"file", file},
          {"clean", report.clean()},
          {"faults", std::move(faults)},
          {"notices", report.notices},
          {"counts",
           {{"faults", report.faults.size() + report.faults_omitted},
            {"faults_omitted", report.faults_omitted},
            {"images", report.images},
            {"tile_records", report.tile_records},
            {"macro_records", report.macro_records},
            {"chunks", report.chunks},
            {"references", report.references},
            {"attribute_records", report.attribute_records},
            {"pages", report.pages}}}};
}

std::string verify_text(const std::string& file, const VerifyReport& report) {
  std::string out;
  for (const Fault& f : report.faults) {
    std::string message = f.message;
    for (char& c : message)
      if (c == '\n' || c == '\r') c = ' ';
    out += f.invariant + ": " + message + "\n";
  }
  if (report.faults_omitted)
    out += "... and " + std::to_string(report.faults_omitted) + " more faults\n";
  for (const std::string& notice : report.notices) out += "NOTICE: " + notice + "\n";
  const uint64_t total = report.faults.size() + report.faults_omitted;
  out += file + ": " + (total ? std::to_string(total) + (total == 1 ? " fault" : " faults") : "clean") +
         " (" + std::to_string(report.images) + " images, " + std::to_string(report.tile_records) +
         " tile records, " + std::to_string(report.chunks) + " chunks, " +
         std::to_string(report.references) + " chunk references, " + std::to_string(report.pages) +
         " pages)\n";
  return out;
}

int run_verify(const cli::Args& args) {
  VerifyOptions options;
  options.deep = args.flag("--deep");
  Result<VerifyReport> report = Status(Code::kInternal, "not run");
  {
    cli::ProgressLine progress("verify " + args.positional(0), args.flag("--quiet"), "records");
    options.progress = progress.callback();
    report = verify(args.positional(0), options);
  }
  if (!report) return fail(report.status());
  const std::string text = args.flag("--json") ? json_text(verify_json(args.positional(0), *report))
                                               : verify_text(args.positional(0), *report);
  print(text);
  return report->clean() ? 0 : kExitFailure;
}
// ---------------------------------------------------------------------------------------------
// The command line

const cli::Program kProgram{
    "tessera",
    {
        {"create", {"FILE"}, 0, {},
         "Create an empty container FILE; fails if FILE exists.", "", run_create},
        {"import", {"FILE", "SRC"}, 0,
         {{"--image", "NAME", "the image (default: SRC's base name without its extension)"},
          {"--frame", "N",
           "the frame (default 0); frame N of an image with N frames is appended as a copy of "
           "frame N-1"},
          {"--codec", "none|lz4|zstd[:LEVEL]",
           "the codec of a new image (default lz4); if given for an existing image, its own"},
          {"--filter", "none|shuffle|delta",
           "what a new image's samples go through before the codec (default shuffle: samples of "
           "2, 4 or 8 bytes byte-shuffled; delta: differences along rows, then shuffled, for "
           "smooth integer data, makes the file format 3.0); if given for an existing image, its own"},
          {"--tile", "N", "the tile size of a new image (default 256); an existing image keeps its own"},
          {"--storage", "chunky|planar",
           "how a new image stores its tiles (default chunky; planar: a block per band, so one band "
           "reads alone: for hyperspectral cubes read band by band)"},
          {"--origin", "X,Y", "where SRC's pixel (0,0) lands (default 0,0)"},
          {"--batch", "BYTES", "commit every BYTES of raw pixels (default 67108864)"},
          {"--update", "", "import into the image of SRC's default name when it exists already (else refused)"},
          {"--resume", "",
           "go on from the batches an interrupted import of the same SRC committed (does "
           "nothing, saying so, if it finished)"},
          {"--format", "auto|envi|tiff|openslide", "how to read SRC (default auto: by its content)"},
          {"--pages-as", "frames|images",
           "a TIFF of several full-resolution pages: a frame per page, or an image per page"},
          {"--expand-palette", "", "read a palette TIFF as 3 bands of its colour map (u16)"},
          {"--no-associated", "", "leave out a slide's associated images (label, macro, thumbnail)"},
          {"--quiet", "", "no progress line and no notes"}},
         "Stream the raster SRC (TIFF, BigTIFF, a whole-slide image, or raw with an ENVI header) "
         "into a frame of an image of FILE, in bounded memory.",
         "SRC's format is found from its content: a TIFF signature (a vendor's slide such as Aperio "
         "SVS goes through OpenSlide), a slide OpenSlide recognises, or an ENVI header beside it "
         "(SRC.hdr, or SRC with its extension replaced by .hdr). What SRC says about its pixels "
         "(TIFF and GeoTIFF tags, ENVI header fields, slide properties) is kept as attributes "
         "(tessera attr). A slide's associated images become images IMAGE.NAME; reduced-resolution "
         "pages and levels are not imported (a note says so). FILE is created if missing. A new "
         "image takes its data type and bands from SRC (its fill is 0); an existing one must have "
         "the same. Each batch commits with the import's progress: after an interruption every "
         "finished batch is in FILE.",
         run_import},
        {"export", {"FILE", "OUT"}, 0,
         {{"--image", "NAME", "the image (default: the only one)"},
          {"--frame", "N", "the frame (default 0)"},
          {"--level", "L", "the pyramid level (default 0, full resolution; tessera pyramid builds levels)"},
          {"--strict", "", "refuse to export a frame whose import did not finish (else a warning)"},
          {"--force", "", "export a --region over 1 GiB that is more than 4 times the data's bounds"},
          {"--region", "X,Y,W,H|data",
           "the region, in the level's coordinates (default: the frame's extent, what its import "
           "covered; without one, or with 'data', the exact bounding box of the frame's data)"},
          {"--bands", "I,J,...", "the bands, in this order (default: every band in order)"},
          {"--interleave", "bip|bil|bsq", "the sample order of an ENVI OUT (default bip)"},
          {"--format", "envi|tiff", "the format of OUT (default: tiff for .tif or .tiff, else envi)"},
          {"--compression", "none|lzw|deflate|zstd|jpeg[:QUALITY]", "TIFF compression (default deflate)"},
          {"--tile", "N", "TIFF tile size, a multiple of 16 (default 256)"},
          {"--bigtiff", "auto|yes|no", "write BigTIFF (default auto: when OUT could pass 4 GiB)"},
          {"--quiet", "", "no progress line"}},
         "Write a region of a frame to OUT: a tiled TIFF, or raw little-endian samples with an "
         "ENVI header OUT.hdr.",
         "The image's attributes go back where the format has a place for them (TIFF and GeoTIFF "
         "tags, ENVI header fields), georeferencing shifted to the region written. Nothing is left "
         "behind on error: an existing OUT stays as it was.",
         run_export},
        {"info", {"FILE"}, 0, {{"--json", "", "print JSON instead of text"}},
         "Describe FILE: its format version, its open snapshots, the chunk pool and every image.",
         "Per image: data type, bands, tile size, storage interleave, codec, frames, extent, bounds, "
         "tiles by kind (uniform, chunk), unique chunks, raw and stored bytes, compression and "
         "dedup ratios. The chunk pool all images share: unique chunks, references, bytes stored "
         "and bytes saved by dedup.",
         run_info},
        {"attr", {"FILE"}, 0,
         {{"--image", "NAME", "the image (default: the only one)"},
          {"--frame", "N", "the attributes of frame N instead of the image's"},
          {"--set", "KEY=VALUE", "set KEY (added or replaced)", true},
          {"--delete", "KEY", "delete KEY (an error if there is none)", true},
          {"--json", "", "print JSON instead of text"}},
         "Show the attributes of an image (or of one frame), or change them.",
         "Without --set or --delete, prints one \"KEY = VALUE\" line per attribute. With them, "
         "makes every change in one transaction (deletions first) and prints nothing (with "
         "--json, the attributes afterwards). VALUE is typed by its text: -12 an integer; 2.5, "
         "1e-3, nan, inf a real; [1, 2] a list of integers, [400, 500.5] of reals, [red, "
         "\"green, blue\"] of text; \"12\" (quoted, JSON escapes) or anything else text. A "
         "frame's attribute overrides the image's of the same name for that frame.",
         run_attr},
        {"frames", {"FILE"}, 0,
         {{"--image", "NAME", "only this image (default: every image)"},
          {"--json", "", "print JSON instead of text"}},
         "List the frames of every image with the records each holds of its own and their bytes.",
         "Records are tiles, collapsed macro blocks and tombstones; the bytes they store count "
         "shared chunks in equal parts.",
         run_frames},
        {"geometry", {"FILE"}, 0,
         {{"--image", "NAME", "the image (default: the only one)"},
          {"--frame", "N", "the frame (default 0)"},
          {"--precision", "operative|root|leaf|exact",
           "grown by every edit, macro blocks, tiles or exact pixels (default exact)"},
          {"--json", "", "print JSON instead of text"}},
         "Print where the data of a frame is (x, y, width, height), or that it holds none.",
         "Served from the geometry cache of the frame when it is fresh.", run_geometry},
        {"pyramid", {"FILE"}, 0,
         {{"--image", "NAME", "the image (default: the only one)"},
          {"--frame", "N", "the frame (default 0)"},
          {"--all-frames", "", "every frame of the image"},
          {"--levels", "K|auto", "build levels 1..K (default auto: until the frame's data fits one tile)"},
          {"--resampling", "mean|nearest|mode|min|max",
           "how a level pixel is made from the 2 x 2 below it (default mean; nearest or mode for labels)"},
          {"--quiet", "", "no progress line"}},
         "Build the pyramid levels of a frame: each level half the size of the one below.",
         "Pixels equal to the fill value are no-data: a level pixel is the fill only when all four "
         "below it are, so the edges of sparse data do not darken. Levels are stored as ordinary "
         "tiles (deduplicated, uniform tiles inline) and every later write of the frame keeps them "
         "in step. The build commits in batches: run it again after an interruption and it goes on "
         "from the last batch. Another --resampling rebuilds every level.",
         run_pyramid},
        {"serve", {"FILE"}, 0,
         {{"--port", "P", "the TCP port (default 8080; 0: any free port, printed)"},
          {"--bind", "ADDR", "the address to listen on (default 127.0.0.1: this machine only)"},
          {"--threads", "N", "connections served at once (default 64); more wait their turn"},
          {"--cache", "BYTES", "decoded tiles kept in memory (default 268435456)"},
          {"--max-reduction", "K", "pyramid levels made on the fly above the built ones (default 3: 64 tiles read for one)"},
          {"--static", "/PREFIX=DIR", "also serve the files of DIR under /PREFIX, as they are", true},
          {"--stop-after", "SECONDS", "stop after this long (default: at ctrl-C or SIGTERM)"},
          {"--quiet", "", "print nothing once listening"}},
         "Serve FILE's images over HTTP: a viewer, Deep Zoom, IIIF Image API 3.0 and raw tiles.",
         "Read-only, each request against the container as its last commit left it, so a commit of "
         "another process shows on the next request. Routes: / (the viewer: choose an image and a "
         "frame, bands and a display range), /dzi/IMAGE.dzi, /iiif/IMAGE/info.json, "
         "/tiles/IMAGE/FRAME/LEVEL/X/Y (samples, .json for their description), /api/images. "
         "Levels come from the pyramid (tessera pyramid) and are made on the fly up to "
         "--max-reduction levels above it. ETags name the tiles a response shows: a client's "
         "If-None-Match is answered 304 until they change.",
         run_serve},
        {"ls", {"FILE"}, 0,
         {{"--image", "NAME", "the image (default: the only one)"},
          {"--frame", "N", "the frame (default 0)"},
          {"--level", "L", "the pyramid level (default 0)"},
          {"--region", "X,Y,W,H", "only the tiles this region of the level touches"},
          {"--json", "", "one JSON object per line (JSON Lines)"}},
         "List every tile a frame shows at a level, one line each, as the scan finds them.",
         "Per tile: coordinates (tiles at the level), the frame whose version is shown, its kind "
         "(uniform, chunk, macro: a collapsed macro block's, or tombstone: absent from that frame "
         "on), the pixel of a uniform tile, and for a chunk its key, codec and filter, stored and "
         "raw bytes and reference count. Tiles with their own record come in key (Morton) order, "
         "then those of collapsed macro blocks.",
         run_ls},
        {"dump", {"FILE"}, 0,
         {{"--tile", "IMAGE/FRAME/LEVEL/TX/TY", "the records a read of this tile probes"},
          {"--chunk", "KEY", "a chunk by its 34 hex digits"},
          {"--raw", "OUT", "also write the decoded samples to OUT (a tile as read, pixel-interleaved; a "
                           "chunk in its storage layout)"},
          {"--json", "", "print JSON instead of text"}},
         "Print one tile's records, or one chunk's header and block table, field by field.",
         "Field names are those of spec/FORMAT.md (sections 4.3 and 4.4). Every record is checked "
         "as a read checks it: a damaged one is an error naming it.",
         run_dump},
        {"recompress", {"FILE"}, 0,
         {{"--image", "NAME", "the image (default: the only one)"},
          {"--codec", "none|lz4|zstd[:LEVEL]", "the codec the chunks get (required)"},
          {"--filter", "none|shuffle|delta",
           "byte-shuffle samples of 2, 4 or 8 bytes first (default shuffle); delta: differences "
           "along rows, then the shuffle (makes the file format 3.0)"},
          {"--region", "X,Y,W,H", "only the tiles this region touches (level-0 coordinates; default all)"},
          {"--frames", "A-B", "only these frames (default all)"},
          {"--levels", "L-M", "only these pyramid levels (default all: 0 and those built)"},
          {"--quiet", "", "no progress line"}},
         "Encode the chunks the selected tiles show again: compression tiers by area, pixels unchanged.",
         "A chunk is stored once for every tile that shows the same content, in any image or frame: "
         "its new encoding serves them all, selected or not. Commits in batches; run again after an "
         "interruption, it skips what is done. New writes still use the image's codec. Prints how "
         "many chunks were encoded anew and their stored bytes before and after.",
         run_recompress},
        {"merge", {"FILE", "SRC"}, 0,
         {{"--image", "NAME", "only this image of SRC (default: every image)"},
          {"--into", "NAME", "the image of FILE it goes into (default: the same name)"}},
         "Merge the images of container SRC into FILE, their chunks as they are encoded.",
         "Each frame of each image of SRC goes into the frame of the same number of the image of the "
         "same name in FILE (created with SRC's spec when absent), one transaction per frame: the "
         "tiles SRC shows replace FILE's, the others stay. Chunks are not compressed again, and are "
         "stored once whatever number of images and files show them (deduplicated by content). The "
         "images must agree in sample type, bands, tile size, storage and fill.",
         run_merge},
        {"map", {"FILE", "NAME"}, 0,
         {{"--source", "IMAGE[@FRAME]", "a source: an image (or mapped image) of FILE and its frame (default 0)", true},
          {"--bands", "I,J,...", "the bands of the --source before it that the mapped image shows (default all)", true},
          {"--translate", "X,Y", "place the --source before it moved by X, Y pixels", true},
          {"--affine", "a,b,c,d,e,f",
           "place the --source before it by x' = a x + b y + c, y' = d x + e y + f (default: as it is)", true},
          {"--blend", "first|last|mean|max", "where sources overlap (default first: the first --source with data)"},
          {"--resampling", "nearest|bilinear", "how a source is sampled (default nearest)"},
          {"--fill", "V[,V...]", "what shows where no source has data (default: the first source's fill)"},
          {"--replace", "", "define NAME again when it is a mapped image already"},
          {"--remove", "", "delete mapped image NAME (its sources stay)"}},
         "Define NAME as a mapped image: sources placed by their transforms, read through them, never copied.",
         "A mapped image is a stored definition: every read of it (export, serve, Python, info) reads "
         "only the source tiles the region touches, through the transforms, and blends overlaps. "
         "Source pixels equal to their fill are no-data. Writes of it are refused; tessera "
         "materialize writes it out. Sources must agree in sample type and band count; mapped "
         "images may stand on mapped images (8 deep, no cycles). Makes FILE format 2.4 (3.2).",
         run_map},
        {"materialize", {"FILE", "NAME", "NEW"}, 0,
         {{"--region", "X,Y,W,H", "the region written (default: NAME's extent)"},
          {"--codec", "none|lz4|zstd[:LEVEL]", "the codec of NEW (default: the first source's)"},
          {"--quiet", "", "no progress line"}},
         "Write mapped image NAME out as the new ordinary image NEW, strip by strip.",
         "Each strip of whole tile rows (about 64 MiB) is read through the mapping and committed: "
         "memory stays bounded and an interruption keeps the strips written.",
         run_materialize},
        {"version", {}, 0, {}, "Print the library's version and the file format versions it writes and reads.",
         "Also tessera --version.", run_version},
        {"compact", {"FILE", "OUT"}, 1, {{"--quiet", "", "no progress line"}},
         "Rewrite FILE without free pages or unreferenced chunks, into the new file OUT or in "
         "place.",
         "Processes that have FILE open keep reading the old copy undisturbed; their next write "
         "is refused (they must reopen).",
         run_compact},
        {"verify", {"FILE"}, 0,
         {{"--deep", "", "also decode every chunk and check its content hash"},
          {"--json", "", "print the report as JSON"},
          {"--quiet", "", "no progress line"}},
         "Check FILE against every invariant of the format; exit 1 when faults were found.",
         "Checks LMDB's page structure, every record, chunk existence, reference counts and "
         "payload checksums (spec/FORMAT.md section 6). Prints one line per fault, \"INVARIANT: "
         "message\", then a summary.",
         run_verify},
    },
    "exit status: 0 success, 1 the operation failed, 2 the command line is wrong.",
};

}  // namespace

int main(int argc, char** argv) {
  // A closed pipe on stdout must give a write error (exit 1), not death by SIGPIPE (141).
  ::signal(SIGPIPE, SIG_IGN);
  return cli::run(kProgram, argc, argv);
}
