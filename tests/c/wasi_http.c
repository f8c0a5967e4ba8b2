/*
 * wasi_http.c: extism_plugin_allow_http_response_headers and HTTP refusal, WASI (exit codes,
 * preopened allowed_paths).
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void test_http_headers(void) {
  section("extism_plugin_allow_http_response_headers");
  ExtismPlugin *p;
  WAT_PLUGIN(p, "http.wat", NULL, 0, false);
  if (!p) return;
  CALL_OK(p, "headers", "", ""); /* disabled: http_headers() returns 0 */
  Res r = call_s(p, "status", "");
  EXPECT_RC(r, 0);
  CHECK(r.len == 4 && out_u32(&r) == 0, "status before any request: %u", out_u32(&r));
  res_free(&r);
  extism_plugin_allow_http_response_headers(p);
  extism_plugin_allow_http_response_headers(p); /* idempotent */
  CALL_OK(p, "headers", "", "{}");
  /* no allowed_hosts: every request is refused before any network access */
  r = call_s(p, "http", "{\"url\":\"http://example.com/\"}");
  EXPECT_RC(r, -1);
  EXPECT_ERR_HAS(r, "not allowed");
  res_free(&r);
  CALL_OK(p, "headers", "", "{}");
  extism_plugin_free(p);
}

void test_wasi(void) {
  section("WASI");
  ExtismPlugin *p;
  WAT_PLUGIN(p, "wasi.wat", NULL, 0, true);
  if (p) {
    CALL_OK(p, "hello", "", "ok");
    Res r = call_s(p, "exit_3", "");
    EXPECT_RC(r, 3);
    res_free(&r);
    r = call_s(p, "exit_0", "");
    EXPECT_RC(r, 0);
    EXPECT_NOERR(r);
    res_free(&r);
    CALL_OK(p, "hello", "", "ok");
    extism_plugin_free(p);
  }

  char *err = NULL;
  p = wat_plugin_ex("wasi.wat", NULL, 0, false, &err);
  CHECK(p == NULL, "WASI plugin created without WASI");
  CHECK(starts_with(err, COMPILE_PREFIX) && contains(err, "wasi_snapshot_preview1"),
        "no-WASI error: %s", show(err));
  free(err);
  extism_plugin_free(p);

  char tmpl[] = "/tmp/extism-capi-XXXXXX";
  char *dir = mkdtemp(tmpl);
  CHECK(dir != NULL, "mkdtemp failed");
  if (!dir) return;
  char *path = wat_path("wasi.wat");
  char *qp = json_quote(path);
  char *qd = json_quote(dir);
  char *m = fmt("{\"wasm\":[{\"path\":%s}],\"allowed_paths\":{%s:\"/data\"}}", qp, qd);
  MUST_CREATE(p, m, strlen(m), NULL, 0, true);
  if (p) {
    CALL_OK(p, "preopen", "", "/data");
    extism_plugin_free(p);
  }
  free(m);
  free(qd);

  /* a missing host directory fails creation */
  char *missing = fmt("%s/missing", dir);
  qd = json_quote(missing);
  m = fmt("{\"wasm\":[{\"path\":%s}],\"allowed_paths\":{%s:\"/data\"}}", qp, qd);
  err = NULL;
  p = create_ex(m, strlen(m), NULL, 0, true, &err);
  CHECK(p == NULL, "missing allowed_paths directory accepted");
  CHECK(starts_with(err, COMPILE_PREFIX), "missing preopen error: %s", show(err));
  free(err);
  extism_plugin_free(p);
  free(m);
  free(qd);
  free(missing);
  free(qp);
  free(path);
  rmdir(dir);
}
