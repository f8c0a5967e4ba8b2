/*
 * create.c: creating plugins with extism_plugin_new: the sources (WAT, manifest JSON and TOML,
 * base64 data, wasm binary), creation failures and their messages, multi-module manifests,
 * initializers and timeouts during instantiation.
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_sources(void) {
  section("plugin sources: WAT, manifest path (JSON, TOML), base64 data, binary");
  ExtismPlugin *p;
  WAT_PLUGIN(p, "count_vowels.wat", NULL, 0, false);
  if (p) {
    CALL_OK(p, "count_vowels", "hello world", "{\"count\":3}");
    CALL_OK(p, "count_vowels", "", "{\"count\":0}");
    CALL_OK(p, "count_vowels", "AEIOU aeiou xyz", "{\"count\":10}");
    extism_plugin_free(p);
  }

  char *path = wat_path("count_vowels.wat");
  char *qpath = json_quote(path);
  char *manifest = fmt("{\"wasm\":[{\"path\":%s}]}", qpath);
  MUST_CREATE(p, manifest, strlen(manifest), NULL, 0, false);
  if (p) {
    CALL_OK(p, "count_vowels", "hello world", "{\"count\":3}");
    extism_plugin_free(p);
  }
  free(manifest);

  /* TOML manifest (a JSON string literal is also a valid TOML basic string for this path) */
  manifest = fmt("wasm = [{ path = %s }]\n", qpath);
  MUST_CREATE(p, manifest, strlen(manifest), NULL, 0, false);
  if (p) {
    CALL_OK(p, "count_vowels", "toml manifest", "{\"count\":4}");
    extism_plugin_free(p);
  }
  free(manifest);
  free(qpath);
  free(path);

  /* base64 "data" entry holding WAT text */
  path = wat_path("echo.wat");
  size_t len;
  unsigned char *wat = read_file(path, &len);
  CHECK(wat != NULL, "cannot read %s", path);
  if (wat) {
    char *b64 = base64(wat, len);
    manifest = fmt("{\"wasm\":[{\"data\":\"%s\",\"name\":\"main\"}],\"config\":{\"k\":\"v\"}}", b64);
    MUST_CREATE(p, manifest, strlen(manifest), NULL, 0, false);
    if (p) {
      CALL_OK(p, "echo", "base64 data", "base64 data");
      extism_plugin_free(p);
    }
    free(manifest);
    free(b64);
    free(wat);
  }
  free(path);

  /* a wasm binary (AssemblyScript) passed as bytes */
  path = as_path("as_count_vowels.wasm");
  unsigned char *bin = read_file(path, &len);
  CHECK(bin != NULL, "cannot read %s (run tests/fixtures/pdk/build.sh)", path);
  if (bin) {
    MUST_CREATE(p, bin, len, NULL, 0, false);
    if (p) {
      CALL_OK(p, "count_vowels", "hello world", "{\"count\":3}");
      extism_plugin_free(p);
    }
    free(bin);
  }
  free(path);

  /* functions: a NULL array means none, whatever the count says */
  char *e = NULL;
  p = wat_plugin_ex("echo.wat", NULL, 5, false, &e);
  CHECK(p != NULL, "functions=NULL, n=5 failed: %s", show(e));
  free(e);
  if (p) {
    CALL_OK(p, "echo", "x", "x");
    extism_plugin_free(p);
  }
}

void test_bad_inputs(void) {
  section("creation failures");
  struct {
    const char *what;
    char *input;
    size_t len;
    const char *root_cause; /* substring expected after the prefix, or NULL */
  } cases[8];
  int n = 0;
  static const uint8_t garbage[] = {0x01, 0xff, 0xfe, 0x00, 0x80, 0x81, 0x7f};
  cases[n].what = "garbage bytes";
  cases[n].input = xmalloc(sizeof garbage);
  memcpy(cases[n].input, garbage, sizeof garbage);
  cases[n].len = sizeof garbage;
  cases[n++].root_cause = NULL;

  cases[n].what = "bad JSON";
  cases[n].input = xstrdup("{\"wasm\": [");
  cases[n].len = strlen(cases[n].input);
  cases[n++].root_cause = "Unknown manifest format";

  char *path = wat_path("echo.wat");
  char *q = json_quote(path);
  cases[n].what = "wrong hash";
  cases[n].input = fmt("{\"wasm\":[{\"path\":%s,\"hash\":\"%064d\"}]}", q, 0);
  cases[n].len = strlen(cases[n].input);
  cases[n++].root_cause = "Hash mismatch";

  cases[n].what = "unknown manifest key";
  cases[n].input = fmt("{\"wasm\":[{\"path\":%s}],\"bogus\":1}", q);
  cases[n].len = strlen(cases[n].input);
  cases[n++].root_cause = "Unknown manifest format";
  free(q);
  free(path);

  path = fmt("%s/tests/fixtures/wat/does-not-exist.wat", g_root);
  q = json_quote(path);
  cases[n].what = "missing file";
  cases[n].input = fmt("{\"wasm\":[{\"path\":%s}]}", q);
  cases[n].len = strlen(cases[n].input);
  cases[n++].root_cause = "Unable to load Wasm file";
  free(q);
  free(path);

  cases[n].what = "empty manifest";
  cases[n].input = xstrdup("{\"wasm\":[]}");
  cases[n].len = strlen(cases[n].input);
  cases[n++].root_cause = "No wasm files specified in Extism manifest";

  cases[n].what = "invalid WAT";
  cases[n].input = xstrdup("(module (func (export \"f\") (result i32) i32.const))");
  cases[n].len = strlen(cases[n].input);
  cases[n++].root_cause = NULL;

  for (int i = 0; i < n; i++) {
    char *err = NULL;
    ExtismPlugin *p = create_ex(cases[i].input, cases[i].len, NULL, 0, false, &err);
    CHECK(p == NULL, "%s: plugin created", cases[i].what);
    CHECK(starts_with(err, COMPILE_PREFIX), "%s: errmsg \"%s\" lacks the prefix", cases[i].what,
          show(err));
    if (cases[i].root_cause)
      CHECK(contains(err, cases[i].root_cause), "%s: errmsg \"%s\" lacks \"%s\"", cases[i].what,
            show(err), cases[i].root_cause);
    free(err);
    extism_plugin_free(p);
    /* errmsg NULL: no crash */
    p = extism_plugin_new((const uint8_t *)cases[i].input, cases[i].len, NULL, 0, false, NULL);
    CHECK(p == NULL, "%s (errmsg NULL): plugin created", cases[i].what);
    extism_plugin_free(p);
    free(cases[i].input);
  }

  /* NULL wasm with length 0 fails cleanly */
  char *errmsg = NULL;
  ExtismPlugin *p = extism_plugin_new(NULL, 0, NULL, 0, false, &errmsg);
  CHECK(p == NULL, "extism_plugin_new(NULL, 0) created a plugin");
  extism_plugin_new_error_free(errmsg);
  extism_plugin_free(p);
  errmsg = NULL;
  p = extism_plugin_new(NULL, 100, NULL, 0, false, &errmsg);
  CHECK(p == NULL, "extism_plugin_new(NULL, 100) created a plugin");
  extism_plugin_new_error_free(errmsg);
  extism_plugin_free(p);
}

void test_modules(void) {
  section("multi-module manifest, initializers, kernel bounds");
  char *lib = wat_path("lib.wat");
  char *uses = wat_path("uses_lib.wat");
  char *ql = json_quote(lib), *qu = json_quote(uses);
  char *m = fmt("{\"wasm\":[{\"path\":%s,\"name\":\"lib\"},{\"path\":%s}]}", ql, qu);
  ExtismPlugin *p;
  MUST_CREATE(p, m, strlen(m), NULL, 0, false);
  if (p) {
    Res r = call_s(p, "run", "");
    EXPECT_RC(r, 7);
    EXPECT_NOERR(r);
    CHECK(r.len == 0, "run: unexpected output");
    res_free(&r);
    CHECK(extism_plugin_function_exists(p, "run"), "function_exists(run)");
    CHECK(!extism_plugin_function_exists(p, "seven"), "function_exists(seven) looks beyond main");
    extism_plugin_free(p);
  }
  free(m);
  /* without the library module: link error */
  m = fmt("{\"wasm\":[{\"path\":%s}]}", qu);
  char *err = NULL;
  p = create_ex(m, strlen(m), NULL, 0, false, &err);
  CHECK(p == NULL && starts_with(err, COMPILE_PREFIX) && contains(err, "seven"),
        "missing lib module: %s", show(err));
  free(err);
  extism_plugin_free(p);
  free(m);
  free(ql);
  free(qu);
  free(lib);
  free(uses);

  WAT_PLUGIN(p, "init.wat", NULL, 0, false);
  if (p) {
    for (int i = 0; i < 2; i++) {
      Res r = call_s(p, "count", "");
      EXPECT_RC(r, 1); /* _initialize ran once */
      res_free(&r);
    }
    extism_plugin_free(p);
  }

  WAT_PLUGIN(p, "bounds.wat", NULL, 0, false);
  if (p) {
    Res r = call_s(p, "probe", "");
    EXPECT_RC(r, 0);
    EXPECT_NOERR(r);
    res_free(&r);
    r = call_s(p, "blocks", "");
    EXPECT_RC(r, 0);
    EXPECT_NOERR(r);
    res_free(&r);
    extism_plugin_free(p);
  }

  /* docs/compatibility.md: timeout_ms also covers instantiation; creation must not hang */
  char *path = wat_path("init_loop.wat");
  char *q = json_quote(path);
  m = fmt("{\"wasm\":[{\"path\":%s}],\"timeout_ms\":300}", q);
  err = NULL;
  double t0 = now_s();
  p = create_ex(m, strlen(m), NULL, 0, false, &err);
  CHECK(p == NULL, "init_loop: plugin created although _initialize never returns");
  CHECK(starts_with(err, COMPILE_PREFIX), "init_loop error: %s", show(err));
  CHECK(now_s() - t0 < 10, "init_loop creation took %.1f s", now_s() - t0);
  free(err);
  extism_plugin_free(p); /* never called: it might hang */
  free(m);
  free(q);
  free(path);
}
