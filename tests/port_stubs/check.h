// The checks of the programs that run our code against the simulated SDKs
// (port_sim_main.cc, camera/camera_sim_main.cc): `PASS <case>` or `FAIL <case>:
// <detail>` per check, and the failures counted for the exit status.
#ifndef MD_PORT_STUBS_CHECK_H_
#define MD_PORT_STUBS_CHECK_H_

#include <cstdio>
#include <string>

namespace sim_check {

inline int& Failures() {
  static int failures = 0;
  return failures;
}

inline void Check(bool ok, const char* name, const std::string& detail = "") {
  if (ok) {
    std::printf("PASS %s\n", name);
  } else {
    std::printf("FAIL %s: %s\n", name, detail.c_str());
    ++Failures();
  }
}

// The program's exit status: 1 if any check failed.
inline int ExitStatus() { return Failures() == 0 ? 0 : 1; }

}  // namespace sim_check

#endif  // MD_PORT_STUBS_CHECK_H_
