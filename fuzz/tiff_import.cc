// Fuzz target: arbitrary bytes as a TIFF file, read from memory through the same code as a
// file (io/tiff_import.h: the public list_tiff_pages and open_tiff_source open the file and
// call these). For each input: list the pages, open every page, read every block of each page
// in the importer's order, then the first block again.
//
// What must hold: no crash, hang, leak or read outside the input; every refusal is
// kInvalidArgument (not a TIFF), kCorrupt, kUnsupported or kNotFound with a message naming the
// input; a page listed as importable opens unless its tiles prove damaged (kCorrupt), a page
// listed as unsupported is refused with the listed reason, and an open page has the listed
// shape; a read fails only with kCorrupt or kUnsupported naming the input, and a block read
// twice gives the same samples.
//
// Pages larger than 4096 x 4096 or 64 MiB of samples are opened but not read, and the source
// runs with small limits (decoded tiles of 1 MiB at most, strips of 16 KiB read whole and larger
// ones row by row, a 256 KiB cache), so small inputs reach every path and stay fast.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_helpers.h"
#include "io/blocks.h"
#include "io/tiff_import.h"

namespace tessera::fuzz {
namespace {

constexpr const char* kName = "input.tif";
constexpr int64_t kMaxSide = 4096;
constexpr uint64_t kMaxSampleBytes = uint64_t(64) << 20;
constexpr uint32_t kMaxPages = 16;

io_detail::TiffReadLimits fuzz_limits() {
  io_detail::TiffReadLimits limits;
  limits.cache_bytes = 256 << 10;
  limits.max_strip_bytes = 16 << 10;
  limits.max_tile_bytes = 1 << 20;
  limits.max_libtiff_alloc = 64 << 20;
  return limits;
}

void check_refusal(const Status& status, std::initializer_list<Code> allowed) {
  bool ok = false;
  for (Code c : allowed) ok = ok || status.code() == c;
  FUZZ_CHECK(ok, "unexpected code: " + status.to_string());
  FUZZ_CHECK(status.message().starts_with(std::string(kName) + ": "),
             "the message does not name the input: " + status.message());
}

std::string shape_label(const RasterShape& s) {
  return std::to_string(s.width) + "x" + std::to_string(s.height) + "x" + std::to_string(s.bands) +
         " " + std::string(data_type_name(s.type));
}

// Reads every block of `source` until one fails (as it may: damage).
void read_every_block(RasterSource& source) {
  const RasterShape shape = source.shape();
  const size_t sample_bytes = sample_size(shape.type);
  const uint64_t pixel_bytes = uint64_t(shape.bands) * sample_bytes;
  const Interleave interleave = source.preferred_interleave();
  std::unique_ptr<uint8_t[]> first;
  Region first_block;
  size_t first_size = 0;
  const Status walked = io_detail::for_each_block(
      Region{0, 0, shape.width, shape.height}, 256, pixel_bytes, [&](const Region& block) {
        const size_t size = size_t(block.pixel_count() * pixel_bytes);
        auto buffer = exact_buffer(size);
        const Strides strides =
            Strides::packed(interleave, block.width, block.height, shape.bands, sample_bytes);
        const Status read = source.read(block, buffer.get(), size, strides);
        if (!read.is_ok()) {
          check_refusal(read, {Code::kCorrupt, Code::kUnsupported});
          return read;  // the importer stops at the first failure too
        }
        if (!first) first = std::move(buffer), first_block = block, first_size = size;
        return Status::ok();
      });
  (void)walked;
  if (!first) return;
  // Reads may be repeated (a retried batch) and must give the same samples: the first block
  // again, long after its tiles left the cache.
  auto again = exact_buffer(first_size);
  const Status read = source.read(first_block, again.get(), first_size,
                                  Strides::packed(interleave, first_block.width,
                                                  first_block.height, shape.bands, sample_bytes));
  FUZZ_CHECK(read.is_ok(), "a block that read once fails the second time: " + read.to_string());
  FUZZ_CHECK(std::memcmp(first.get(), again.get(), first_size) == 0,
             "block " + to_string(first_block) + " read twice differs");
}

}  // namespace
}  // namespace tessera::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera;
  using namespace tessera::fuzz;
  const auto input = exact_copy(data, size);  // exactly `size` bytes: ASan sees any overread
  const auto bytes = io_detail::TiffBytes::in_memory(kName, input.get(), size);
  const io_detail::TiffReadLimits limits = fuzz_limits();

  auto pages = io_detail::list_tiff_pages(bytes, limits);
  if (!pages.is_ok()) {
    check_refusal(pages.status(), {Code::kInvalidArgument, Code::kCorrupt});
    return 0;
  }
  for (const TiffPage& page : *pages) {
    if (page.index >= kMaxPages) break;
    TiffSourceOptions options;
    // A palette page is listed as refused (the listing knows no options): open it expanded.
    const bool palette = page.unsupported == "a palette image: import with --expand-palette";
    options.expand_palette = palette;
    auto source = io_detail::open_tiff_source(bytes, page.index, options, limits);
    if (!source.is_ok()) {
      check_refusal(source.status(), {Code::kCorrupt, Code::kUnsupported});
      const std::string prefix = std::string(kName) + ": page " + std::to_string(page.index) + ": ";
      if (!page.unsupported.empty() && !palette)
        FUZZ_CHECK(source.status().message() == prefix + page.unsupported,
                   "listed as '" + page.unsupported + "' but refused with: " + source.status().message());
      else if (page.unsupported.empty())
        FUZZ_CHECK(source.status().code() == Code::kCorrupt,
                   "listed as importable but refused: " + source.status().to_string());
      continue;
    }
    FUZZ_CHECK(page.unsupported.empty() || palette,
               "listed as '" + page.unsupported + "' but opened");
    RasterSource& s = **source;
    const RasterShape expected = palette ? RasterShape{page.shape.width, page.shape.height, 3,
                                                       DataType::kU16}
                                         : page.shape;
    FUZZ_CHECK(s.shape() == expected,
               "opened as " + shape_label(s.shape()) + ", listed as " + shape_label(page.shape));
    FUZZ_CHECK(s.shape().width >= 1 && s.shape().height >= 1 && s.shape().bands >= 1,
               shape_label(s.shape()));
    (void)s.description();
    (void)s.attributes();
    const RasterShape shape = s.shape();
    const uint64_t samples = io_detail::mul_saturated(
        io_detail::mul_saturated(uint64_t(shape.width), uint64_t(shape.height)),
        uint64_t(shape.bands) * sample_size(shape.type));
    if (shape.width > kMaxSide || shape.height > kMaxSide || samples > kMaxSampleBytes) continue;
    read_every_block(s);
  }
  return 0;
}
