/*
 * pdk.c: AssemblyScript PDK plugins (target/fixtures/as_*.wasm): output, vars, config,
 * errors and aborts, unicode, timeouts.
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_assemblyscript(void) {
  section("AssemblyScript PDK plugins");
  ExtismPlugin *p = as_plugin("as_count_vowels.wasm", NULL, NULL, 0);
  if (p) {
    CALL_OK(p, "count_vowels", "hello world", "{\"count\":3}");
    CALL_OK(p, "count_vowels", "", "{\"count\":0}");
    extism_plugin_free(p);
  }

  p = as_plugin("as_vars.wasm", NULL, NULL, 0);
  if (p) {
    CALL_OK(p, "count", "", "1");
    CALL_OK(p, "count", "", "2");
    CALL_OK(p, "count", "", "3");
    extism_plugin_free(p);
  }

  p = as_plugin("as_config.wasm", NULL, NULL, 0);
  if (p) {
    CALL_OK(p, "greet", "world", "Hello, world!");
    const char *cfg = "{\"greeting\":\"Hi\"}";
    CHECK(extism_plugin_config(p, (const uint8_t *)cfg, strlen(cfg)), "config returned false");
    CALL_OK(p, "greet", "world", "Hi, world!");
    extism_plugin_free(p);
  }

  p = as_plugin("as_fail.wasm", NULL, NULL, 0);
  if (p) {
    Res r = call_s(p, "fail", "boom");
    EXPECT_RC(r, 1);
    EXPECT_ERR(r, "something bad happened: boom");
    CHECK(r.len == 0, "fail: unexpected output");
    res_free(&r);
    CALL_RC_ERR(p, "fail_abort", "bang", -1, "aborted: bang");
    CALL_RC_ERR(p, "fail", "again", 1, "something bad happened: again");
    extism_plugin_free(p);
  }

  p = as_plugin("as_echo.wasm", NULL, NULL, 0);
  if (p) {
    CALL_OK(p, "echo", "round trip", "round trip");
    CALL_OK(p, "unicode", "", "h\xc3\xa9llo w\xc3\xb6rld");
    CALL_OK(p, "unicode_bytes", "", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93");
    extism_plugin_free(p);
  }

  p = as_plugin("as_long_loop.wasm", ",\"timeout_ms\":300", NULL, 0);
  if (p) {
    CALL_RC_ERR(p, "spin", "", 134, "timeout");
    CALL_OK(p, "spin_n", "10", "55");
    extism_plugin_free(p);
  }
}
