// Camera driver for ESP32 / ESP32-S3 boards through Espressif's esp32-camera component
// (https://github.com/espressif/esp32-camera, driver/include/esp_camera.h):
//   esp_err_t esp_camera_init(const camera_config_t* config);
//   camera_fb_t* esp_camera_fb_get(void);   // buf, len, width, height, format
//   void esp_camera_fb_return(camera_fb_t* fb);
// The sensor's pins come from the board definition's [camera] defines (MD_CAMERA_PIN_*; -1 =
// not connected). The component owns the frame buffers: esp_camera_init allocates
// MD_CAMERA_FB_COUNT of them (PSRAM unless MD_CAMERA_FB_IN_DRAM) once, at start-up; Capture()
// hands one out and Release() gives it back, nothing is copied or allocated per frame. RGB565
// frames are taken as high byte first (the order the sensor sends them).
// NOT VERIFIED ON HARDWARE: compiled against tests/port_stubs/espidf/esp_camera.h (the
// declarations above) only.
#include "md/camera/camera.h"

#include <cstdio>

#include "esp_camera.h"
#include "md/camera/driver_state.h"

#ifndef MD_CAMERA_XCLK_HZ
#define MD_CAMERA_XCLK_HZ 20000000
#endif
#ifndef MD_CAMERA_FB_COUNT
#define MD_CAMERA_FB_COUNT 2  // with CAMERA_GRAB_LATEST: always the newest frame
#endif
#if !defined(MD_CAMERA_PIN_XCLK) || !defined(MD_CAMERA_PIN_SIOD) || \
    !defined(MD_CAMERA_PIN_SIOC) || !defined(MD_CAMERA_PIN_D0) || !defined(MD_CAMERA_PIN_VSYNC)
#error "esp32_camera: the board definition's [camera] defines must give MD_CAMERA_PIN_* pins"
#endif
#ifndef MD_CAMERA_PIN_PWDN
#define MD_CAMERA_PIN_PWDN -1
#endif
#ifndef MD_CAMERA_PIN_RESET
#define MD_CAMERA_PIN_RESET -1
#endif

namespace md {
namespace camera {
namespace {

DriverState g_state;
camera_fb_t* g_fb = nullptr;
char g_error[96] = "";

bool FrameSize(int width, int height, framesize_t* size) {
  struct Known {
    int width, height;
    framesize_t size;
  };
  static const Known kSizes[] = {
      {96, 96, FRAMESIZE_96X96},   {160, 120, FRAMESIZE_QQVGA},   {176, 144, FRAMESIZE_QCIF},
      {240, 176, FRAMESIZE_HQVGA}, {240, 240, FRAMESIZE_240X240}, {320, 240, FRAMESIZE_QVGA},
      {640, 480, FRAMESIZE_VGA},
  };
  for (const Known& k : kSizes) {
    if (k.width == width && k.height == height) {
      *size = k.size;
      return true;
    }
  }
  return false;
}

CameraStatus Fail(CameraStatus status, const char* message) {
  std::snprintf(g_error, sizeof(g_error), "%s", message);
  return status;
}

}  // namespace

CameraStatus Begin(const CameraConfig& config) {
  if (!g_state.StartOnce(config)) return g_state.begin_status;
  framesize_t size = FRAMESIZE_QQVGA;
  if (!FrameSize(config.width, config.height, &size) ||
      (config.format != PixelFormat::kGray8 && config.format != PixelFormat::kRgb565Be)) {
    g_state.begin_status =
        Fail(CameraStatus::kUnsupported,
             "esp32-camera: use 96x96, qqvga, qcif, hqvga, 240x240, qvga or vga, "
             "grayscale or rgb565");
    return g_state.begin_status;
  }
  camera_config_t c = {};
  c.pin_pwdn = MD_CAMERA_PIN_PWDN;
  c.pin_reset = MD_CAMERA_PIN_RESET;
  c.pin_xclk = MD_CAMERA_PIN_XCLK;
  c.pin_sccb_sda = MD_CAMERA_PIN_SIOD;
  c.pin_sccb_scl = MD_CAMERA_PIN_SIOC;
  c.pin_d7 = MD_CAMERA_PIN_D7;
  c.pin_d6 = MD_CAMERA_PIN_D6;
  c.pin_d5 = MD_CAMERA_PIN_D5;
  c.pin_d4 = MD_CAMERA_PIN_D4;
  c.pin_d3 = MD_CAMERA_PIN_D3;
  c.pin_d2 = MD_CAMERA_PIN_D2;
  c.pin_d1 = MD_CAMERA_PIN_D1;
  c.pin_d0 = MD_CAMERA_PIN_D0;
  c.pin_vsync = MD_CAMERA_PIN_VSYNC;
  c.pin_href = MD_CAMERA_PIN_HREF;
  c.pin_pclk = MD_CAMERA_PIN_PCLK;
  c.xclk_freq_hz = MD_CAMERA_XCLK_HZ;
  c.ledc_timer = LEDC_TIMER_0;
  c.ledc_channel = LEDC_CHANNEL_0;
  c.pixel_format = config.format == PixelFormat::kGray8 ? PIXFORMAT_GRAYSCALE : PIXFORMAT_RGB565;
  c.frame_size = size;
  c.jpeg_quality = 12;  // unused: no JPEG
  c.fb_count = MD_CAMERA_FB_COUNT;
#ifdef MD_CAMERA_FB_IN_DRAM
  c.fb_location = CAMERA_FB_IN_DRAM;
#else
  c.fb_location = CAMERA_FB_IN_PSRAM;
#endif
  c.grab_mode = CAMERA_GRAB_LATEST;
  const esp_err_t err = esp_camera_init(&c);
  if (err != ESP_OK) {
    std::snprintf(g_error, sizeof(g_error), "esp_camera_init failed: error 0x%x", err);
    g_state.begin_status = CameraStatus::kDeviceError;
  }
  return g_state.begin_status;
}

CameraStatus Capture(Frame* frame) {
  if (!g_state.Ready()) return CameraStatus::kNotStarted;
  if (g_fb != nullptr) Release();  // a frame never given back would starve the driver
  g_fb = esp_camera_fb_get();
  if (g_fb == nullptr) return Fail(CameraStatus::kNoFrame, "esp_camera_fb_get gave no frame");
  const PixelFormat format =
      g_fb->format == PIXFORMAT_GRAYSCALE ? PixelFormat::kGray8 : PixelFormat::kRgb565Be;
  if (static_cast<int>(g_fb->width) != g_state.config.width ||
      static_cast<int>(g_fb->height) != g_state.config.height ||
      (g_fb->format != PIXFORMAT_GRAYSCALE && g_fb->format != PIXFORMAT_RGB565) ||
      g_fb->len < FrameBytes(g_state.config.width, g_state.config.height, format)) {
    Release();
    return Fail(CameraStatus::kUnsupported, "esp32-camera frame is not of the configured size");
  }
  g_state.Fill(frame, g_fb->buf, g_fb->len, format);
  return CameraStatus::kOk;
}

void Release() {
  if (g_fb != nullptr) esp_camera_fb_return(g_fb);
  g_fb = nullptr;
}

const char* DriverName() { return "esp32_camera"; }

const char* LastError() { return g_error; }

}  // namespace camera
}  // namespace md
