/*
 * compiled.c: extism_compiled_plugin_new(_with_fuel_limit), extism_plugin_new_from_compiled,
 * extism_compiled_plugin_free: independent plugins, host functions, link and compile errors,
 * plugins created from several threads.
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const ExtismCompiledPlugin *compiled;
  int ok;
} ThreadArg;

static void *compiled_worker(void *arg) {
  ThreadArg *t = arg;
  char *errmsg = NULL;
  ExtismPlugin *p = extism_plugin_new_from_compiled(t->compiled, &errmsg);
  char *err = take_err(errmsg);
  CHECK(p != NULL, "new_from_compiled in a thread failed: %s", show(err));
  free(err);
  if (!p) return NULL;
  for (int i = 0; i < 20; i++) {
    Res r = call_s(p, "count_vowels", "threads are fun");
    if (r.rc == 0 && r.err == NULL && strcmp(r.out, "{\"count\":5}") == 0) t->ok++;
    res_free(&r);
  }
  extism_plugin_free(p);
  return NULL;
}

void test_compiled(void) {
  section("compiled plugins");
  char *path = wat_path("vars_config.wat");
  size_t len;
  unsigned char *wat = read_file(path, &len);
  free(path);
  char *errmsg = NULL;
  ExtismCompiledPlugin *c = extism_compiled_plugin_new(wat, len, NULL, 0, false, &errmsg);
  char *err = take_err(errmsg);
  CHECK(c != NULL, "compiled_plugin_new failed: %s", show(err));
  free(err);
  free(wat);
  if (!c) return;
  errmsg = NULL;
  ExtismPlugin *p1 = extism_plugin_new_from_compiled(c, &errmsg);
  CHECK(p1 != NULL && errmsg == NULL, "new_from_compiled failed: %s", show(errmsg));
  extism_plugin_new_error_free(errmsg);
  errmsg = NULL;
  ExtismPlugin *p2 = extism_plugin_new_from_compiled(c, &errmsg);
  CHECK(p2 != NULL && errmsg == NULL, "new_from_compiled failed: %s", show(errmsg));
  extism_plugin_new_error_free(errmsg);
  extism_compiled_plugin_free(c); /* plugins stay valid */
  if (p1 && p2) {
    uint64_t seq[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
      Res r = call_s(p1, "counter", "");
      CHECK(r.rc == 0 && out_u64(&r) == seq[i], "p1 counter %llu, want %llu (err %s)",
            (unsigned long long)out_u64(&r), (unsigned long long)seq[i], show(r.err));
      res_free(&r);
    }
    Res r = call_s(p2, "counter", "");
    CHECK(r.rc == 0 && out_u64(&r) == 1, "p2 counter %llu, want 1 (independent vars)",
          (unsigned long long)out_u64(&r));
    res_free(&r);
    CHECK(memcmp(extism_plugin_id(p1), extism_plugin_id(p2), 16) != 0, "same id");
    CHECK(extism_plugin_cancel_handle(p1) != extism_plugin_cancel_handle(p2),
          "plugins share one cancel handle");
  }
  extism_plugin_free(p1);
  extism_plugin_free(p2);

  /* with host functions: user data freed when the compiled plugin and all plugins are gone */
  HostData hd = {.prefix = "C:"};
  ExtismFunction *f = new_hello(&hd);
  const ExtismFunction *fns[] = {f};
  path = wat_path("host.wat");
  wat = read_file(path, &len);
  free(path);
  errmsg = NULL;
  c = extism_compiled_plugin_new(wat, len, fns, 1, false, &errmsg);
  err = take_err(errmsg);
  CHECK(c != NULL, "compiled with host function failed: %s", show(err));
  free(err);
  extism_function_free(f);
  if (c) {
    ExtismPlugin *a = extism_plugin_new_from_compiled(c, NULL);
    ExtismPlugin *b = extism_plugin_new_from_compiled(c, NULL);
    CHECK(a && b, "new_from_compiled (errmsg NULL) failed");
    extism_compiled_plugin_free(c);
    if (a) CALL_OK(a, "call_host", "a", "C:a");
    if (b) CALL_OK(b, "call_host", "b", "C:b");
    CHECK(atomic_load(&hd.freed) == 0, "freed while plugins live");
    extism_plugin_free(a);
    CHECK(atomic_load(&hd.freed) == 0, "freed while plugin b lives");
    extism_plugin_free(b);
  }
  CHECK(atomic_load(&hd.freed) == 1, "compiled: free_user_data called %d times, want 1",
        atomic_load(&hd.freed));

  /* link errors appear at new_from_compiled (docs/c-api.md, Compiled plugins; docs/manifest.md, Errors) */
  errmsg = NULL;
  c = extism_compiled_plugin_new(wat, len, NULL, 0, false, &errmsg);
  err = take_err(errmsg);
  CHECK(c != NULL, "compiling host.wat without functions failed (should fail only at creation): %s",
        show(err));
  free(err);
  if (c) {
    errmsg = NULL;
    ExtismPlugin *p = extism_plugin_new_from_compiled(c, &errmsg);
    err = take_err(errmsg);
    CHECK(p == NULL, "new_from_compiled succeeded with a missing import");
    CHECK(starts_with(err, CREATE_PREFIX) && contains(err, "hello_world"),
          "new_from_compiled link error: %s", show(err));
    free(err);
    extism_plugin_free(p);
    extism_compiled_plugin_free(c);
  }
  free(wat);

  /* compile errors */
  static const uint8_t garbage[] = {0x01, 0xff, 0xfe, 0x00, 0x80, 0x81};
  errmsg = NULL;
  c = extism_compiled_plugin_new(garbage, sizeof garbage, NULL, 0, false, &errmsg);
  err = take_err(errmsg);
  CHECK(c == NULL && starts_with(err, COMPILE_PREFIX), "compiled garbage: %p %s", (void *)c,
        show(err));
  free(err);
  extism_compiled_plugin_free(c);
  errmsg = NULL;
  c = extism_compiled_plugin_new_with_fuel_limit(garbage, sizeof garbage, NULL, 0, false, 1000, &errmsg);
  err = take_err(errmsg);
  CHECK(c == NULL && starts_with(err, COMPILE_PREFIX), "compiled(fuel) garbage: %p %s", (void *)c,
        show(err));
  free(err);
  extism_compiled_plugin_free(c);

  /* new_from_compiled from several threads */
  path = wat_path("count_vowels.wat");
  wat = read_file(path, &len);
  free(path);
  c = extism_compiled_plugin_new(wat, len, NULL, 0, false, NULL);
  free(wat);
  CHECK(c != NULL, "compiling count_vowels failed");
  if (c) {
    enum { NT = 4 };
    pthread_t th[NT];
    ThreadArg args[NT];
    for (int i = 0; i < NT; i++) {
      args[i].compiled = c;
      args[i].ok = 0;
      pthread_create(&th[i], NULL, compiled_worker, &args[i]);
    }
    for (int i = 0; i < NT; i++) {
      pthread_join(th[i], NULL);
      CHECK(args[i].ok == 20, "thread %d: %d/20 calls correct", i, args[i].ok);
    }
    extism_compiled_plugin_free(c);
  }
}
