/* QEMU TCG plugin: exact instruction counts per guest address inside a window.
 *
 * Arguments: on=ADDR (the window opens when the instruction at ADDR executes, e.g. the first
 * instruction of md::Interpreter::Invoke), off=ADDR (it closes there, e.g. the return address
 * of the call), out=PATH. At exit PATH gets "windows N" and one "address count" line per
 * instruction executed inside a window (hex address, decimal count). Every instruction gets its
 * own execution callback: slow, and exact. Code must lie below 4 MB (the MPS2 code memory). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;

#define CODE_BYTES (4u << 20)

static uint64_t *counts; /* per halfword address: Thumb instructions are 2-byte aligned */
static uint64_t on_address, off_address, windows;
static int inside;
static char out_path[1024] = "insn_profile.txt";

static void on_exec(unsigned int vcpu, void *userdata) {
  (void)vcpu;
  const uint64_t address = (uint64_t)(uintptr_t)userdata;
  if (address == on_address) {
    if (!inside) ++windows;
    inside = 1;
  } else if (address == off_address) {
    inside = 0;
  }
  if (inside && address < CODE_BYTES) ++counts[address >> 1];
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  const size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t i = 0; i < n; ++i) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    const uint64_t address = qemu_plugin_insn_vaddr(insn);
    qemu_plugin_register_vcpu_insn_exec_cb(insn, on_exec, QEMU_PLUGIN_CB_NO_REGS,
                                           (void *)(uintptr_t)address);
  }
}

static void on_exit_write(qemu_plugin_id_t id, void *userdata) {
  (void)id;
  (void)userdata;
  FILE *f = fopen(out_path, "w");
  if (f == NULL) return;
  fprintf(f, "windows %llu\n", (unsigned long long)windows);
  for (uint64_t i = 0; i < CODE_BYTES / 2; ++i) {
    if (counts[i] != 0) {
      fprintf(f, "%llx %llu\n", (unsigned long long)(i << 1), (unsigned long long)counts[i]);
    }
  }
  fclose(f);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv) {
  (void)info;
  counts = calloc(CODE_BYTES / 2, sizeof(uint64_t));
  if (counts == NULL) return -1;
  for (int i = 0; i < argc; ++i) {
    if (strncmp(argv[i], "on=", 3) == 0) {
      on_address = strtoull(argv[i] + 3, NULL, 0);
    } else if (strncmp(argv[i], "off=", 4) == 0) {
      off_address = strtoull(argv[i] + 4, NULL, 0);
    } else if (strncmp(argv[i], "out=", 4) == 0) {
      snprintf(out_path, sizeof(out_path), "%s", argv[i] + 4);
    }
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_write, NULL);
  return 0;
}
