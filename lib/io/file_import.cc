// plan_import and detect_raster_format (tessera/convert.h): which reader a file needs, and
// every source it holds opened and checked before anything is written.
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <utility>

#include "tessera/convert.h"
#include "tessera/envi.h"
#include "tessera/openslide.h"
#include "tessera/tiff.h"
#include "util/text.h"

namespace tessera {
namespace {

std::string shape_text(const RasterShape& s) {
  return std::to_string(s.width) + "x" + std::to_string(s.height) + "x" + std::to_string(s.bands) +
         " " + std::string(data_type_name(s.type));
}

// The image a job writes: the one asked for, else the source's own name.
std::string image_of(const ImportOptions& options, const RasterSource& source) {
  return options.image.empty() ? source.image_name() : options.image;
}

Status add_job(ImportPlan& plan, Result<std::unique_ptr<RasterSource>> source, ImportOptions options) {
  if (!source) return source.status();
  // The name is checked now, before the container is created or touched.
  TESSERA_RETURN_IF_ERROR(check_image_name(image_of(options, **source)).with_context((*source)->name()));
  plan.jobs.push_back(ImportJob{std::move(source).value(), std::move(options)});
  return Status::ok();
}

Status plan_envi(const std::string& path, const FileImportOptions& options, ImportPlan& plan) {
  return add_job(plan, open_envi_source(path), options.import);
}

// The pages that are images (not reduced resolutions, not masks) become frames or images; the
// others are named in the notes.
Status plan_tiff(const std::string& path, const FileImportOptions& options, ImportPlan& plan) {
  auto pages = list_tiff_pages(path);
  if (!pages) return pages.status();
  std::vector<const TiffPage*> full;
  for (const TiffPage& page : *pages) {
    const std::string which = path + ": page " + std::to_string(page.index);
    if (page.reduced)
      plan.notes.push_back(which + " is a reduced-resolution image (" + shape_text(page.shape) +
                           "): not imported");
    else if (page.mask)
      plan.notes.push_back(which + " is a transparency mask: not imported");
    else
      full.push_back(&page);
    if (page.subifds)
      plan.notes.push_back(which + " has " + std::to_string(page.subifds) +
                           " SubIFDs (reduced resolutions): not imported");
  }
  if (full.empty()) return Status(Code::kInvalidArgument, path + ": no page of full resolution");
  using Pages = FileImportOptions::Pages;
  if (full.size() > 1 && options.pages == Pages::kUnset)
    return Status(Code::kInvalidArgument,
                  path + " has " + std::to_string(full.size()) +
                      " pages of full resolution: import them with --pages-as frames (one image, "
                      "a frame per page) or --pages-as images (an image per page)");
  for (const TiffPage* page : full)
    if (!page->unsupported.empty())
      return Status(Code::kUnsupported,
                    path + ": page " + std::to_string(page->index) + ": " + page->unsupported);
  if (options.pages == Pages::kFrames)
    for (const TiffPage* page : full)
      if (!(page->shape == full.front()->shape))
        return Status(Code::kInvalidArgument,
                      path + ": page " + std::to_string(page->index) + " is " + shape_text(page->shape) +
                          " but page " + std::to_string(full.front()->index) + " is " +
                          shape_text(full.front()->shape) + ": --pages-as frames needs pages of one size and type");
  std::string image;  // page 0's: the others' are made from it
  for (size_t i = 0; i < full.size(); ++i) {
    auto source = open_tiff_source(path, full[i]->index, options.tiff);
    if (!source) return source.status();
    ImportOptions job = options.import;
    if (i == 0) image = image_of(options.import, **source);
    if (options.pages == Pages::kFrames) {
      job.image = image;
      job.frame = options.import.frame + uint32_t(i);
      job.frame_attributes = full.size() > 1;
    } else {
      job.image = i == 0 ? image : image + "-p" + std::to_string(full[i]->index);
    }
    TESSERA_RETURN_IF_ERROR(add_job(plan, std::move(source), std::move(job)));
  }
  return Status::ok();
}

// Level 0 of the slide, and its associated images as images of their own.
Status plan_slide(const std::string& path, const FileImportOptions& options, ImportPlan& plan) {
  auto slide = list_slide(path);
  if (!slide) return slide.status();
  auto level = open_slide_source(path, 0);
  if (!level) return level.status();
  const std::string image = image_of(options.import, **level);
  ImportOptions main = options.import;
  main.image = image;
  TESSERA_RETURN_IF_ERROR(add_job(plan, std::move(level), std::move(main)));
  if (slide->levels.size() > 1)
    plan.notes.push_back(path + ": " + std::to_string(slide->levels.size() - 1) +
                         " reduced-resolution levels of the slide: not imported");
  if (!options.associated_images) return Status::ok();
  for (const std::string& name : slide->associated) {
    ImportOptions job = options.import;
    job.image = image + "." + name;
    job.frame = 0;
    job.origin_x = job.origin_y = 0;
    TESSERA_RETURN_IF_ERROR(add_job(plan, open_slide_associated(path, name), std::move(job)));
  }
  return Status::ok();
}

}  // namespace

std::string_view raster_format_name(RasterFormat format) {
  switch (format) {
    case RasterFormat::kAuto: return "auto";
    case RasterFormat::kEnvi: return "envi";
    case RasterFormat::kTiff: return "tiff";
    case RasterFormat::kOpenSlide: return "openslide";
  }
  return "?";
}

Result<RasterFormat> parse_raster_format(std::string_view text) {
  for (RasterFormat f : {RasterFormat::kAuto, RasterFormat::kEnvi, RasterFormat::kTiff, RasterFormat::kOpenSlide})
    if (detail::ascii_lower(text) == raster_format_name(f)) return f;
  return Status(Code::kInvalidArgument,
                "unknown format '" + std::string(text) + "' (expected auto, envi, tiff or openslide)");
}

Result<RasterFormat> detect_raster_format(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Status(Code::kNotFound, path + ": no such file");
  if (S_ISDIR(st.st_mode)) return Status(Code::kInvalidArgument, path + ": is a directory, not a raster");
  if (looks_like_tiff(path)) {
    // A vendor's slide in TIFF clothing (Aperio SVS, Leica SCN, Ventana) goes to OpenSlide;
    // a plain tiled TIFF, which OpenSlide would take as "generic-tiff", stays with libtiff:
    // it reads every sample type and keeps every tag. (list_slide fails for a TIFF that is
    // no slide at all: OpenSlide's detection is part of its open.)
    auto slide = list_slide(path);
    return slide && slide->vendor != "generic-tiff" ? RasterFormat::kOpenSlide : RasterFormat::kTiff;
  }
  if (looks_like_slide(path)) return RasterFormat::kOpenSlide;
  if (detail::ascii_lower(std::filesystem::path(path).extension().string()) == ".hdr") {
    // An ENVI header given for its raster: name the files beside it that it may describe.
    const std::filesystem::path header(path);
    std::string rasters;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(header.parent_path().empty() ? "." : header.parent_path(), ec))
      if (entry.path().stem() == header.stem() &&
          detail::ascii_lower(entry.path().extension().string()) != ".hdr" && entry.is_regular_file(ec))
        rasters += (rasters.empty() ? "" : " or ") + entry.path().filename().string();
    return Status(Code::kInvalidArgument,
                  path + ": is an ENVI header: pass the raster file it describes" +
                      (rasters.empty() ? std::string(" (none is beside it)") : " (" + rasters + ")"));
  }
  auto header = find_envi_header(path);
  if (header) return RasterFormat::kEnvi;
  return Status(Code::kInvalidArgument,
                header.status().message() + ", and it is neither a TIFF nor a slide OpenSlide "
                                            "reads: not a raster Tessera recognises (name its format with --format)");
}

Result<ImportPlan> plan_import(const std::string& path, const FileImportOptions& options) {
  ImportPlan plan;
  plan.format = options.format;
  if (plan.format == RasterFormat::kAuto) {
    auto detected = detect_raster_format(path);
    if (!detected) return detected.status();
    plan.format = *detected;
  }
  Status planned;
  switch (plan.format) {
    case RasterFormat::kEnvi: planned = plan_envi(path, options, plan); break;
    case RasterFormat::kTiff: planned = plan_tiff(path, options, plan); break;
    case RasterFormat::kOpenSlide: planned = plan_slide(path, options, plan); break;
    case RasterFormat::kAuto: planned = Status(Code::kInternal, "no format"); break;
  }
  if (!planned) return planned;
  return plan;
}

}  // namespace tessera
