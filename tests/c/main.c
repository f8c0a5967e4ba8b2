/*
 * The C API test program (built as test_capi by tests/c/run.sh): exercises every function of
 * include/extism.h and include/extism-ext.h against real plugins.
 *
 * Usage: test_capi [REPO_ROOT]        (REPO_ROOT defaults to ".")
 *
 * Fixtures: the WAT files in REPO_ROOT/tests/fixtures/wat and the AssemblyScript plugins in
 * REPO_ROOT/target/fixtures/as_*.wasm (or $EXTISM_AS_FIXTURES_DIR), built by
 * tests/fixtures/pdk/build.sh.
 *
 * The sections (the test_* functions) are in one file per part of the API: api.c, calls.c,
 * create.c, config_vars.c, host_functions.c, compiled.c, limits.c, wasi_http.c, pdk.c and
 * logging.c; support.h/support.c hold the checks and helpers. main() runs the sections in order.
 *
 * The expected values come from the project's contract pages (docs/c-api.md, docs/abi.md,
 * docs/manifest.md and docs/compatibility.md). Each CHECK counts one pass or failure; a failure
 * prints the section, the file and line, the condition and the actual values. The last line
 * printed is "N passed, N failed", and the exit status is non-zero when anything failed.
 *
 * Each section runs under a watchdog (alarm): a hang prints the section name and exits 3.
 * EXTISM_TEST_SECTION_TIMEOUT (seconds, default 120) changes it, e.g. under valgrind.
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *root = argc > 1 ? argv[1] : ".";
  if (!realpath(root, g_root)) {
    fprintf(stderr, "test_capi: cannot resolve repository root %s: %s\n", root, strerror(errno));
    return 2;
  }
  const char *as_dir = getenv("EXTISM_AS_FIXTURES_DIR");
  g_as_dir = as_dir && *as_dir ? xstrdup(as_dir) : fmt("%s/target/fixtures", g_root);
  sections_init();

  test_version();
  test_echo();
  test_sources();
  test_errors();
  test_config_vars();
  test_plugin_id();
  test_host_functions();
  test_namespaces();
  test_registration_errors();
  test_reentrancy();
  test_compiled();
  test_fuel();
  test_extensions();
  test_timeout_memory();
  test_cancel();
  test_bad_inputs();
  test_null_args();
  test_http_headers();
  test_wasi();
  test_modules();
  test_assemblyscript();
  test_logging(); /* last: installs the process-wide log subscriber */
  alarm(0);

  int pass = atomic_load(&g_pass), fail = atomic_load(&g_fail);
  free(g_as_dir);
  printf("%d passed, %d failed\n", pass, fail);
  return fail ? 1 : 0;
}
