# microdeploy's Cortex-M development platform: the arm-none-eabi toolchain comes from PATH
# (Debian's gcc-arm-none-eabi), so nothing is downloaded.
from platformio.public import PlatformBase


class MdcortexmPlatform(PlatformBase):
    def is_embedded(self):
        return True
