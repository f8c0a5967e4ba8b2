/*
 * config_vars.c: extism_plugin_config and plugin vars (manifest config, merge and delete,
 * max_var_bytes).
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_config_vars(void) {
  section("config and vars");
  char *path = wat_path("vars_config.wat");
  char *qpath = json_quote(path);
  char *manifest = fmt("{\"wasm\":[{\"path\":%s}],\"config\":{\"a\":\"1\"}}", qpath);
  ExtismPlugin *p;
  MUST_CREATE(p, manifest, strlen(manifest), NULL, 0, false);
  free(manifest);
  free(qpath);
  free(path);
  if (!p) return;

#define CFG(json) extism_plugin_config(p, (const uint8_t *)(json), strlen(json))
  CALL_OK(p, "config", "a", "1");
  CALL_OK(p, "config", "b", "");
  CHECK(CFG("{\"b\":\"2\"}"), "config merge returned false");
  CALL_OK(p, "config", "a", "1"); /* merged, not replaced */
  CALL_OK(p, "config", "b", "2");
  CHECK(CFG("{\"a\":null}"), "config delete returned false");
  CALL_OK(p, "config", "a", "");
  CALL_OK(p, "config", "b", "2");
  CHECK(!CFG("{not json"), "invalid JSON accepted");
  CHECK(!CFG("{\"c\":\"x\",\"b\":3}"), "number value accepted");
  CHECK(!CFG("[\"b\",\"9\"]"), "JSON array accepted as config");
  CALL_OK(p, "config", "c", ""); /* nothing changed */
  CALL_OK(p, "config", "b", "2");
  CHECK(!extism_plugin_config(p, NULL, 0), "config(p, NULL, 0) returned true");
  CHECK(!extism_plugin_config(NULL, (const uint8_t *)"{}", 2), "config(NULL plugin) returned true");
  CHECK(CFG("{\"unicode\":\"h\\u00e9llo\",\"empty\":\"\"}"), "config with unicode rejected");
  CALL_OK(p, "config", "unicode", "h\xc3\xa9llo");
  CALL_OK(p, "config", "empty", ""); /* empty value reads as missing */
#undef CFG

  /* vars: 1, 2, 3 across calls; they survive extism_plugin_reset */
  for (uint64_t want = 1; want <= 3; want++) {
    Res r = call_s(p, "counter", "");
    EXPECT_RC(r, 0);
    EXPECT_NOERR(r);
    CHECK(r.len == 8 && out_u64(&r) == want, "counter = %llu (%zu bytes), want %llu",
          (unsigned long long)out_u64(&r), r.len, (unsigned long long)want);
    res_free(&r);
    if (want == 2) CHECK(extism_plugin_reset(p), "reset returned false");
  }
  CALL_OK(p, "config", "b", "2"); /* config survives reset too */

  CALL_OK(p, "set_var", "some value", "");
  CALL_OK(p, "get_var", "", "some value");
  CALL_OK(p, "delete_var", "", "");
  CALL_OK(p, "get_var", "", "");
  Res r = call_s(p, "bad_var_key", "");
  EXPECT_RC(r, -1);
  EXPECT_ERR_HAS(r, "invalid handle offset for var key");
  res_free(&r);
  r = call_s(p, "counter", "");
  CHECK(r.rc == 0 && out_u64(&r) == 4, "counter after host error = %llu, want 4",
        (unsigned long long)out_u64(&r));
  res_free(&r);
  extism_plugin_free(p);

  /* max_var_bytes 0 disables vars */
  path = wat_path("vars_config.wat");
  qpath = json_quote(path);
  manifest = fmt("{\"wasm\":[{\"path\":%s}],\"memory\":{\"max_var_bytes\":0}}", qpath);
  MUST_CREATE(p, manifest, strlen(manifest), NULL, 0, false);
  if (p) {
    r = call_s(p, "counter", "");
    EXPECT_RC(r, -1);
    EXPECT_ERR_HAS(r, "Vars are disabled by this host");
    res_free(&r);
    extism_plugin_free(p);
  }
  free(manifest);
  free(qpath);
  free(path);
}
