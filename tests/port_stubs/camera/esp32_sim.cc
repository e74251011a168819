// esp32-camera simulated: keeps the camera_config_t, hands out one frame buffer of the asked
// size and format (or of sensor_width when set), counts gets and returns.
#include <cstdio>
#include <string>
#include <vector>

#include "camera_sim.h"
#include "esp_camera.h"

namespace {
camera_config_t g_config;
bool g_init = false;
camera_fb_t g_fb;
std::vector<uint8_t> g_buffer;
bool g_out = false;  // the one buffer is handed out

void Size(framesize_t size, int* width, int* height) {
  static const int kSizes[][2] = {{96, 96},   {160, 120}, {176, 144}, {240, 176}, {240, 240},
                                  {320, 240}, {400, 296}, {480, 320}, {640, 480}};
  *width = kSizes[size][0];
  *height = kSizes[size][1];
}
}  // namespace

esp_err_t esp_camera_init(const camera_config_t* config) {
  g_config = *config;
  g_init = !camsim::fail_begin;
  return g_init ? ESP_OK : 0x20001;  // ESP_ERR_CAMERA_NOT_DETECTED
}

camera_fb_t* esp_camera_fb_get(void) {
  if (!g_init || g_out) return nullptr;  // one buffer: not given back, no next frame
  int width = 0, height = 0;
  Size(g_config.frame_size, &width, &height);
  if (camsim::sensor_width) width = camsim::sensor_width;
  const size_t bpp = g_config.pixel_format == PIXFORMAT_GRAYSCALE ? 1 : 2;
  g_buffer.assign(static_cast<size_t>(width) * height * bpp, 0);
  for (size_t i = 0; i < g_buffer.size(); ++i) {
    g_buffer[i] = camsim::PatternByte(i, camsim::frames_taken);
  }
  g_fb = {g_buffer.data(), g_buffer.size(), static_cast<size_t>(width), static_cast<size_t>(height),
          g_config.pixel_format};
  g_out = true;
  ++camsim::frames_taken;
  return &g_fb;
}

void esp_camera_fb_return(camera_fb_t* fb) {
  if (fb == &g_fb && g_out) {
    g_out = false;
    ++camsim::frames_back;
  }
}

std::string camsim::CheckRequest(int width, int height, int format) {
  int w = 0, h = 0;
  Size(g_config.frame_size, &w, &h);
  const pixformat_t want = format == 0 ? PIXFORMAT_GRAYSCALE : PIXFORMAT_RGB565;
  char text[200];
  std::snprintf(text, sizeof(text),
                "size %dx%d format %d xclk %d sda %d scl %d d0 %d d7 %d vsync %d href %d pclk %d",
                w, h, g_config.pixel_format, g_config.pin_xclk, g_config.pin_sccb_sda,
                g_config.pin_sccb_scl, g_config.pin_d0, g_config.pin_d7, g_config.pin_vsync,
                g_config.pin_href, g_config.pin_pclk);
  // The pins the test compiles in (the ESP32-S3-EYE's, from its board definition).
  const bool ok =
      w == width && h == height && g_config.pixel_format == want &&
      g_config.pin_xclk == MD_CAMERA_PIN_XCLK && g_config.pin_sccb_sda == MD_CAMERA_PIN_SIOD &&
      g_config.pin_sccb_scl == MD_CAMERA_PIN_SIOC && g_config.pin_d0 == MD_CAMERA_PIN_D0 &&
      g_config.pin_d7 == MD_CAMERA_PIN_D7 && g_config.pin_vsync == MD_CAMERA_PIN_VSYNC &&
      g_config.pin_href == MD_CAMERA_PIN_HREF && g_config.pin_pclk == MD_CAMERA_PIN_PCLK &&
      g_config.xclk_freq_hz == 20000000 && g_config.fb_count == 2 &&
      g_config.grab_mode == CAMERA_GRAB_LATEST;
  return ok ? "" : text;
}
