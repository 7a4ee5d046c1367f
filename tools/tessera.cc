// tessera — the command-line tool: create, import, export, info and verify over the public API.
//
// Scripts rely on this file's contract: the subcommand and option names, a single
// "tessera: <message>" line on stderr for every error, nothing written on error, and exit
// codes 0 (success), 1 (the operation failed) and 2 (the command line is wrong), never 128 or
// more. verify exits 1 also when it found faults (its report is on stdout, not an error line). It uses only the public API (tessera/tessera.h): logic two subcommands would share
// belongs in the library, not here.
//
// Command-line mistakes are thrown as UsageError and caught in main(); everything the library
// reports stays a Status and is turned into exit code 1 by fail().
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessera/envi.h"
#include "tessera/tessera.h"

namespace {

using namespace tessera;
using Json = nlohmann::ordered_json;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kUsage = R"(usage: tessera <command> [arguments]

commands:
  create FILE
      Create an empty container FILE. Fails if FILE exists.

  import FILE SRC [--image NAME] [--frame N] [--codec none|lz4|zstd[:LEVEL]] [--tile N]
                  [--origin X,Y] [--batch BYTES] [--resume]
      Stream the raw raster SRC, described by its ENVI header (SRC.hdr, or SRC with its
      extension replaced by .hdr), into frame N (default 0) of image NAME (default: SRC's
      base name without extension), its pixel (0,0) landing at X,Y (default 0,0). FILE is
      created if missing. A new image takes type and bands from the header, tile size N
      (default 256) and the codec (default lz4); an existing one must match them.
      Commits every BYTES of raw pixels (default 67108864) with the import's progress: after
      an interruption every finished batch is in FILE, and the same command with --resume
      goes on from there (and does nothing, saying so, if the import finished).

  export FILE OUT [--image NAME] [--frame N] [--region X,Y,W,H] [--bands I,J,...]
                  [--interleave bip|bil|bsq]
      Write raw little-endian samples to OUT and their ENVI header to OUT.hdr. Defaults:
      the only image, frame 0, the exact bounding box of the frame's data, every band in
      order, bip.

  frames FILE [--image NAME] [--json]
      List the frames of every image (or of NAME): the tile records each frame holds of its
      own (tiles, collapsed macro blocks, tombstones) and the bytes they store, shared chunks
      counted in equal parts.

  geometry FILE [--image NAME] [--frame N] [--precision operative|root|leaf|exact] [--json]
      Print the bounding box of the data of frame N (default 0) of image NAME (default: the
      only image) as x, y, width and height, at the precision asked (default exact), or say
      that the frame holds no data. Served from the geometry cache when it is fresh.

  compact FILE [OUT]
      Rewrite FILE without free pages or unreferenced chunks: into the new file OUT, or in
      place of FILE. Processes that have FILE open keep reading the old copy undisturbed.

  info FILE [--json]
      Describe every image of FILE: type, bands, tile size, storage interleave, frames,
      bounds, tiles by kind, unique chunks, raw and stored bytes, compression and dedup
      ratios; and the chunk pool all images share: unique chunks, references, bytes saved.

  verify FILE [--deep] [--json]
      Check FILE against the format (spec/FORMAT.md section 6): LMDB's page structure,
      every record, chunk existence, reference counts and payload checksums; with --deep
      also decode every chunk and check its content hash. Prints one line per fault,
      "INVARIANT: message", then a summary. Exit status 0 when clean, 1 when faults were
      found.

exit status: 0 success, 1 the operation failed, 2 the command line is wrong.
)";

// A mistake in the command line (exit code 2).
struct UsageError {
  std::string message;
};
// --help anywhere: print the usage and succeed.
struct HelpRequested {};

// Prints the one error line and returns the failure exit code.
int fail(const Status& status) {
  std::string message = status.message().empty() ? status.to_string() : status.message();
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "tessera: %s\n", message.c_str());
  return kExitFailure;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// ---------------------------------------------------------------------------------------------
// Arguments

// The arguments of one subcommand: its positional arguments and its --options. Options are
// written "--name VALUE" or "--name=VALUE"; "--" ends the options.
class Args {
 public:
  struct Spec {
    std::string_view command;                  // for messages: "import"
    std::vector<std::string_view> positionals;  // names, for messages: "FILE", "SRC"
    std::vector<std::string_view> valued;       // options taking a value: "--image"
    std::vector<std::string_view> flags;        // options without one: "--json"
    size_t optional = 0;                        // how many of the last positionals may be left out
  };

  static Args parse(const Spec& spec, std::span<char* const> argv) {
    Args args;
    bool options_ended = false;
    for (size_t i = 0; i < argv.size(); ++i) {
      const std::string_view token = argv[i];
      if (options_ended || token.size() < 2 || token[0] != '-') {
        args.positional_.emplace_back(token);
        continue;
      }
      if (token == "--") {
        options_ended = true;
        continue;
      }
      if (token == "--help" || token == "-h") throw HelpRequested{};
      const size_t eq = token.find('=');
      const std::string name(token.substr(0, eq));
      std::string value;
      if (contains(spec.valued, name)) {
        if (eq != std::string_view::npos) {
          value = std::string(token.substr(eq + 1));
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          throw UsageError{std::string(spec.command) + ": option " + name + " needs a value"};
        }
      } else if (!contains(spec.flags, name) || eq != std::string_view::npos) {
        throw UsageError{std::string(spec.command) + ": unknown option '" + std::string(token) +
                         "'"};
      }
      if (!args.options_.emplace(name, value).second)
        throw UsageError{std::string(spec.command) + ": option " + name + " given twice"};
    }
    const size_t required = spec.positionals.size() - spec.optional;
    if (args.positional_.size() < required || args.positional_.size() > spec.positionals.size()) {
      if (args.positional_.size() < required)
        throw UsageError{std::string(spec.command) + ": missing argument " +
                         std::string(spec.positionals[args.positional_.size()])};
      throw UsageError{std::string(spec.command) + ": unexpected argument '" +
                       args.positional_[spec.positionals.size()] + "'"};
    }
    return args;
  }

  const std::string& positional(size_t i) const { return positional_[i]; }
  size_t positional_count() const { return positional_.size(); }
  std::optional<std::string> value(const std::string& option) const {
    auto it = options_.find(option);
    if (it == options_.end()) return std::nullopt;
    return it->second;
  }
  bool flag(const std::string& option) const { return options_.count(option) != 0; }

 private:
  static bool contains(const std::vector<std::string_view>& names, std::string_view name) {
    for (std::string_view n : names)
      if (n == name) return true;
    return false;
  }
  std::vector<std::string> positional_;
  std::map<std::string, std::string> options_;
};

// True when the entire text is a whole number of type T (no sign for unsigned types, no spaces).
template <typename T>
bool whole_number(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

template <typename T>
T parse_number(std::string_view text, std::string_view what) {
  T value{};
  if (!whole_number(text, &value))
    throw UsageError{"malformed " + std::string(what) + " '" + std::string(text) +
                     "': expected a whole number" +
                     (std::is_signed_v<T> ? "" : " of at least 0")};
  return value;
}

// A comma-separated list of whole numbers; exactly `count` of them unless count is 0.
template <typename T>
std::vector<T> parse_number_list(std::string_view text, size_t count, std::string_view what,
                                 std::string_view form) {
  std::vector<T> values;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : comma - start);
    T value{};
    if (!whole_number(item, &value))
      throw UsageError{"malformed " + std::string(what) + " '" + std::string(text) +
                       "': expected " + std::string(form)};
    values.push_back(value);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (count != 0 && values.size() != count)
    throw UsageError{"malformed " + std::string(what) + " '" + std::string(text) +
                     "': expected " + std::string(form)};
  return values;
}

std::string required_text(const Args& args, const std::string& option) {
  std::optional<std::string> value = args.value(option);
  if (value && value->empty()) throw UsageError{"option " + option + " needs a non-empty value"};
  return value.value_or("");
}

// ---------------------------------------------------------------------------------------------
// Progress

// Reports progress on stderr when it is a terminal; prints the final newline when destroyed.
class ProgressLine {
 public:
  explicit ProgressLine(std::string label) : label_(std::move(label)) {}
  ~ProgressLine() {
    if (shown_) std::fputc('\n', stderr);
  }
  Progress callback() {
    if (!::isatty(STDERR_FILENO)) return {};
    return [this](uint64_t done, uint64_t total) {
      const double mib = 1024.0 * 1024.0;
      std::fprintf(stderr, "\r%s: %3.0f%% (%.1f of %.1f MiB)", label_.c_str(),
                   total ? 100.0 * double(done) / double(total) : 100.0, double(done) / mib,
                   double(total) / mib);
      std::fflush(stderr);
      shown_ = true;
    };
  }

 private:
  std::string label_;
  bool shown_ = false;
};

// ---------------------------------------------------------------------------------------------
// Subcommands

int run_create(std::span<char* const> argv) {
  const Args args = Args::parse({"create", {"FILE"}, {}, {}}, argv);
  auto container = Container::create(args.positional(0));
  return container ? 0 : fail(container.status());
}

int run_import(std::span<char* const> argv) {
  const Args args = Args::parse(
      {"import", {"FILE", "SRC"}, {"--image", "--frame", "--codec", "--tile", "--origin", "--batch"}, {"--resume"}},
      argv);
  const std::string& file = args.positional(0);
  const std::string& src = args.positional(1);
  ImportOptions options;
  options.image = required_text(args, "--image");
  if (auto frame = args.value("--frame")) options.frame = parse_number<uint32_t>(*frame, "--frame");
  if (auto tile = args.value("--tile")) options.tile_size = parse_number<uint32_t>(*tile, "--tile");
  if (auto batch = args.value("--batch")) {
    options.batch_bytes = parse_number<uint64_t>(*batch, "--batch");
    if (options.batch_bytes == 0) throw UsageError{"--batch: a batch of 0 bytes"};
  }
  options.resume = args.flag("--resume");
  if (auto codec = args.value("--codec")) {
    auto spec = parse_codec_spec(*codec);
    if (!spec) throw UsageError{"--codec: " + spec.status().message()};
    options.codec = *spec;
  }
  if (auto origin = args.value("--origin")) {
    const auto xy = parse_number_list<int64_t>(*origin, 2, "--origin", "X,Y");
    options.origin_x = xy[0];
    options.origin_y = xy[1];
  }

  // A source that cannot be read must not create or touch FILE: check its header first.
  auto header_path = find_envi_header(src);
  if (!header_path) return fail(header_path.status());
  if (auto header = read_envi_header(*header_path); !header) return fail(header.status());

  const bool created = !path_exists(file);
  std::optional<Container> container;
  {
    auto opened = created ? Container::create(file) : Container::open(file);
    if (!opened) return fail(opened.status());
    container.emplace(std::move(opened).value());
  }
  ProgressLine progress("import " + src);
  options.progress = progress.callback();
  auto result = import_envi(*container, src, options);
  if (!result) {
    // Leave nothing behind when the container was ours and nothing of the import committed
    // (committed batches stay: `--resume` goes on from them).
    bool untouched = false;
    if (created) {
      auto snapshot = container->snapshot();
      untouched = snapshot && snapshot->images().empty();
    }
    if (untouched) {
      container.reset();
      ::unlink(file.c_str());
      ::unlink((file + "-lock").c_str());
    }
    return fail(result.status());
  }
  const ImportProgress& p = result->progress;
  if (result->already_finished)
    std::printf("import of %s frame %u finished already: nothing to do\n", p.source.c_str(), p.frame);
  else if (result->blocks_skipped)
    std::printf("import of %s frame %u resumed after %llu of %llu blocks\n", p.source.c_str(), p.frame,
                static_cast<unsigned long long>(result->blocks_skipped),
                static_cast<unsigned long long>(p.blocks_total));
  return 0;
}

int run_export(std::span<char* const> argv) {
  const Args args = Args::parse({"export",
                                 {"FILE", "OUT"},
                                 {"--image", "--frame", "--region", "--bands", "--interleave"},
                                 {}},
                                argv);
  ExportOptions options;
  options.image = required_text(args, "--image");
  if (auto frame = args.value("--frame")) options.frame = parse_number<uint32_t>(*frame, "--frame");
  if (auto region = args.value("--region")) {
    const auto r = parse_number_list<int64_t>(*region, 4, "--region", "X,Y,W,H");
    options.region = Region{r[0], r[1], r[2], r[3]};
  }
  if (auto bands = args.value("--bands"))
    options.bands = parse_number_list<uint32_t>(*bands, 0, "--bands", "band numbers I,J,...");
  if (auto interleave = args.value("--interleave")) {
    auto parsed = parse_interleave(*interleave);
    if (!parsed) throw UsageError{"--interleave: " + parsed.status().message()};
    options.interleave = *parsed;
  }

  OpenOptions open_options;
  open_options.read_only = true;
  auto container = Container::open(args.positional(0), open_options);
  if (!container) return fail(container.status());
  ProgressLine progress("export " + args.positional(1));
  options.progress = progress.callback();
  const Status status = export_envi(*container, args.positional(1), options);
  return status ? 0 : fail(status);
}

// A ratio for reports; null when the denominator is zero (nothing to compare).
Json ratio(uint64_t numerator, uint64_t denominator) {
  if (denominator == 0) return nullptr;
  return double(numerator) / double(denominator);
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
Result<Json> describe_image(const View& view, const ImageInfo& info) {
  const ImageSpec& spec = info.spec;
  Json image = {
      {"name", info.name},
      {"dtype", data_type_name(spec.type)},
      {"bands", spec.bands},
      {"tile_size", spec.tile_size},
      {"macro_tiles", spec.macro_tiles},
      {"interleave", storage_layout_name(spec.storage)},
      {"codec", codec_spec_name(spec.codec)},
      {"shuffle", spec.shuffle},
      {"fill", spec.fill},
      {"frames", info.frames},
  };
  ImageStats stats;
  std::optional<Region> bounds;
  if (info.frames > 0) {
    const uint32_t frame = info.frames - 1;
    auto frame_stats = view.stats(info.name, frame);
    if (!frame_stats) return frame_stats.status();
    stats = *frame_stats;
    auto frame_bounds = view.bounds(info.name, frame, Precision::kExact);
    if (!frame_bounds) return frame_bounds.status();
    bounds = *frame_bounds;
    image["stats_frame"] = frame;
  } else {
    image["stats_frame"] = nullptr;
  }
  image["bounds"] = bounds ? Json{{"x", bounds->x},
                                  {"y", bounds->y},
                                  {"width", bounds->width},
                                  {"height", bounds->height}}
                           : Json(nullptr);
  image["tiles_uniform"] = stats.tiles_uniform;
  image["tiles_chunk"] = stats.tiles_chunk;
  image["chunks_unique"] = stats.chunks_unique;
  image["bytes_raw"] = stats.bytes_raw;
  image["bytes_stored"] = stats.bytes_stored;
  image["bytes_chunk_refs"] = stats.bytes_chunk_refs;
  image["compression_ratio"] = ratio(stats.bytes_raw, stats.bytes_stored);
  image["dedup_ratio"] = ratio(stats.tiles_chunk, stats.chunks_unique);
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

// The text form of info: one block per image, the same facts as the JSON.
std::string format_info(const Json& report) {
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
  for (const Json& image : report["images"]) {
    auto line = [&out](const char* key, const std::string& value) {
      char label[32];
      std::snprintf(label, sizeof label, "  %-13s ", key);
      out += label + value + "\n";
    };
    const Json& b = image["bounds"];
    const std::string frame =
        image["stats_frame"].is_null() ? "" : " (frame " + image["stats_frame"].dump() + ")";
    out += "\nimage '" + image["name"].get<std::string>() + "'\n";
    line("dtype:", image["dtype"].get<std::string>());
    line("bands:", image["bands"].dump());
    line("tile_size:", image["tile_size"].dump());
    line("interleave:", image["interleave"].get<std::string>());
    line("codec:", image["codec"].get<std::string>());
    line("frames:", image["frames"].dump());
    line("bounds:", b.is_null() ? std::string("empty")
                                : to_string(Region{b["x"].get<int64_t>(), b["y"].get<int64_t>(),
                                                   b["width"].get<int64_t>(),
                                                   b["height"].get<int64_t>()}) +
                                      " (x,y,WxH)" + frame);
    line("tiles:", image["tiles_uniform"].dump() + " uniform, " + image["tiles_chunk"].dump() +
                       " chunk" + frame);
    line("chunks:", image["chunks_unique"].dump() + " unique");
    line("bytes_raw:", format_bytes(image["bytes_raw"].get<uint64_t>()));
    line("bytes_stored:", format_bytes(image["bytes_stored"].get<uint64_t>()));
    line("compression:", format_ratio(image["compression_ratio"], "raw / stored"));
    line("dedup:", format_ratio(image["dedup_ratio"], "chunk tiles / unique chunks"));
  }
  return out;
}

int run_info(std::span<char* const> argv) {
  const Args args = Args::parse({"info", {"FILE"}, {}, {"--json"}}, argv);
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
  for (const ImageInfo& info : snapshot->images()) {
    auto image = describe_image(*snapshot, info);
    if (!image) return fail(image.status());
    report["images"].push_back(std::move(image).value());
  }
  // Printed only once complete, so an error never leaves half a report on stdout.
  const std::string text = args.flag("--json") ? report.dump(2) + "\n" : format_info(report);
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

int run_frames(std::span<char* const> argv) {
  const Args args = Args::parse({"frames", {"FILE"}, {"--image"}, {"--json"}}, argv);
  auto view = open_for_reading(args.positional(0));
  if (!view) return fail(view.status());
  const Snapshot& snapshot = *view->snapshot;
  std::vector<ImageInfo> images;
  if (auto name = args.value("--image")) {
    auto info = snapshot.image(required_text(args, "--image"));
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
    text += "image '" + info.name + "': " + std::to_string(frames->size()) + " frames\n";
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
  return print(args.flag("--json") ? report.dump(2) + "\n" : text);
}

int run_geometry(std::span<char* const> argv) {
  const Args args =
      Args::parse({"geometry", {"FILE"}, {"--image", "--frame", "--precision"}, {"--json"}}, argv);
  uint32_t frame = 0;
  if (auto value = args.value("--frame")) frame = parse_number<uint32_t>(*value, "--frame");
  Precision precision = Precision::kExact;
  if (auto value = args.value("--precision")) {
    auto parsed = parse_precision(*value);
    if (!parsed) throw UsageError{"--precision: " + parsed.status().message()};
    precision = *parsed;
  }
  auto view = open_for_reading(args.positional(0));
  if (!view) return fail(view.status());
  auto info = view->snapshot->image_or_only(required_text(args, "--image"));
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
    return print(report.dump(2) + "\n");
  }
  if (!*box) return print(what + ": no data\n");
  const Region& r = **box;
  return print(what + ": x " + std::to_string(r.x) + ", y " + std::to_string(r.y) + ", width " +
               std::to_string(r.width) + ", height " + std::to_string(r.height) + "\n");
}

int run_compact(std::span<char* const> argv) {
  const Args args = Args::parse({"compact", {"FILE", "OUT"}, {}, {}, /*optional=*/1}, argv);
  const std::string& file = args.positional(0);
  const std::string out = args.positional_count() > 1 ? args.positional(1) : std::string();
  if (out.empty() && args.positional_count() > 1) throw UsageError{"compact: OUT is empty"};
  struct stat before;
  const bool sized = ::stat(file.c_str(), &before) == 0;
  const Status status = Container::compact(file, out);
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
          {"counts",
           {{"faults", report.faults.size() + report.faults_omitted},
            {"faults_omitted", report.faults_omitted},
            {"images", report.images},
            {"tile_records", report.tile_records},
            {"macro_records", report.macro_records},
            {"chunks", report.chunks},
            {"references", report.references},
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
  const uint64_t total = report.faults.size() + report.faults_omitted;
  out += file + ": " + (total ? std::to_string(total) + (total == 1 ? " fault" : " faults") : "clean") +
         " (" + std::to_string(report.images) + " images, " + std::to_string(report.tile_records) +
         " tile records, " + std::to_string(report.chunks) + " chunks, " +
         std::to_string(report.references) + " chunk references, " + std::to_string(report.pages) +
         " pages)\n";
  return out;
}

int run_verify(std::span<char* const> argv) {
  const Args args = Args::parse({"verify", {"FILE"}, {}, {"--deep", "--json"}}, argv);
  VerifyOptions options;
  options.deep = args.flag("--deep");
  auto report = verify(args.positional(0), options);
  if (!report) return fail(report.status());
  const std::string text = args.flag("--json") ? verify_json(args.positional(0), *report).dump(2) + "\n"
                                               : verify_text(args.positional(0), *report);
  print(text);
  return report->clean() ? 0 : kExitFailure;
}

int dispatch(int argc, char** argv) {
  if (argc < 2) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
    std::fflush(stdout);
    throw UsageError{"no command given (see tessera --help)"};
  }
  const std::string_view command = argv[1];
  const std::span<char* const> rest(argv + 2, size_t(argc - 2));
  if (command == "--help" || command == "-h" || command == "help") throw HelpRequested{};
  if (command == "create") return run_create(rest);
  if (command == "import") return run_import(rest);
  if (command == "export") return run_export(rest);
  if (command == "info") return run_info(rest);
  if (command == "frames") return run_frames(rest);
  if (command == "geometry") return run_geometry(rest);
  if (command == "compact") return run_compact(rest);
  if (command == "verify") return run_verify(rest);
  throw UsageError{"unknown command '" + std::string(command) +
                   "' (expected create, import, export, info, frames, geometry, compact or "
                   "verify; see tessera --help)"};
}

}  // namespace

int main(int argc, char** argv) {
  // A closed pipe on stdout must give a write error (exit 1), not death by SIGPIPE (141).
  ::signal(SIGPIPE, SIG_IGN);
  int code = 0;
  try {
    code = dispatch(argc, argv);
  } catch (const HelpRequested&) {
    std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
  } catch (const UsageError& error) {
    std::fprintf(stderr, "tessera: %s\n", error.message.c_str());
    return kExitUsage;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tessera: internal error: %s\n", error.what());
    return kExitFailure;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "tessera: cannot write to standard output\n");
    return kExitFailure;
  }
  return code;
}
