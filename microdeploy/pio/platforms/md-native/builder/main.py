# SCons build script of microdeploy's md-native platform: builds `.pio/build/<env>/program`
# with the host's g++/gcc. `pio run -t exec` (or `-t upload`) runs it.
from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()

env.Replace(
    AR="ar",
    AS="as",
    CC="gcc",
    CXX="g++",
    OBJCOPY="objcopy",
    RANLIB="ranlib",
    PROGNAME="program",
    PROGSUFFIX="",
)

env.Append(
    CCFLAGS=["-O2", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections"],
    CFLAGS=["-std=gnu11"],
    CXXFLAGS=["-std=gnu++17", "-fno-exceptions", "-fno-rtti"],
    LINKFLAGS=["-Wl,--gc-sections"],
)

program = env.BuildProgram()
run_action = env.VerboseAction("$SOURCE $PROGRAM_ARGS", "Running $SOURCE")
AlwaysBuild(env.Alias("exec", program, run_action))
AlwaysBuild(env.Alias("upload", program, run_action))
Default([program])
