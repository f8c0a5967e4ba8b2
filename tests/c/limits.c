/*
 * limits.c: fuel (extism_plugin_new_with_fuel_limit and the compiled variant), extism-ext.h
 * (fuel consumed, time remaining), timeout_ms and max_pages, extism_plugin_cancel.
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"
#include "extism-ext.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *limits_manifest(const char *extra) {
  char *path = wat_path("limits.wat");
  char *q = json_quote(path);
  char *m = fmt("{\"wasm\":[{\"path\":%s}]%s}", q, extra);
  free(q);
  free(path);
  return m;
}

void test_fuel(void) {
  section("fuel limits");
  char *path = wat_path("limits.wat");
  size_t len;
  unsigned char *wat = read_file(path, &len);
  free(path);
  if (!wat) {
    CHECK(0, "cannot read limits.wat");
    return;
  }
  char *errmsg = NULL;
  ExtismPlugin *p = extism_plugin_new_with_fuel_limit(wat, len, NULL, 0, false, 10000000, &errmsg);
  char *err = take_err(errmsg);
  CHECK(p != NULL, "plugin_new_with_fuel_limit failed: %s", show(err));
  free(err);
  if (p) {
    CALL_RC_ERR(p, "infinite_loop", "", -1, "plugin ran out of fuel");
    CALL_OK(p, "spin", "", ""); /* usable, budget refilled */
    /* budget is per call: 1e6 iterations fit, twice in a row; 3e6 do not */
    CALL_OK(p, "spin", "a", "");
    CALL_OK(p, "spin", "a", "");
    CALL_RC_ERR(p, "spin", "aaa", -1, "plugin ran out of fuel");
    CALL_OK(p, "spin", "a", "");
    extism_plugin_free(p);
  }

  errmsg = NULL;
  ExtismCompiledPlugin *c =
      extism_compiled_plugin_new_with_fuel_limit(wat, len, NULL, 0, false, 100000, &errmsg);
  err = take_err(errmsg);
  CHECK(c != NULL, "compiled_plugin_new_with_fuel_limit failed: %s", show(err));
  free(err);
  if (c) {
    ExtismPlugin *a = extism_plugin_new_from_compiled(c, NULL);
    ExtismPlugin *b = extism_plugin_new_from_compiled(c, NULL);
    extism_compiled_plugin_free(c);
    CHECK(a && b, "new_from_compiled (fuel) failed");
    if (a) {
      CALL_RC_ERR(a, "infinite_loop", "", -1, "plugin ran out of fuel");
      CALL_OK(a, "spin", "", "");
    }
    if (b) CALL_RC_ERR(b, "infinite_loop", "", -1, "plugin ran out of fuel");
    extism_plugin_free(a);
    extism_plugin_free(b);
  }

  static const uint8_t garbage[] = {0xff, 0xfe, 0xfd};
  errmsg = NULL;
  p = extism_plugin_new_with_fuel_limit(garbage, sizeof garbage, NULL, 0, false, 1000, &errmsg);
  err = take_err(errmsg);
  CHECK(p == NULL && starts_with(err, COMPILE_PREFIX), "fuel garbage: %s", show(err));
  free(err);
  extism_plugin_free(p);
  free(wat);
}

/* A host function (i64) -> i64 that returns its argument and records the time left. */
static _Atomic int64_t g_time_remaining = -2;
static void host_time_left(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                           ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)data;
  atomic_store(&g_time_remaining, extism_current_plugin_time_remaining_ns(cp));
  if (n_inputs == 1 && n_outputs == 1) outputs[0].v.i64 = inputs[0].v.i64;
}

void test_extensions(void) {
  section("extism-ext.h: fuel consumed, time remaining");
  char *m = limits_manifest("");
  ExtismPlugin *p;
  char *errmsg = NULL;
  p = extism_plugin_new_with_fuel_limit((const uint8_t *)m, strlen(m), NULL, 0, false, 100000000, &errmsg);
  free(m);
  char *err = take_err(errmsg);
  CHECK(p != NULL, "plugin_new_with_fuel_limit failed: %s", show(err));
  free(err);
  if (p) {
    CHECK(extism_plugin_fuel_consumed(p) == -1, "fuel consumed before any call");
    CALL_OK(p, "spin", "", "");
    int64_t idle = extism_plugin_fuel_consumed(p);
    CALL_OK(p, "spin", "a", "");
    int64_t one = extism_plugin_fuel_consumed(p);
    CHECK(idle >= 0 && idle < 1000 && one > 1000000, "fuel consumed: idle %lld, one round %lld",
          (long long)idle, (long long)one);
    extism_plugin_free(p);
  }
  CHECK(extism_plugin_fuel_consumed(NULL) == -1, "fuel consumed of NULL");
  ExtismPlugin *plain;
  WAT_PLUGIN(plain, "limits.wat", NULL, 0, false);
  if (plain) {
    CALL_OK(plain, "spin", "", "");
    CHECK(extism_plugin_fuel_consumed(plain) == -1, "fuel consumed without a fuel limit");
    extism_plugin_free(plain);
  }

  char *path = wat_path("host.wat");
  char *q = json_quote(path);
  free(path);
  for (int timed = 1; timed >= 0; timed--) {
    /* A function belongs to one plugin, as in the official library. */
    ExtismFunction *f = extism_function_new("hello_world", I64_1, 1, I64_1, 1, host_time_left, NULL, NULL);
    CHECK(f != NULL, "extism_function_new(hello_world) returned NULL");
    if (!f) continue;
    const ExtismFunction *fns[] = {f};
    char *manifest = fmt("{\"wasm\":[{\"path\":%s}]%s}", q, timed ? ",\"timeout_ms\":5000" : "");
    MUST_CREATE(p, manifest, strlen(manifest), fns, 1, false);
    free(manifest);
    extism_function_free(f);
    if (!p) continue;
    atomic_store(&g_time_remaining, -2);
    CALL_OK(p, "call_host", "x", "x");
    int64_t left = atomic_load(&g_time_remaining);
    if (timed)
      CHECK(left > 4000000000LL && left <= 5000000000LL, "time remaining %lld ns, want ~5 s", (long long)left);
    else
      CHECK(left == -1, "time remaining without a timeout: %lld", (long long)left);
    extism_plugin_free(p);
  }
  CHECK(extism_current_plugin_time_remaining_ns(NULL) == -1, "time remaining of NULL");
  free(q);
}

void test_timeout_memory(void) {
  section("timeout_ms and max_pages");
  char *m = limits_manifest(",\"timeout_ms\":300");
  ExtismPlugin *p;
  MUST_CREATE(p, m, strlen(m), NULL, 0, false);
  free(m);
  if (p) {
    double t0 = now_s();
    CALL_RC_ERR(p, "infinite_loop", "", 134, "timeout");
    double dt = now_s() - t0;
    CHECK(dt >= 0.2 && dt < 10.0, "timeout after %.3f s, want ~0.3 s", dt);
    CALL_OK(p, "spin", "", ""); /* instance stays usable */
    CALL_RC_ERR(p, "infinite_loop", "", 134, "timeout");
    extism_plugin_free(p);
  }

  m = limits_manifest(",\"memory\":{\"max_pages\":4}");
  MUST_CREATE(p, m, strlen(m), NULL, 0, false);
  free(m);
  if (p) {
    CALL_RC_ERR(p, "grow_forever", "", -1, "oom");
    extism_plugin_free(p);
  }
  m = limits_manifest(",\"memory\":{\"max_pages\":8}");
  MUST_CREATE(p, m, strlen(m), NULL, 0, false);
  free(m);
  if (p) {
    CALL_RC_ERR(p, "alloc_forever", "", -1, "oom");
    extism_plugin_free(p);
  }
}

typedef struct {
  const ExtismCancelHandle *handle;
  atomic_int *done;
  int cancels;
  bool all_true;
  long first_delay_ms;
} Canceller;

static void *cancel_loop(void *arg) {
  Canceller *c = arg;
  sleep_ms(c->first_delay_ms);
  for (int i = 0; i < 600 && !atomic_load(c->done); i++) {
    if (!extism_plugin_cancel(c->handle)) c->all_true = false;
    c->cancels++;
    sleep_ms(100);
  }
  return NULL;
}

typedef struct {
  ExtismPlugin *p;
  Res r;
  atomic_int done;
} CallArg;

static void *call_infinite(void *arg) {
  CallArg *a = arg;
  a->r = call_s(a->p, "infinite_loop", "");
  atomic_store(&a->done, 1);
  return NULL;
}

void test_cancel(void) {
  section("extism_plugin_cancel");
  char *path = wat_path("limits.wat");
  size_t len;
  unsigned char *wat = read_file(path, &len);
  free(path);
  ExtismPlugin *p;
  MUST_CREATE(p, wat, len, NULL, 0, false);
  if (p) {
    const ExtismCancelHandle *h = extism_plugin_cancel_handle(p);
    CHECK(h != NULL, "cancel handle NULL");
    /* idle cancel: true, and the next call is unaffected */
    CHECK(extism_plugin_cancel(h), "idle cancel returned false");
    CHECK(extism_plugin_cancel(h), "second idle cancel returned false");
    CALL_OK(p, "spin", "a", "");

    atomic_int done = 0;
    Canceller c = {.handle = h, .done = &done, .all_true = true, .first_delay_ms = 200};
    pthread_t th;
    pthread_create(&th, NULL, cancel_loop, &c);
    double t0 = now_s();
    Res r = call_s(p, "infinite_loop", "");
    atomic_store(&done, 1);
    pthread_join(th, NULL);
    EXPECT_RC(r, 134);
    EXPECT_ERR(r, "timeout");
    res_free(&r);
    CHECK(c.all_true, "extism_plugin_cancel returned false while the plugin was running");
    CHECK(now_s() - t0 < 30, "cancel took %.1f s", now_s() - t0);
    /* a cancel after the call (possibly sent while idle) does not poison the next call */
    CHECK(extism_plugin_cancel(h), "idle cancel returned false");
    CALL_OK(p, "spin", "a", "");
    extism_plugin_free(p);
  }

  /* docs/compatibility.md: cancel stops only its own plugin, even with a shared compiled plugin */
  ExtismCompiledPlugin *cp = extism_compiled_plugin_new(wat, len, NULL, 0, false, NULL);
  CHECK(cp != NULL, "compiling limits.wat failed");
  if (cp) {
    CallArg a1 = {.p = extism_plugin_new_from_compiled(cp, NULL)};
    ExtismPlugin *p2 = extism_plugin_new_from_compiled(cp, NULL);
    extism_compiled_plugin_free(cp);
    CHECK(a1.p && p2, "new_from_compiled failed");
    if (a1.p && p2) {
      Canceller c = {.handle = extism_plugin_cancel_handle(a1.p),
                     .done = &a1.done,
                     .all_true = true,
                     .first_delay_ms = 300};
      pthread_t t1, t2;
      pthread_create(&t1, NULL, call_infinite, &a1);
      pthread_create(&t2, NULL, cancel_loop, &c);
      int calls = 0, bad = 0, after = 0;
      char *first_bad = NULL;
      double start = now_s();
      /* keep p2 busy with short calls until p1 has been cancelled, and a few more */
      while (now_s() - start < 60 && (!atomic_load(&a1.done) || after < 3)) {
        if (atomic_load(&a1.done)) after++;
        Res r = call_s(p2, "spin", "a");
        if (r.rc != 0 || r.err) {
          bad++;
          if (!first_bad) first_bad = fmt("rc %d error %s", r.rc, show(r.err));
        }
        res_free(&r);
        calls++;
      }
      pthread_join(t1, NULL);
      pthread_join(t2, NULL);
      CHECK(bad == 0, "cancelling p1 interrupted %d of %d calls on p2 (first: %s)", bad, calls,
            show(first_bad));
      free(first_bad);
      EXPECT_RC(a1.r, 134);
      EXPECT_ERR(a1.r, "timeout");
      res_free(&a1.r);
      CALL_OK(a1.p, "spin", "", "");
    }
    extism_plugin_free(a1.p);
    extism_plugin_free(p2);
  }
  free(wat);
}
