// What the simulated camera SDKs (ov767x_sim.cc, esp32_sim.cc) were asked and what they give.
#ifndef MD_PORT_STUBS_CAMERA_SIM_H_
#define MD_PORT_STUBS_CAMERA_SIM_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace camsim {

extern bool fail_begin;   // the sensor does not answer
extern int sensor_width;  // what the sensor delivers (0: what it was asked for)
extern int frames_taken;  // frames handed out
extern int frames_back;   // frames given back (esp32-camera)
// The simulated sensor's pixel bytes: byte i of frame n is (i * 7 + n) & 0xFF.
inline uint8_t PatternByte(size_t i, int n) { return static_cast<uint8_t>((i * 7 + n) & 0xFF); }

// The driver-specific checks of what the driver asked the SDK: "" when right, else why not.
std::string CheckRequest(int width, int height, int format);

}  // namespace camsim

#endif  // MD_PORT_STUBS_CAMERA_SIM_H_
