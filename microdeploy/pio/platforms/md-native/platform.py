# microdeploy's host development platform: nothing to install, the host compilers are used.
from platformio.public import PlatformBase


class MdnativePlatform(PlatformBase):
    def is_embedded(self):
        return False
