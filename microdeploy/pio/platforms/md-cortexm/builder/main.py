# SCons build script of microdeploy's md-cortexm platform.
#
# Toolchain: Debian's arm-none-eabi-* from PATH (nothing is downloaded). The board JSON (written
# by `microdeploy init` into the project's boards/ from board_defs/<board>.toml) gives the CPU,
# FPU and the memory budget; this script turns the budget into the linker script, so firmware
# that does not fit fails to link. Outputs firmware.elf, firmware.bin and firmware.map.
import os
import sys
import time

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()
PLATFORM_DIR = platform.get_dir()

cpu = board.get("build.cpu", "cortex-m4")
fpu = board.get("build.fpu", "")
machine_flags = ["-mcpu=%s" % cpu, "-mthumb"]
if fpu:
    machine_flags += ["-mfpu=%s" % fpu, "-mfloat-abi=%s" % board.get("build.float_abi", "hard")]
else:
    machine_flags += ["-mfloat-abi=soft"]

env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-as",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    GDB="arm-none-eabi-gdb",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"],
    SIZEPROGREGEXP=r"^(?:\.isr_vector|\.text|\.ARM\.exidx|\.ARM\.extab|\.preinit_array|"
    r"\.init_array|\.fini_array|\.data)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.stack)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
)

map_path = os.path.join("$BUILD_DIR", "firmware.map")
env.Append(
    ASFLAGS=machine_flags,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CCFLAGS=machine_flags
    + ["-O2", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections", "-fno-common"],
    CFLAGS=["-std=gnu11"],
    CXXFLAGS=[
        "-std=gnu++17",
        "-fno-exceptions",
        "-fno-rtti",
        "-fno-threadsafe-statics",
        "-fno-use-cxa-atexit",
    ],
    LINKFLAGS=machine_flags
    + [
        "--specs=nano.specs",
        "--specs=nosys.specs",
        "-Wl,--gc-sections",
        "-Wl,-Map=%s" % map_path,
        "-Wl,--no-warn-rwx-segments",
    ],
    LIBS=["m"],
)

# The linker script, generated from the board's budget.
def _hex(value):
    return "0x%08X" % int(value)


build_dir = env.subst("$BUILD_DIR")
os.makedirs(build_dir, exist_ok=True)
fields = {
    "FLASH_ORIGIN": _hex(board.get("build.md_flash_origin", 0)),
    "FLASH_LENGTH": str(int(board.get("upload.maximum_size"))),
    "RAM_ORIGIN": _hex(board.get("build.md_ram_origin", 0x20000000)),
    "RAM_LENGTH": str(int(board.get("upload.maximum_ram_size"))),
    "STACK_BYTES": str(int(board.get("build.md_stack_bytes", 16384))),
}
with open(os.path.join(PLATFORM_DIR, "ldscripts", "cortexm.ld.in"), encoding="utf8") as fp:
    ld_text = fp.read()
for key, value in fields.items():
    ld_text = ld_text.replace("@%s@" % key, value)
ld_path = os.path.join(build_dir, "md_cortexm.ld")
if not os.path.isfile(ld_path) or open(ld_path, encoding="utf8").read() != ld_text:
    with open(ld_path, "w", encoding="utf8") as fp:
        fp.write(ld_text)
env.Replace(LDSCRIPT_PATH=ld_path)

# Reset code and vector table (weak handlers a runtime port may override).
env.BuildSources(os.path.join("$BUILD_DIR", "md_startup"), os.path.join(PLATFORM_DIR, "startup"))

target_elf = env.BuildProgram()
env.Depends(target_elf, ld_path)
env.SideEffect(map_path, target_elf)
target_bin = env.Command(
    os.path.join("$BUILD_DIR", "firmware.bin"),
    target_elf,
    env.VerboseAction("$OBJCOPY -O binary $SOURCE $TARGET", "Building $TARGET"),
)

AlwaysBuild(env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Size $SOURCE")))

# `pio run -t exec` runs the firmware under QEMU when the board is emulated. There is nothing
# to upload to an emulated board: `upload` only says so (so `pio test` goes straight from
# building to test_testing_command, which starts QEMU), and `microdeploy flash` starts QEMU.
qemu_machine = board.get("build.md_qemu_machine", "")


def _nothing_to_upload(target, source, env):
    return 0


if qemu_machine:
    run_action = env.VerboseAction(
        "qemu-system-arm -M %s -nographic -semihosting-config enable=on,target=native "
        "-kernel $SOURCE" % qemu_machine,
        "Running $SOURCE under QEMU (%s)" % qemu_machine,
    )
    AlwaysBuild(env.Alias("exec", target_elf, run_action))
    if not env.GetProjectOption("upload_command", ""):
        AlwaysBuild(
            env.Alias(
                "upload",
                target_elf,
                env.VerboseAction(_nothing_to_upload, "Emulated board: nothing to upload"),
            )
        )
elif env.GetProjectOption("upload_command", ""):
    AlwaysBuild(env.Alias("upload", target_elf, env.VerboseAction("$UPLOADCMD", "Uploading")))
elif env.subst("$UPLOAD_PROTOCOL") == "stlink":
    # A real board with an ST-LINK (STM32 bare-metal variants): st-flash from Debian's
    # stlink-tools writes the raw image at the board's flash origin and resets the chip.
    env.Replace(
        UPLOADER="st-flash",
        UPLOADCMD="$UPLOADER --reset write $SOURCE %s" % fields["FLASH_ORIGIN"],
    )
    AlwaysBuild(env.Alias("upload", target_bin, env.VerboseAction("$UPLOADCMD", "Uploading")))
elif env.subst("$UPLOAD_PROTOCOL") == "sam-ba":
    # Boards with the Arduino (SAM-BA/bossa) bootloader, e.g. the Nano 33 BLE: a 1200 bps touch
    # makes the bootloader take over the USB port, then bossac writes the application, which
    # the bootloader places at its own offset.
    def _touch_1200bps(target, source, env):
        import serial  # pyserial comes with PlatformIO

        port = env.subst("$UPLOAD_PORT")
        if not port:
            sys.stderr.write("Error: give the board's serial port (upload_port / --port)\n")
            return 1
        serial.Serial(port, 1200).close()
        time.sleep(2.0)  # the bootloader re-enumerates
        return 0

    env.Replace(
        UPLOADER="bossac",
        UPLOADCMD='$UPLOADER --port="$UPLOAD_PORT" -U -i -e -w $SOURCE -R',
    )
    AlwaysBuild(
        env.Alias(
            "upload",
            target_bin,
            [
                env.VerboseAction(_touch_1200bps, "Resetting into the bootloader (1200 bps)"),
                env.VerboseAction("$UPLOADCMD", "Uploading"),
            ],
        )
    )

Default([target_elf, target_bin])
