/*
 * host_functions.c: extism_function_new, extism_function_set_namespace, extism_function_free
 * and the extism_current_plugin_* functions: user data and its release, value types,
 * namespaces, registration errors, host context, reentrant calls. The hello_world host
 * function itself is in support.c.
 */

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* custom:ns::mix (i32, f32, f64) -> i64 = (a + b + c) * 4 */
static void host_mix(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                     ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)cp;
  HostData *hd = data;
  atomic_fetch_add(&hd->calls, 1);
  CHECK(n_inputs == 3 && n_outputs == 1, "mix got %llu/%llu values", (unsigned long long)n_inputs,
        (unsigned long long)n_outputs);
  if (n_inputs != 3 || n_outputs != 1) return;
  CHECK(inputs[0].t == ExtismValType_I32 && inputs[1].t == ExtismValType_F32 &&
            inputs[2].t == ExtismValType_F64,
        "mix input types %d %d %d", (int)inputs[0].t, (int)inputs[1].t, (int)inputs[2].t);
  CHECK(inputs[0].v.i32 == 5 && inputs[1].v.f32 == 2.5f && inputs[2].v.f64 == 0.25,
        "mix values %d %f %f", inputs[0].v.i32, (double)inputs[1].v.f32, inputs[2].v.f64);
  CHECK(outputs[0].t == ExtismValType_I64, "mix output type %d", (int)outputs[0].t);
  outputs[0].v.i64 = (int64_t)((inputs[0].v.i32 + inputs[1].v.f32 + inputs[2].v.f64) * 4);
}

/* custom:ns::half (f64) -> f32 */
static void host_half(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                      ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)cp;
  HostData *hd = data;
  atomic_fetch_add(&hd->calls, 1);
  if (n_inputs != 1 || n_outputs != 1) {
    CHECK(0, "half got %llu/%llu values", (unsigned long long)n_inputs,
          (unsigned long long)n_outputs);
    return;
  }
  CHECK(inputs[0].t == ExtismValType_F64 && outputs[0].t == ExtismValType_F32,
        "half types %d -> %d", (int)inputs[0].t, (int)outputs[0].t);
  outputs[0].v.f32 = (float)(inputs[0].v.f64 / 2);
}

/* custom:ns::ping () -> () */
static void host_ping(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                      ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)cp;
  HostData *hd = data;
  atomic_fetch_add(&hd->calls, 1);
  CHECK(n_inputs == 0 && inputs == NULL, "ping: inputs %p n %llu, want NULL/0", (const void *)inputs,
        (unsigned long long)n_inputs);
  CHECK(n_outputs == 0 && outputs == NULL, "ping: outputs %p n %llu, want NULL/0", (void *)outputs,
        (unsigned long long)n_outputs);
}

/* hello_world that calls back into its own plugin. */
typedef struct {
  ExtismPlugin *plugin;
  int32_t inner_rc;
  char *inner_err;
  int calls;
} Reenter;

static void host_reenter(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                         ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)inputs;
  (void)n_inputs;
  Reenter *re = data;
  re->calls++;
  re->inner_rc = extism_plugin_call(re->plugin, "call_host", (const uint8_t *)"x", 1);
  const char *e = extism_plugin_error(re->plugin);
  free(re->inner_err);
  re->inner_err = e ? xstrdup(e) : NULL;
  if (n_outputs == 1) {
    ExtismMemoryHandle h = extism_current_plugin_memory_alloc(cp, 2);
    if (h) {
      memcpy(extism_current_plugin_memory(cp) + h, "ok", 2);
      outputs[0].v.i64 = (int64_t)h;
    }
  }
}

static const char TYPED_WAT[] =
    "(module\n"
    "  (import \"custom:ns\" \"mix\" (func $mix (param i32 f32 f64) (result i64)))\n"
    "  (import \"custom:ns\" \"half\" (func $half (param f64) (result f32)))\n"
    "  (import \"custom:ns\" \"ping\" (func $ping))\n"
    "  (func (export \"mix\") (result i32)\n"
    "    (i32.wrap_i64 (call $mix (i32.const 5) (f32.const 2.5) (f64.const 0.25))))\n"
    "  (func (export \"half\") (result i32) (i32.trunc_f32_s (call $half (f64.const 15.0))))\n"
    "  (func (export \"ping\") (result i32) (call $ping) (i32.const 0)))\n";

void test_host_functions(void) {
  section("host functions: user data, memory, host context");
  HostData hd = {.prefix = "Hello, "};
  ExtismFunction *f = new_hello(&hd);
  if (!f) return;
  const ExtismFunction *fns[] = {f};
  ExtismPlugin *p;
  WAT_PLUGIN(p, "host.wat", fns, 1, false);
  extism_function_free(f); /* the plugin keeps its own reference */
  CHECK(atomic_load(&hd.freed) == 0, "free_user_data called while the plugin holds the function");
  if (!p) return;

  int marker = 42;
  hd.last_ctx = NULL;
  Res r = call_full(p, "call_host", "world", 5, true, &marker);
  EXPECT_OK(r, "Hello, world");
  res_free(&r);
  CHECK(hd.last_ctx == &marker, "host context %p, want %p", hd.last_ctx, (void *)&marker);

  hd.last_ctx = &hd;
  r = call_s(p, "call_host", "again");
  EXPECT_OK(r, "Hello, again");
  res_free(&r);
  CHECK(hd.last_ctx == NULL, "host context via extism_plugin_call = %p, want NULL", hd.last_ctx);

  r = call_full(p, "call_host", "ctx-null", 8, true, NULL);
  EXPECT_OK(r, "Hello, ctx-null");
  res_free(&r);
  CHECK(hd.last_ctx == NULL, "NULL host context = %p, want NULL", hd.last_ctx);

  int before = atomic_load(&hd.calls);
  CALL_OK(p, "call_twice", "2x", "Hello, 2x");
  CHECK(atomic_load(&hd.calls) == before + 2, "call_twice: %d host calls, want 2",
        atomic_load(&hd.calls) - before);

  /* large argument and result (memory may grow: the base pointer is re-fetched) */
  size_t big = 300 * 1024;
  char *in = xmalloc(big + 1);
  memset(in, 'z', big);
  in[big] = 0;
  r = call_full(p, "call_host", in, big, false, NULL);
  EXPECT_RC(r, 0);
  CHECK(r.len == big + 7 && memcmp(r.out, "Hello, ", 7) == 0 && memcmp(r.out + 7, in, big) == 0,
        "big host round trip: %zu bytes", r.len);
  res_free(&r);
  free(in);

  CALL_OK(p, "call_host", "", "Hello, ");
  CHECK(atomic_load(&hd.freed) == 0, "free_user_data called early");
  extism_plugin_free(p);
  CHECK(atomic_load(&hd.freed) == 1, "free_user_data called %d times after plugin free, want 1",
        atomic_load(&hd.freed));

  /* never registered: freed at extism_function_free */
  HostData hd2 = {.prefix = "x"};
  ExtismFunction *f2 = new_hello(&hd2);
  CHECK(atomic_load(&hd2.freed) == 0, "free_user_data called by function_new");
  extism_function_free(f2);
  CHECK(atomic_load(&hd2.freed) == 1, "unregistered function: free_user_data called %d times",
        atomic_load(&hd2.freed));

  /* NULL free_user_data is fine */
  ExtismFunction *f3 = extism_function_new("hello_world", I64_1, 1, I64_1, 1, host_hello, &hd2, NULL);
  CHECK(f3 != NULL, "function_new with NULL free_user_data failed");
  extism_function_free(f3);

  /* AssemblyScript host_call with the same host function */
  HostData hd4 = {.prefix = "AS says: "};
  ExtismFunction *f4 = new_hello(&hd4);
  const ExtismFunction *fns4[] = {f4};
  char *path = as_path("as_host_call.wasm");
  size_t len;
  unsigned char *bin = read_file(path, &len);
  CHECK(bin != NULL, "cannot read %s", path);
  if (bin && f4) {
    MUST_CREATE(p, bin, len, fns4, 1, false);
    if (p) {
      CALL_OK(p, "call_host", "hi", "AS says: hi");
      extism_plugin_free(p);
    }
  }
  free(bin);
  free(path);
  extism_function_free(f4);
  CHECK(atomic_load(&hd4.freed) == 1, "as_host_call: free_user_data called %d times",
        atomic_load(&hd4.freed));
}

void test_namespaces(void) {
  section("host functions: namespaces and value types");
  HostData hd = {.prefix = ""};
  static const ExtismValType mix_in[] = {ExtismValType_I32, ExtismValType_F32, ExtismValType_F64};
  static const ExtismValType half_in[] = {ExtismValType_F64};
  static const ExtismValType half_out[] = {ExtismValType_F32};

  ExtismFunction *mix = extism_function_new("mix", mix_in, 3, I64_1, 1, host_mix, &hd, free_host_data);
  ExtismFunction *half = extism_function_new("half", half_in, 1, half_out, 1, host_half, &hd, NULL);
  ExtismFunction *ping = extism_function_new("ping", NULL, 0, NULL, 0, host_ping, &hd, NULL);
  CHECK(mix && half && ping, "function_new with I32/F32/F64 types failed");
  if (!mix || !half || !ping) {
    extism_function_free(mix);
    extism_function_free(half);
    extism_function_free(ping);
    return;
  }

  /* default namespace is extism:host/user: the custom:ns imports are not satisfied */
  ExtismFunction *wrong = extism_function_new("mix", mix_in, 3, I64_1, 1, host_mix, &hd, free_host_data);
  const ExtismFunction *wrong_fns[] = {wrong};
  char *err = NULL;
  ExtismPlugin *p = text_plugin(TYPED_WAT, wrong_fns, 1, false, &err);
  CHECK(p == NULL, "plugin created although custom:ns::mix is missing");
  CHECK(starts_with(err, COMPILE_PREFIX) && contains(err, "custom:ns"),
        "missing import error: %s", show(err));
  /* taken by a creation call that failed: freed during that call (docs/c-api.md, Ownership) */
  CHECK(atomic_load(&hd.freed) == 1, "failed creation: free_user_data called %d times, want 1",
        atomic_load(&hd.freed));
  free(err);
  extism_plugin_free(p);
  extism_function_free(wrong);
  CHECK(atomic_load(&hd.freed) == 1, "after function_free: free_user_data called %d times, want 1",
        atomic_load(&hd.freed));
  atomic_store(&hd.freed, 0);

  extism_function_set_namespace(mix, "custom:ns");
  extism_function_set_namespace(half, "custom:ns");
  extism_function_set_namespace(ping, "custom:ns");
  const ExtismFunction *fns[] = {mix, half, ping};
  p = text_plugin(TYPED_WAT, fns, 3, false, &err);
  CHECK(p != NULL, "typed plugin creation failed: %s", show(err));
  free(err);
  /* after registration, set_namespace does nothing */
  extism_function_set_namespace(mix, "other:ns");
  extism_function_set_namespace(mix, NULL);
  extism_function_free(mix);
  extism_function_free(half);
  extism_function_free(ping);
  if (!p) return;
  Res r = call_s(p, "mix", "");
  EXPECT_RC(r, 31);
  EXPECT_NOERR(r);
  res_free(&r);
  r = call_s(p, "half", "");
  EXPECT_RC(r, 7);
  EXPECT_NOERR(r);
  res_free(&r);
  int before = atomic_load(&hd.calls);
  CALL_OK(p, "ping", "", "");
  CHECK(atomic_load(&hd.calls) == before + 1, "ping not called");
  CHECK(atomic_load(&hd.freed) == 0, "freed early");
  extism_plugin_free(p);
  CHECK(atomic_load(&hd.freed) == 1, "mix free_user_data called %d times, want 1",
        atomic_load(&hd.freed));
}

void test_registration_errors(void) {
  section("host functions: registration errors");
  /* a function passed to two constructors */
  HostData hd = {.prefix = "A:"};
  ExtismFunction *f = new_hello(&hd);
  const ExtismFunction *fns[] = {f};
  ExtismPlugin *a;
  WAT_PLUGIN(a, "host.wat", fns, 1, false);
  char *err = NULL;
  ExtismPlugin *b = wat_plugin_ex("host.wat", fns, 1, false, &err);
  CHECK(b == NULL, "the same function registered with a second plugin");
  CHECK(err && strcmp(err, "Function cannot be registered with multiple different Plugins") == 0,
        "second registration error: %s", show(err));
  free(err);
  extism_plugin_free(b);
  /* ... and with a compiled plugin */
  char *path = wat_path("host.wat");
  size_t len;
  unsigned char *wat = read_file(path, &len);
  char *errmsg = NULL;
  ExtismCompiledPlugin *c = extism_compiled_plugin_new(wat, len, fns, 1, false, &errmsg);
  err = take_err(errmsg);
  CHECK(c == NULL, "the same function registered with a compiled plugin");
  CHECK(err && strcmp(err, "Function cannot be registered with multiple different Plugins") == 0,
        "compiled second registration error: %s", show(err));
  free(err);
  extism_compiled_plugin_free(c);
  CHECK(atomic_load(&hd.freed) == 0, "failed second registration freed the user data");
  extism_function_free(f);
  CHECK(atomic_load(&hd.freed) == 0, "user data freed while plugin A lives");
  if (a) CALL_OK(a, "call_host", "b", "A:b");
  extism_plugin_free(a);
  CHECK(atomic_load(&hd.freed) == 1, "free_user_data called %d times, want 1",
        atomic_load(&hd.freed));

  /* a NULL element */
  HostData hd2 = {.prefix = "B:"};
  ExtismFunction *f2 = new_hello(&hd2);
  const ExtismFunction *with_null[] = {f2, NULL};
  err = NULL;
  ExtismPlugin *p = create_ex(wat, len, with_null, 2, false, &err);
  CHECK(p == NULL, "NULL function element accepted");
  CHECK(err && strcmp(err, "Cannot pass null pointer") == 0, "NULL element error: %s", show(err));
  free(err);
  extism_plugin_free(p);
  const ExtismFunction *only_null[] = {NULL};
  errmsg = NULL;
  c = extism_compiled_plugin_new(wat, len, only_null, 1, false, &errmsg);
  err = take_err(errmsg);
  CHECK(c == NULL, "compiled: NULL function element accepted");
  CHECK(err && strcmp(err, "Cannot pass null pointer") == 0, "compiled NULL element error: %s",
        show(err));
  free(err);
  extism_compiled_plugin_free(c);
  extism_function_free(f2);
  CHECK(atomic_load(&hd2.freed) == 1, "free_user_data called %d times, want 1",
        atomic_load(&hd2.freed));

  /* errmsg may be NULL */
  p = extism_plugin_new(wat, len, only_null, 1, false, NULL);
  CHECK(p == NULL, "NULL element accepted (errmsg NULL)");
  extism_plugin_free(p);

  /* host.wat without its host function: link error at creation */
  err = NULL;
  p = create_ex(wat, len, NULL, 0, false, &err);
  CHECK(p == NULL, "host.wat created without hello_world");
  CHECK(starts_with(err, COMPILE_PREFIX) && contains(err, "hello_world"),
        "missing host function error: %s", show(err));
  free(err);
  extism_plugin_free(p);
  free(wat);
  free(path);
}

void test_reentrancy(void) {
  section("host function calling back into its own plugin");
  Reenter re = {0};
  ExtismFunction *f = extism_function_new("hello_world", I64_1, 1, I64_1, 1, host_reenter, &re, NULL);
  const ExtismFunction *fns[] = {f};
  ExtismPlugin *p;
  WAT_PLUGIN(p, "host.wat", fns, 1, false);
  extism_function_free(f);
  if (!p) return;
  re.plugin = p;
  Res r = call_s(p, "call_host", "outer");
  EXPECT_OK(r, "ok");
  res_free(&r);
  CHECK(re.calls == 1, "reentrant host function called %d times", re.calls);
  CHECK(re.inner_rc == -1, "reentrant extism_plugin_call rc %d, want -1", re.inner_rc);
  CHECK(re.inner_err && strcmp(re.inner_err, "cannot make reentrant calls into plugin") == 0,
        "reentrant call error: %s", show(re.inner_err));
  r = call_s(p, "call_host", "again");
  EXPECT_OK(r, "ok");
  res_free(&r);
  CHECK(re.calls == 2 && re.inner_rc == -1, "second outer call: calls %d, inner rc %d", re.calls,
        re.inner_rc);
  free(re.inner_err);
  extism_plugin_free(p);
}
