// Camera driver of the host ("native") target: frames come from files, so the whole camera
// path — capture, device preprocessing, inference, `frame`/`res`/`time` records — runs on a
// computer in tests and demos.
//
// MD_CAMERA_FRAMES (environment) names a folder, whose *.pgm / *.ppm / *.raw files are taken in
// name order, or a text file listing frame paths one per line. Frames are served in order and
// start over after the last (a camera never runs dry). Each frame must be of the configured size
// and format: binary PGM (P5, maxval 255) for gray8, binary PPM (P6, maxval 255) for rgb888, or
// .raw holding exactly the frame's bytes (any format, e.g. RGB565 as a sensor sends it).
#include "md/camera/camera.h"

#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "md/camera/driver_state.h"

namespace md {
namespace camera {
namespace {

constexpr int kMaxFrames = 512;
constexpr int kMaxPath = 512;

uint8_t g_frame[kFrameBytes];
char g_paths[kMaxFrames][kMaxPath];
int g_count = 0;
int g_next = 0;
DriverState g_state;
char g_error[kMaxPath + 128] = "";

CameraStatus Fail(CameraStatus status, const char* what, const char* path) {
  std::snprintf(g_error, sizeof(g_error), "%s%s%s", what, path[0] ? ": " : "", path);
  return status;
}

bool EndsWith(const char* text, const char* suffix) {
  const size_t n = std::strlen(text), m = std::strlen(suffix);
  return n >= m && std::strcmp(text + n - m, suffix) == 0;
}

bool IsFrameFile(const char* name) {
  return EndsWith(name, ".pgm") || EndsWith(name, ".ppm") || EndsWith(name, ".raw");
}

bool AddPath(const char* folder, const char* name) {
  if (g_count >= kMaxFrames) return false;
  const int n = folder[0] ? std::snprintf(g_paths[g_count], kMaxPath, "%s/%s", folder, name)
                          : std::snprintf(g_paths[g_count], kMaxPath, "%s", name);
  if (n <= 0 || n >= kMaxPath) return false;
  ++g_count;
  return true;
}

int ComparePaths(const void* a, const void* b) {
  return std::strcmp(static_cast<const char*>(a), static_cast<const char*>(b));
}

CameraStatus ListFrames(const char* source) {
  if (DIR* dir = opendir(source)) {
    while (dirent* entry = readdir(dir)) {
      if (IsFrameFile(entry->d_name) && !AddPath(source, entry->d_name)) break;
    }
    closedir(dir);
    std::qsort(g_paths, static_cast<size_t>(g_count), kMaxPath, ComparePaths);
  } else if (FILE* list = std::fopen(source, "r")) {
    char line[kMaxPath];
    while (std::fgets(line, sizeof(line), list) != nullptr) {
      line[std::strcspn(line, "\r\n")] = '\0';
      if (line[0] != '\0' && line[0] != '#' && !AddPath("", line)) break;
    }
    std::fclose(list);
  } else {
    return Fail(CameraStatus::kNoFrame, "MD_CAMERA_FRAMES: no such folder or list file", source);
  }
  if (g_count == 0) return Fail(CameraStatus::kNoFrame, "no frame files in", source);
  return CameraStatus::kOk;
}

// Reads a PNM header field (skipping whitespace and # comments); -1 when malformed.
long ReadField(FILE* file) {
  int c = std::fgetc(file);
  while (c == '#' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
    if (c == '#') {
      while (c != '\n' && c != EOF) c = std::fgetc(file);
    }
    c = std::fgetc(file);
  }
  long value = -1;
  while (c >= '0' && c <= '9') {
    value = (value < 0 ? 0 : value * 10) + (c - '0');
    if (value > 1000000) return -1;
    c = std::fgetc(file);
  }
  return value;  // the single whitespace after the field has been consumed
}

CameraStatus LoadFrame(const char* path) {
  FILE* file = std::fopen(path, "rb");
  if (file == nullptr) return Fail(CameraStatus::kNoFrame, "cannot open frame", path);
  const CameraConfig& config = g_state.config;
  const size_t bytes = g_state.ConfiguredBytes();
  CameraStatus status = CameraStatus::kOk;
  if (!EndsWith(path, ".raw")) {
    const bool grey = EndsWith(path, ".pgm");
    const PixelFormat format = grey ? PixelFormat::kGray8 : PixelFormat::kRgb888;
    char magic[3] = {0, 0, 0};
    const bool magic_ok =
        std::fread(magic, 1, 2, file) == 2 && magic[0] == 'P' && magic[1] == (grey ? '5' : '6');
    const long width = magic_ok ? ReadField(file) : -1;
    const long height = width > 0 ? ReadField(file) : -1;
    const long maxval = height > 0 ? ReadField(file) : -1;
    if (maxval != 255) {
      status = Fail(CameraStatus::kDeviceError,
                    grey ? "not a binary 8-bit PGM (P5, maxval 255)"
                         : "not a binary 8-bit PPM (P6, maxval 255)",
                    path);
    } else if (width != config.width || height != config.height || format != config.format) {
      char what[128];
      std::snprintf(what, sizeof(what), "frame is %ldx%ld %s, the camera gives %dx%d %s", width,
                    height, PixelFormatName(format), config.width, config.height,
                    PixelFormatName(config.format));
      status = Fail(CameraStatus::kUnsupported, what, path);
    }
  }
  if (status == CameraStatus::kOk && std::fread(g_frame, 1, bytes, file) != bytes) {
    status = Fail(CameraStatus::kDeviceError, "frame file is shorter than one frame", path);
  }
  std::fclose(file);
  return status;
}

}  // namespace

CameraStatus Begin(const CameraConfig& config) {
  if (!g_state.StartOnce(config)) return g_state.begin_status;
  if (FrameBytes(config.width, config.height, config.format) > kFrameBytes) {
    g_state.begin_status =
        Fail(CameraStatus::kUnsupported,
             "frame larger than the compile-time MD_CAMERA_WIDTH/HEIGHT/FORMAT", "");
    return g_state.begin_status;
  }
  const char* source = std::getenv("MD_CAMERA_FRAMES");
  if (source == nullptr || source[0] == '\0') {
    g_state.begin_status =
        Fail(CameraStatus::kNoFrame,
             "MD_CAMERA_FRAMES is not set (a folder of .pgm/.ppm/.raw frames)", "");
    return g_state.begin_status;
  }
  g_state.begin_status = ListFrames(source);
  return g_state.begin_status;
}

CameraStatus Capture(Frame* frame) {
  if (!g_state.Ready()) return CameraStatus::kNotStarted;
  const int index = g_next;
  g_next = (g_next + 1) % g_count;
  const CameraStatus status = LoadFrame(g_paths[index]);
  if (status != CameraStatus::kOk) return status;
  g_error[0] = '\0';
  g_state.Fill(frame, g_frame);
  return CameraStatus::kOk;
}

void Release() {}

const char* DriverName() { return "native_frames"; }

const char* LastError() { return g_error; }

}  // namespace camera
}  // namespace md
