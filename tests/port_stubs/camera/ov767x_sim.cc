// The OV767X library simulated: records begin()'s arguments, readFrame() writes the pattern.
#include <Arduino_OV767X_TinyMLx.h>

#include <cstdio>
#include <string>

#include "camera_sim.h"

OV767X Camera;

namespace {
int g_resolution = -1, g_format = -1, g_fps = -1, g_name = -1, g_width = 0, g_height = 0;
}

int OV767X::begin(int resolution, int format, int fps, int camera_name) {
  g_resolution = resolution;
  g_format = format;
  g_fps = fps;
  g_name = camera_name;
  static const int kWidths[] = {640, 352, 320, 176, 160};
  static const int kHeights[] = {480, 240, 240, 144, 120};
  if (resolution < 0 || resolution > 4) return 0;
  g_width = kWidths[resolution];
  g_height = kHeights[resolution];
  return camsim::fail_begin ? 0 : 1;
}

int OV767X::width() const { return g_width; }
int OV767X::height() const { return g_height; }
int OV767X::bytesPerPixel() const { return g_format == GRAYSCALE ? 1 : 2; }

void OV767X::readFrame(void* buffer) {
  // GRAYSCALE keeps one byte per pixel (the library drops U/V), RGB565 two.
  const size_t bytes = static_cast<size_t>(g_width) * g_height * bytesPerPixel();
  uint8_t* out = static_cast<uint8_t*>(buffer);
  for (size_t i = 0; i < bytes; ++i) out[i] = camsim::PatternByte(i, camsim::frames_taken);
  ++camsim::frames_taken;
}

std::string camsim::CheckRequest(int width, int height, int format) {
  const int want_resolution = width == 176 ? QCIF : width == 160 ? QQVGA : -2;
  const int want_format = format == 0 ? GRAYSCALE : RGB565;
  char text[160];
  std::snprintf(text, sizeof(text), "begin(%d, %d, %d, %d) for %dx%d format %d", g_resolution,
                g_format, g_fps, g_name, width, height, format);
  const bool ok = g_resolution == want_resolution && g_format == want_format && g_fps == 5 &&
                  g_name == OV7675 && g_width == width && g_height == height;
  return ok ? "" : text;
}
