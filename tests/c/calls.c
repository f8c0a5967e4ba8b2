/*
 * calls.c: extism_plugin_call and its results: input and output (extism_plugin_output_*),
 * return codes and plugin errors (extism_plugin_error, extism_error), traps,
 * extism_plugin_function_exists, extism_plugin_reset, extism_plugin_id.
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_echo(void) {
  section("echo round-trips and output");
  ExtismPlugin *p;
  WAT_PLUGIN(p, "echo.wat", NULL, 0, false);
  if (!p) return;

  static const size_t sizes[] = {0, 7, 64 * 1024, 1024 * 1024};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    uint8_t *buf = xmalloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i * 31 + 7 + s);
    int32_t rc = extism_plugin_call(p, "echo", buf, n);
    CHECK(rc == 0, "echo(%zu bytes) rc %d, error %s", n, rc, show(extism_plugin_error(p)));
    CHECK(extism_plugin_error(p) == NULL, "echo(%zu bytes): error %s", n,
          show(extism_plugin_error(p)));
    ExtismSize len = extism_plugin_output_length(p);
    const uint8_t *out = extism_plugin_output_data(p);
    CHECK(len == n, "echo(%zu bytes): output_length %llu", n, (unsigned long long)len);
    CHECK(out != NULL, "echo(%zu bytes): output_data NULL", n);
    if (out && len == n) CHECK(n == 0 || memcmp(out, buf, n) == 0, "echo(%zu bytes): data differs", n);
    free(buf);
  }

  /* NULL data with length 0 is an empty input */
  int32_t rc = extism_plugin_call(p, "echo", NULL, 0);
  CHECK(rc == 0, "echo(NULL, 0) rc %d", rc);
  CHECK(extism_plugin_output_length(p) == 0, "echo(NULL, 0) output length %llu",
        (unsigned long long)extism_plugin_output_length(p));
  CHECK(extism_plugin_output_data(p) != NULL, "no output: output_data must be non-NULL");

  /* noop: no output at all */
  CALL_OK(p, "noop", "ignored input", "");
  CHECK(extism_plugin_output_data(p) != NULL, "noop: output_data must be non-NULL");
  /* () -> () export */
  CALL_OK(p, "unit", NULL, "");

  /* exports that cannot be called */
  Res r = call_s(p, "with_param", "");
  EXPECT_RC(r, -1);
  CHECK(r.err != NULL, "with_param: no error text");
  res_free(&r);
  r = call_s(p, "two_results", "");
  EXPECT_RC(r, -1);
  CHECK(r.err != NULL, "two_results: no error text");
  res_free(&r);

  /* unknown function */
  CALL_RC_ERR(p, "nope", "x", -1, "Function not found: nope");
  CALL_OK(p, "echo", "still works", "still works");

  /* NULL function name, non-UTF-8 name, NULL data with a length */
  r = call_s(p, NULL, "x");
  EXPECT_RC(r, -1);
  CHECK(r.err != NULL, "call(NULL name): no error text");
  res_free(&r);
  r = call_s(p, "\xff\xfe", "x");
  EXPECT_RC(r, -1);
  CHECK(r.err != NULL, "call(non-UTF-8 name): no error text");
  res_free(&r);
  r = call_full(p, "echo", NULL, 5, false, NULL);
  EXPECT_RC(r, -1);
  CHECK(r.err != NULL, "call(data NULL, len 5): no error text");
  res_free(&r);
  CALL_OK(p, "echo", "after bad args", "after bad args");

  /* extism_plugin_function_exists */
  CHECK(extism_plugin_function_exists(p, "echo"), "function_exists(echo) false");
  CHECK(extism_plugin_function_exists(p, "noop"), "function_exists(noop) false");
  CHECK(extism_plugin_function_exists(p, "unit"), "function_exists(unit: () -> ()) false");
  CHECK(!extism_plugin_function_exists(p, "nope"), "function_exists(nope) true");
  CHECK(!extism_plugin_function_exists(p, "with_param"), "function_exists(with_param) true");
  CHECK(!extism_plugin_function_exists(p, "two_results"), "function_exists(two_results) true");
  CHECK(!extism_plugin_function_exists(p, "memory"), "function_exists(memory) true");
  CHECK(!extism_plugin_function_exists(p, "\xff"), "function_exists(non-UTF-8) true");
  CHECK(!extism_plugin_function_exists(p, NULL), "function_exists(p, NULL) true");

  /* the output survives extism_plugin_reset (length), reset itself succeeds */
  CALL_OK(p, "echo", "abc", "abc");
  CHECK(extism_plugin_reset(p), "extism_plugin_reset returned false");
  CHECK(extism_plugin_output_length(p) == 3, "output_length after reset %llu, want 3 (docs/c-api.md, Plugins)",
        (unsigned long long)extism_plugin_output_length(p));
  CALL_OK(p, "echo", "after reset", "after reset");
  extism_plugin_free(p);

  /* output of a fresh plugin whose first call failed before any input was placed */
  WAT_PLUGIN(p, "echo.wat", NULL, 0, false);
  if (!p) return;
  CALL_RC_ERR(p, "nope", "", -1, "Function not found: nope");
  CHECK(extism_plugin_output_length(p) == 0, "output_length after failed first call %llu",
        (unsigned long long)extism_plugin_output_length(p));
  (void)extism_plugin_output_data(p); /* must not crash */
  extism_plugin_free(p);
}

void test_errors(void) {
  section("plugin errors and return codes");
  ExtismPlugin *p;
  WAT_PLUGIN(p, "errors.wat", NULL, 0, false);
  if (!p) return;
  Res r;

#define STILL_USABLE()                                                                          \
  do {                                                                                          \
    Res su_ = call_s(p, "return_7", "");                                                        \
    EXPECT_RC(su_, 7);                                                                          \
    EXPECT_NOERR(su_);                                                                          \
    res_free(&su_);                                                                             \
  } while (0)

  CALL_RC_ERR(p, "fail", "", 1, "this is an error");
  STILL_USABLE();
  CALL_RC_ERR(p, "fail_rc0", "", 0, "this is an error");
  STILL_USABLE();
  CALL_RC_ERR(p, "fail_input", "custom message", 2, "custom message");
  STILL_USABLE();

  /* extism_error is the same as extism_plugin_error */
  CHECK(extism_plugin_call(p, "fail", NULL, 0) == 1, "fail rc");
  const char *e1 = extism_error(p);
  char *c1 = e1 ? xstrdup(e1) : NULL;
  const char *e2 = extism_plugin_error(p);
  CHECK(c1 && e2 && strcmp(c1, e2) == 0 && strcmp(c1, "this is an error") == 0,
        "extism_error \"%s\" vs extism_plugin_error \"%s\"", show(c1), show(e2));
  free(c1);
  STILL_USABLE();
  CHECK(extism_error(p) == NULL, "extism_error after a clean call: %s", show(extism_error(p)));

  r = call_s(p, "trap", "");
  EXPECT_RC(r, 134);
  CHECK(r.err != NULL && r.err[0] != 0, "trap: error text missing");
  EXPECT_ERR_HAS(r, "unreachable"); /* docs/compatibility.md: root cause (trap kind) in the text */
  res_free(&r);
  STILL_USABLE();

  /* docs/abi.md, Return code and error: trap with a plugin error set -> -1 and the plugin's text */
  CALL_RC_ERR(p, "fail_then_trap", "", -1, "this is an error");
  STILL_USABLE();

  r = call_s(p, "stack_overflow", "");
  EXPECT_RC(r, 134);
  CHECK(r.err != NULL && r.err[0] != 0, "stack_overflow: error text missing");
  res_free(&r);
  STILL_USABLE();

  r = call_s(p, "error_non_block", "");
  EXPECT_RC(r, 0);
  res_free(&r);
  STILL_USABLE();

  CALL_RC_ERR(p, "nope", "", -1, "Function not found: nope");
  STILL_USABLE();
#undef STILL_USABLE
  extism_plugin_free(p);
}

void test_plugin_id(void) {
  section("extism_plugin_id");
  ExtismPlugin *a, *b;
  WAT_PLUGIN(a, "echo.wat", NULL, 0, false);
  WAT_PLUGIN(b, "echo.wat", NULL, 0, false);
  if (!a || !b) {
    extism_plugin_free(a);
    extism_plugin_free(b);
    return;
  }
  const uint8_t *ida = extism_plugin_id(a);
  const uint8_t *idb = extism_plugin_id(b);
  CHECK(ida != NULL && idb != NULL, "plugin id NULL");
  if (ida && idb) {
    uint8_t copy[16];
    memcpy(copy, ida, 16);
    CHECK((ida[6] >> 4) == 4, "uuid version nibble %d, want 4", ida[6] >> 4);
    CHECK((idb[6] >> 4) == 4, "uuid version nibble %d, want 4", idb[6] >> 4);
    CHECK((ida[8] & 0xC0) == 0x80, "uuid variant bits 0x%02x, want RFC 4122", ida[8]);
    CHECK(memcmp(ida, idb, 16) != 0, "two plugins have the same id");
    CALL_OK(a, "echo", "x", "x");
    CHECK(memcmp(extism_plugin_id(a), copy, 16) == 0, "id changed across a call");
  }
  extism_plugin_free(a);
  extism_plugin_free(b);

  /* same id across an instance rebuild (_start) */
  ExtismPlugin *p;
  WAT_PLUGIN(p, "start_rebuild.wat", NULL, 0, false);
  if (!p) return;
  uint8_t before[16] = {0};
  const uint8_t *id = extism_plugin_id(p);
  if (id) memcpy(before, id, 16);
  Res r = call_s(p, "bump", "");
  EXPECT_RC(r, 1);
  res_free(&r);
  r = call_s(p, "bump", "");
  EXPECT_RC(r, 2);
  res_free(&r);
  r = call_s(p, "_start", "");
  EXPECT_RC(r, 0);
  EXPECT_NOERR(r);
  res_free(&r);
  r = call_s(p, "count", "");
  EXPECT_RC(r, 0); /* fresh instance after _start: global is 0 again (docs/abi.md, _start and rebuilds) */
  res_free(&r);
  id = extism_plugin_id(p);
  CHECK(id && memcmp(id, before, 16) == 0, "id changed across a rebuild");
  extism_plugin_free(p);
}
