/*
 * logging.c: extism_log_custom, extism_log_drain, extism_log_file. Logging is process-global:
 * main.c runs this section last.
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- logging (process-global: runs last) ---- */

typedef struct {
  char **lines;
  size_t n, cap;
  int bad_newline, bad_size;
} LogLines;

static LogLines g_log;

static void drain_cb(const char *data, ExtismSize size) {
  if (!data) {
    g_log.bad_size++;
    return;
  }
  if (strlen(data) != size) g_log.bad_size++;
  if (size == 0 || data[size - 1] != '\n') g_log.bad_newline++;
  if (g_log.n == g_log.cap) {
    g_log.cap = g_log.cap ? g_log.cap * 2 : 64;
    char **nl = realloc(g_log.lines, g_log.cap * sizeof *nl);
    if (!nl) exit(2);
    g_log.lines = nl;
  }
  g_log.lines[g_log.n++] = xstrdup(data);
}

static void log_clear(void) {
  for (size_t i = 0; i < g_log.n; i++) free(g_log.lines[i]);
  free(g_log.lines);
  memset(&g_log, 0, sizeof g_log);
}

void test_logging(void) {
  section("logging");
  ExtismPlugin *p;
  WAT_PLUGIN(p, "log.wat", NULL, 0, false);
  if (!p) return;
  Res r = call_s(p, "level", "");
  EXPECT_RC(r, 0);
  CHECK(r.len == 4 && out_u32(&r) == 2147483647u, "get_log_level without subscriber = %u, want 2147483647",
        out_u32(&r));
  res_free(&r);
  extism_log_drain(drain_cb); /* nothing installed: no-op */
  CHECK(g_log.n == 0, "drain before log_custom produced %zu lines", g_log.n);
  log_clear();

  CHECK(extism_log_custom("trace"), "extism_log_custom(trace) returned false");
  CHECK(!extism_log_custom("info"), "second extism_log_custom returned true");
  CHECK(!extism_log_custom(NULL), "third extism_log_custom returned true");

  r = call_s(p, "level", "");
  EXPECT_RC(r, 0);
  CHECK(r.len == 4 && out_u32(&r) == 0, "get_log_level at trace = %u, want 0", out_u32(&r));
  res_free(&r);

  const char *marker = "capi-log-marker-5f3a";
  CALL_OK(p, "log_all", marker, "");
  extism_log_drain(drain_cb);
  int with_marker = 0;
  static const char *levels[] = {"trace", "debug", "info", "warn", "error"};
  bool level_seen[5] = {false};
  bool target_ok = true;
  for (size_t i = 0; i < g_log.n; i++) {
    if (!contains(g_log.lines[i], marker)) continue;
    with_marker++;
    if (!contains(g_log.lines[i], "extism::pdk")) target_ok = false;
    for (int l = 0; l < 5; l++)
      if (contains_ci(g_log.lines[i], levels[l])) level_seen[l] = true;
  }
  CHECK(with_marker >= 5, "%d drained lines contain the message, want 5 (of %zu lines)",
        with_marker, g_log.n);
  for (int l = 0; l < 5; l++)
    CHECK(level_seen[l], "no drained line at level %s carries the message", levels[l]);
  CHECK(target_ok, "a plugin log line lacks the target extism::pdk");
  CHECK(g_log.bad_newline == 0, "%d drained lines do not end with \\n", g_log.bad_newline);
  CHECK(g_log.bad_size == 0, "%d drained lines have size != strlen", g_log.bad_size);
  if (with_marker < 5 && g_log.n)
    fprintf(stderr, "   (first drained line: %s)\n", g_log.lines[0]);
  log_clear();

  /* the buffer was emptied */
  extism_log_drain(drain_cb);
  int again = 0;
  for (size_t i = 0; i < g_log.n; i++)
    if (contains(g_log.lines[i], marker)) again++;
  CHECK(again == 0, "%d lines with the message drained twice", again);
  log_clear();

  /* AssemblyScript logging: info/debug/warn/error */
  ExtismPlugin *as = as_plugin("as_logging.wasm", NULL, NULL, 0);
  if (as) {
    CALL_OK(as, "log_all", "as-log-marker-77", "ok");
    extism_log_drain(drain_cb);
    int n = 0;
    for (size_t i = 0; i < g_log.n; i++)
      if (contains(g_log.lines[i], "as-log-marker-77")) n++;
    CHECK(n >= 4, "as_logging: %d lines with the message, want 4", n);
    log_clear();
    extism_plugin_free(as);
  }

  char tmpl[] = "/tmp/extism-capi-log-XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (dir) {
    char *file = fmt("%s/extism.log", dir);
    CHECK(!extism_log_file(file, "info"), "extism_log_file after log_custom returned true");
    CHECK(!extism_log_file(NULL, NULL), "extism_log_file(NULL, NULL) after log_custom returned true");
    CHECK(!extism_log_file("stderr", "\xff"), "extism_log_file(non-UTF-8 level) returned true");
    unlink(file);
    rmdir(dir);
    free(file);
  }
  extism_log_drain(NULL); /* NULL handler: no crash */
  extism_log_drain(drain_cb);
  log_clear();
  extism_plugin_free(p);
}
