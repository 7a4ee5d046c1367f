#include "render.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

namespace tessera::serve {
namespace {

template <typename T>
void map_samples(const uint8_t* samples, int channels, size_t count, const std::vector<std::pair<double, double>>& ranges,
                 uint8_t* out) {
  double scale[3], lo[3];
  for (int c = 0; c < channels; ++c) {
    lo[c] = ranges[size_t(c)].first;
    scale[c] = 255.0 / (ranges[size_t(c)].second - ranges[size_t(c)].first);
  }
  for (size_t i = 0; i < count; ++i)
    for (int c = 0; c < channels; ++c) {
      T v;
      std::memcpy(&v, samples + (i * size_t(channels) + size_t(c)) * sizeof(T), sizeof(T));
      const double d = (double(v) - lo[c]) * scale[c];
      out[i * size_t(channels) + size_t(c)] = d >= 0 ? uint8_t(std::min(255.0, d + 0.5)) : uint8_t(0);  // NaN: 0
    }
}

}  // namespace

Picture to_picture(std::vector<uint8_t>&& input, DataType type, int channels, int64_t width, int64_t height,
                   const std::vector<std::pair<double, double>>& ranges) {
  Picture p{width, height, channels, {}};
  const size_t count = size_t(width) * size_t(height);
  bool identity = type == DataType::kU8;
  for (int c = 0; c < channels; ++c) identity = identity && ranges[size_t(c)] == std::pair<double, double>(0, 255);
  if (identity) {
    p.pixels = std::move(input);
    return p;
  }
  p.pixels.resize(count * size_t(channels));
  const uint8_t* samples = input.data();
  uint8_t* out = p.pixels.data();
  switch (type) {
    case DataType::kU8: map_samples<uint8_t>(samples, channels, count, ranges, out); break;
    case DataType::kU16: map_samples<uint16_t>(samples, channels, count, ranges, out); break;
    case DataType::kU32: map_samples<uint32_t>(samples, channels, count, ranges, out); break;
    case DataType::kU64: map_samples<uint64_t>(samples, channels, count, ranges, out); break;
    case DataType::kI8: map_samples<int8_t>(samples, channels, count, ranges, out); break;
    case DataType::kI16: map_samples<int16_t>(samples, channels, count, ranges, out); break;
    case DataType::kI32: map_samples<int32_t>(samples, channels, count, ranges, out); break;
    case DataType::kI64: map_samples<int64_t>(samples, channels, count, ranges, out); break;
    case DataType::kF32: map_samples<float>(samples, channels, count, ranges, out); break;
    case DataType::kF64: map_samples<double>(samples, channels, count, ranges, out); break;
  }
  return p;
}

Picture to_gray(Picture picture) {
  if (picture.channels == 1) return picture;
  Picture g{picture.width, picture.height, 1, std::vector<uint8_t>(size_t(picture.width) * size_t(picture.height))};
  for (size_t i = 0; i < g.pixels.size(); ++i) {
    const uint8_t* p = &picture.pixels[3 * i];
    g.pixels[i] = uint8_t((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000);
  }
  return g;
}

Picture resize(Picture in, int64_t width, int64_t height) {
  if (in.width == width && in.height == height) return in;
  Picture out{width, height, in.channels, std::vector<uint8_t>(size_t(width) * size_t(height) * size_t(in.channels))};
  const int ch = in.channels;
  // Source columns [x0[x], x0[x+1]) for each output column (at least one), and rows alike.
  const auto spans = [](int64_t from, int64_t to) {
    std::vector<int64_t> at(size_t(to) + 1);
    for (int64_t i = 0; i <= to; ++i) at[size_t(i)] = int64_t((__int128(i) * from) / to);
    return at;
  };
  const std::vector<int64_t> xs = spans(in.width, width), ys = spans(in.height, height);
  for (int64_t y = 0; y < height; ++y) {
    const int64_t y0 = std::min(ys[size_t(y)], in.height - 1), y1 = std::max(y0 + 1, ys[size_t(y) + 1]);
    for (int64_t x = 0; x < width; ++x) {
      const int64_t x0 = std::min(xs[size_t(x)], in.width - 1), x1 = std::max(x0 + 1, xs[size_t(x) + 1]);
      for (int c = 0; c < ch; ++c) {
        uint64_t sum = 0;
        for (int64_t sy = y0; sy < y1; ++sy)
          for (int64_t sx = x0; sx < x1; ++sx) sum += in.pixels[size_t((sy * in.width + sx) * ch + c)];
        const uint64_t n = uint64_t((y1 - y0) * (x1 - x0));
        out.pixels[size_t((y * width + x) * ch + c)] = uint8_t((sum + n / 2) / n);
      }
    }
  }
  return out;
}

Result<std::string> encode(const Picture& picture, Format format, int quality) {
  if (format == Format::kJpeg) {
    std::unique_ptr<void, decltype(&tjDestroy)> handle(tjInitCompress(), tjDestroy);
    if (!handle) return Status(Code::kInternal, "JPEG encoder: tjInitCompress failed");
    unsigned char* jpeg = nullptr;
    unsigned long size = 0;
    const int rc = tjCompress2(handle.get(), picture.pixels.data(), int(picture.width), 0, int(picture.height),
                               picture.channels == 1 ? TJPF_GRAY : TJPF_RGB, &jpeg, &size,
                               picture.channels == 1 ? TJSAMP_GRAY : TJSAMP_420, quality, 0);
    std::unique_ptr<unsigned char, decltype(&tjFree)> owned(jpeg, tjFree);
    if (rc != 0) return Status(Code::kInternal, std::string("JPEG encoder: ") + tjGetErrorStr2(handle.get()));
    return std::string(reinterpret_cast<const char*>(jpeg), size);
  }
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(picture.width);
  image.height = png_uint_32(picture.height);
  image.format = picture.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, picture.pixels.data(), 0, nullptr))
    return Status(Code::kInternal, std::string("PNG encoder: ") + image.message);
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, picture.pixels.data(), 0, nullptr))
    return Status(Code::kInternal, std::string("PNG encoder: ") + image.message);
  out.resize(size);
  return out;
}

const char* content_type(Format format) { return format == Format::kJpeg ? "image/jpeg" : "image/png"; }

}  // namespace tessera::serve
