// Stand-in for the OV767X class of the Harvard_TinyMLx library (tinyMLx/arduino-library,
// src/OV767X_TinyMLx.h): the enums and the members the ov767x camera driver uses, with the
// library's names and signatures. camera/ov767x_sim.cc implements them.
#ifndef MD_PORT_STUBS_ARDUINO_OV767X_TINYMLX_H_
#define MD_PORT_STUBS_ARDUINO_OV767X_TINYMLX_H_

#include <Arduino.h>

enum { YUV422 = 0, RGB444 = 1, RGB565 = 2, GRAYSCALE = 4 };
enum { OV7670 = 0, OV7675 = 1 };
enum { VGA = 0, CIF = 1, QVGA = 2, QCIF = 3, QQVGA = 4 };

class OV767X {
 public:
  int begin(int resolution, int format, int fps, int camera_name);  // 1 = ok, 0 = failed
  int width() const;
  int height() const;
  int bytesPerPixel() const;
  void readFrame(void* buffer);
};

extern OV767X Camera;

#endif  // MD_PORT_STUBS_ARDUINO_OV767X_TINYMLX_H_
