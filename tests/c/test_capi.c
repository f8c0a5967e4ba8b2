/*
 * test_capi.c: exercises every function of include/extism.h and include/extism-ext.h against
 * real plugins.
 *
 * Usage: test_capi [REPO_ROOT]        (REPO_ROOT defaults to ".")
 *
 * Fixtures: the WAT files in REPO_ROOT/tests/fixtures/wat and the AssemblyScript plugins in
 * REPO_ROOT/target/fixtures/as_*.wasm (or $EXTISM_AS_FIXTURES_DIR), built by
 * tests/fixtures/pdk/build.sh.
 *
 * The expected values come from the project's contract pages (docs/c-api.md, docs/abi.md,
 * docs/manifest.md and docs/compatibility.md). Each CHECK counts one pass or failure; a failure prints the section, the line,
 * the condition and the actual values. The last line printed is "N passed, N failed", and the exit
 * status is non-zero when anything failed.
 *
 * Each section runs under a watchdog (alarm): a hang prints the section name and exits 3.
 * EXTISM_TEST_SECTION_TIMEOUT (seconds, default 120) changes it, e.g. under valgrind.
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "extism.h"
#include "extism-ext.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                     */
/* ------------------------------------------------------------------------------------------ */

static atomic_int g_pass;
static atomic_int g_fail;
static const char *volatile g_section = "startup";
static unsigned g_section_timeout = 120;

__attribute__((format(printf, 4, 5))) static void check_impl(int ok, int line, const char *expr,
                                                             const char *fmt, ...) {
  if (ok) {
    atomic_fetch_add(&g_pass, 1);
    return;
  }
  atomic_fetch_add(&g_fail, 1);
  va_list ap;
  va_start(ap, fmt);
  flockfile(stderr);
  fprintf(stderr, "FAIL [%s] test_capi.c:%d: %s: ", g_section, line, expr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  funlockfile(stderr);
  va_end(ap);
}

#define CHECK(cond, ...) check_impl(!!(cond), __LINE__, #cond, __VA_ARGS__)

static const char *show(const char *s) { return s ? s : "(null)"; }

static void on_alarm(int sig) {
  (void)sig;
  const char *a = "\nTIMEOUT: test section '";
  const char *s = g_section;
  const char *b = "' did not finish (hang?)\n";
  ssize_t ignored = write(2, a, strlen(a));
  ignored = write(2, s, strlen(s));
  ignored = write(2, b, strlen(b));
  (void)ignored;
  _exit(3);
}

static void section(const char *name) {
  g_section = name;
  alarm(g_section_timeout);
  fprintf(stderr, "-- %s\n", name);
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */
/* ------------------------------------------------------------------------------------------ */

static char g_root[PATH_MAX];
static char *g_as_dir;

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s);
  char *d = xmalloc(n + 1);
  memcpy(d, s, n + 1);
  return d;
}

__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  char *s = xmalloc((size_t)n + 1);
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  return s;
}

static bool starts_with(const char *s, const char *prefix) {
  return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool contains(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

static bool contains_ci(const char *s, const char *sub) {
  if (!s) return false;
  size_t n = strlen(sub);
  for (; *s; s++) {
    size_t i = 0;
    while (i < n && s[i] && (s[i] | 0x20) == (sub[i] | 0x20)) i++;
    if (i == n) return true;
  }
  return false;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A JSON string literal (with quotes) for s. */
static char *json_quote(const char *s) {
  size_t n = strlen(s);
  char *out = xmalloc(n * 6 + 3);
  char *o = out;
  *o++ = '"';
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') {
      *o++ = '\\';
      *o++ = (char)*p;
    } else if (*p < 0x20) {
      o += sprintf(o, "\\u%04x", *p);
    } else {
      *o++ = (char)*p;
    }
  }
  *o++ = '"';
  *o = 0;
  return out;
}

static char *base64(const unsigned char *data, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = xmalloc((n + 2) / 3 * 4 + 1);
  char *o = out;
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
    *o++ = tbl[v >> 18 & 63];
    *o++ = tbl[v >> 12 & 63];
    *o++ = tbl[v >> 6 & 63];
    *o++ = tbl[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0);
    *o++ = tbl[v >> 18 & 63];
    *o++ = tbl[v >> 12 & 63];
    *o++ = i + 1 < n ? tbl[v >> 6 & 63] : '=';
    *o++ = '=';
  }
  *o = 0;
  return out;
}

/* Absolute path of a WAT fixture. */
static char *wat_path(const char *name) { return fmt("%s/tests/fixtures/wat/%s", g_root, name); }
static char *as_path(const char *name) { return fmt("%s/%s", g_as_dir, name); }

/* Reads a whole file (NUL-terminated; the terminator is not counted). NULL if it cannot. */
static unsigned char *read_file(const char *path, size_t *len) {
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  unsigned char *buf = xmalloc(cap + 1);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      cap *= 2;
      unsigned char *nb = realloc(buf, cap + 1);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
  }
  fclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* Plugin creation and calls                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Takes an errmsg from a constructor: returns a malloc'd copy and frees the original with
 * extism_plugin_new_error_free. */
static char *take_err(char *errmsg) {
  if (!errmsg) return NULL;
  char *copy = xstrdup(errmsg);
  extism_plugin_new_error_free(errmsg);
  return copy;
}

/* extism_plugin_new on bytes; *err_out (if given) receives a malloc'd copy of the error. */
static ExtismPlugin *create_ex(const void *buf, size_t len, const ExtismFunction **fns, size_t nf,
                               bool wasi, char **err_out) {
  char *errmsg = NULL;
  ExtismPlugin *p = extism_plugin_new((const uint8_t *)buf, len, fns, nf, wasi, &errmsg);
  if (p) CHECK(errmsg == NULL, "errmsg set on success: %s", show(errmsg));
  char *err = take_err(errmsg);
  if (err_out)
    *err_out = err;
  else
    free(err);
  return p;
}

/* Creation that must succeed (the failure is a CHECK failure, with the error text). */
#define MUST_CREATE(var, buf, len, fns, nf, wasi)                                               \
  do {                                                                                          \
    char *mc_err_ = NULL;                                                                       \
    var = create_ex((buf), (len), (fns), (nf), (wasi), &mc_err_);                               \
    CHECK(var != NULL, "plugin creation failed: %s", show(mc_err_));                            \
    free(mc_err_);                                                                              \
  } while (0)

/* A plugin from a WAT fixture, passing the WAT text itself as the wasm argument. */
static ExtismPlugin *wat_plugin_ex(const char *name, const ExtismFunction **fns, size_t nf, bool wasi,
                                   char **err_out) {
  char *path = wat_path(name);
  size_t len;
  unsigned char *text = read_file(path, &len);
  CHECK(text != NULL, "cannot read fixture %s", path);
  ExtismPlugin *p = NULL;
  if (text) p = create_ex(text, len, fns, nf, wasi, err_out);
  free(text);
  free(path);
  return p;
}

#define WAT_PLUGIN(var, name, fns, nf, wasi)                                                    \
  do {                                                                                          \
    char *wp_err_ = NULL;                                                                       \
    var = wat_plugin_ex((name), (fns), (nf), (wasi), &wp_err_);                                 \
    CHECK(var != NULL, "creating %s failed: %s", (name), show(wp_err_));                        \
    free(wp_err_);                                                                              \
  } while (0)

static ExtismPlugin *text_plugin(const char *text, const ExtismFunction **fns, size_t nf, bool wasi,
                                 char **err_out) {
  return create_ex(text, strlen(text), fns, nf, wasi, err_out);
}

/* The result of one call, copied out of the plugin. */
typedef struct {
  const char *fn;
  int32_t rc;
  char *out; /* NUL-terminated copy of the output */
  size_t len;
  char *err; /* copy of extism_plugin_error, or NULL */
} Res;

static Res call_full(ExtismPlugin *p, const char *fn, const void *in, size_t n, bool use_ctx,
                     void *ctx) {
  Res r;
  r.fn = fn;
  r.rc = use_ctx ? extism_plugin_call_with_host_context(p, fn, (const uint8_t *)in, n, ctx)
                 : extism_plugin_call(p, fn, (const uint8_t *)in, n);
  ExtismSize len = extism_plugin_output_length(p);
  const uint8_t *data = extism_plugin_output_data(p);
  CHECK(len == 0 || data != NULL, "%s: output_length %llu but output_data NULL", show(fn),
        (unsigned long long)len);
  r.len = data ? (size_t)len : 0;
  r.out = xmalloc(r.len + 1);
  if (r.len) memcpy(r.out, data, r.len);
  r.out[r.len] = 0;
  const char *e = extism_plugin_error(p);
  r.err = e ? xstrdup(e) : NULL;
  return r;
}

static Res call_s(ExtismPlugin *p, const char *fn, const char *in) {
  return call_full(p, fn, in, in ? strlen(in) : 0, false, NULL);
}

static void res_free(Res *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

static uint64_t out_u64(const Res *r) {
  uint64_t v = 0;
  if (r->len == 8)
    for (int i = 7; i >= 0; i--) v = v << 8 | (unsigned char)r->out[i];
  return v;
}

static uint32_t out_u32(const Res *r) {
  uint32_t v = 0;
  if (r->len == 4)
    for (int i = 3; i >= 0; i--) v = v << 8 | (unsigned char)r->out[i];
  return v;
}

#define EXPECT_RC(r, want)                                                                      \
  CHECK((r).rc == (want), "%s: rc %d, want %d (error: %s)", show((r).fn), (int)(r).rc,          \
        (int)(want), show((r).err))
#define EXPECT_OUT(r, want)                                                                     \
  CHECK((r).len == strlen(want) && memcmp((r).out, (want), (r).len) == 0,                       \
        "%s: output \"%.*s\" (%zu bytes), want \"%s\"", show((r).fn),                           \
        (int)((r).len > 300 ? 300 : (r).len), (r).out, (r).len, (want))
#define EXPECT_NOERR(r)                                                                         \
  CHECK((r).err == NULL, "%s: error \"%s\", want NULL", show((r).fn), show((r).err))
#define EXPECT_ERR(r, want)                                                                     \
  CHECK((r).err != NULL && strcmp((r).err, (want)) == 0, "%s: error \"%s\", want \"%s\"",       \
        show((r).fn), show((r).err), (want))
#define EXPECT_ERR_HAS(r, sub)                                                                  \
  CHECK(contains((r).err, (sub)), "%s: error \"%s\", want it to contain \"%s\"", show((r).fn),  \
        show((r).err), (sub))
#define EXPECT_OK(r, want_out)                                                                  \
  do {                                                                                          \
    EXPECT_RC(r, 0);                                                                            \
    EXPECT_NOERR(r);                                                                            \
    EXPECT_OUT(r, want_out);                                                                    \
  } while (0)

/* Call and check rc, no error and output in one step. */
#define CALL_OK(p, fn, in, want_out)                                                            \
  do {                                                                                          \
    Res co_ = call_s((p), (fn), (in));                                                          \
    EXPECT_OK(co_, want_out);                                                                   \
    res_free(&co_);                                                                             \
  } while (0)

#define CALL_RC_ERR(p, fn, in, want_rc, want_err)                                               \
  do {                                                                                          \
    Res ce_ = call_s((p), (fn), (in));                                                          \
    EXPECT_RC(ce_, want_rc);                                                                    \
    EXPECT_ERR(ce_, want_err);                                                                  \
    res_free(&ce_);                                                                             \
  } while (0)

static const char COMPILE_PREFIX[] = "Unable to compile Extism plugin: ";
static const char CREATE_PREFIX[] = "Unable to create Extism plugin: ";

/* ------------------------------------------------------------------------------------------ */
/* Host functions                                                                             */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  const char *prefix;   /* hello_world returns prefix + input */
  atomic_int calls;     /* invocations */
  atomic_int freed;     /* free_user_data invocations */
  void *last_ctx;       /* extism_current_plugin_host_context seen by the last call */
  bool saw_ctx_call;
} HostData;

static void free_host_data(void *p) { atomic_fetch_add(&((HostData *)p)->freed, 1); }

/* extism:host/user::hello_world (i64) -> i64: returns a new block prefix + argument bytes. */
static void host_hello(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                       ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  HostData *hd = data;
  atomic_fetch_add(&hd->calls, 1);
  hd->last_ctx = extism_current_plugin_host_context(cp);
  hd->saw_ctx_call = true;
  CHECK(n_inputs == 1 && n_outputs == 1, "hello_world got %llu inputs, %llu outputs",
        (unsigned long long)n_inputs, (unsigned long long)n_outputs);
  if (n_inputs != 1 || n_outputs != 1 || !inputs || !outputs) return;
  CHECK(inputs[0].t == ExtismValType_I64, "input type %d, want I64", (int)inputs[0].t);
  CHECK(outputs[0].t == ExtismValType_I64 && outputs[0].v.i64 == 0,
        "output slot not pre-filled: t=%d v=%lld", (int)outputs[0].t, (long long)outputs[0].v.i64);

  ExtismMemoryHandle h = (ExtismMemoryHandle)inputs[0].v.i64;
  ExtismSize n = extism_current_plugin_memory_length(cp, h);
  uint8_t *base = extism_current_plugin_memory(cp);
  CHECK(base != NULL, "extism_current_plugin_memory returned NULL");
  if (!base) return;
  char *arg = xmalloc((size_t)n + 1);
  if (n) memcpy(arg, base + h, (size_t)n);

  /* alloc / length / free on a scratch block */
  ExtismMemoryHandle tmp = extism_current_plugin_memory_alloc(cp, 32);
  CHECK(tmp != 0, "memory_alloc(32) returned 0");
  CHECK(tmp != h || n == 0, "memory_alloc returned the argument's handle %llu",
        (unsigned long long)tmp);
  CHECK(extism_current_plugin_memory_length(cp, tmp) == 32, "length(scratch) = %llu, want 32",
        (unsigned long long)extism_current_plugin_memory_length(cp, tmp));
  extism_current_plugin_memory_free(cp, tmp);
  CHECK(extism_current_plugin_memory_length(cp, tmp) == 0, "length of freed block = %llu, want 0",
        (unsigned long long)extism_current_plugin_memory_length(cp, tmp));
  CHECK(extism_current_plugin_memory_alloc(cp, 0) == 0, "memory_alloc(0) != 0");
  CHECK(extism_current_plugin_memory_length(cp, 0) == 0, "memory_length(0) != 0");
  extism_current_plugin_memory_free(cp, 0);             /* ignored */
  extism_current_plugin_memory_free(cp, 0xFFFFFFFF0ull); /* invalid: ignored */
  if (n) /* the argument block is still intact */
    CHECK(extism_current_plugin_memory_length(cp, h) == n, "argument length changed");

  size_t plen = strlen(hd->prefix);
  ExtismMemoryHandle r = extism_current_plugin_memory_alloc(cp, plen + n);
  CHECK(r != 0, "memory_alloc(%zu) returned 0", plen + (size_t)n);
  if (r) {
    CHECK(extism_current_plugin_memory_length(cp, r) == plen + n, "length(result) wrong");
    base = extism_current_plugin_memory(cp); /* may have moved */
    memcpy(base + r, hd->prefix, plen);
    if (n) memcpy(base + r + plen, arg, (size_t)n);
    outputs[0].v.i64 = (int64_t)r;
  }
  free(arg);
}

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

static const ExtismValType I64_1[] = {ExtismValType_I64};

static ExtismFunction *new_hello(HostData *hd) {
  ExtismFunction *f = extism_function_new("hello_world", I64_1, 1, I64_1, 1, host_hello, hd,
                                          free_host_data);
  CHECK(f != NULL, "extism_function_new(hello_world) returned NULL");
  return f;
}

/* ------------------------------------------------------------------------------------------ */
/* Sections                                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void test_version(void) {
  section("extism_version");
  const char *v = extism_version();
  CHECK(v != NULL && v[0] != 0, "version empty");
  if (!v) return;
  CHECK(strcmp(v, "0.0.0") != 0, "version is 0.0.0");
  unsigned a, b, c;
  CHECK(sscanf(v, "%u.%u.%u", &a, &b, &c) == 3, "version \"%s\" is not MAJOR.MINOR.PATCH", v);
  CHECK(extism_version() == v || strcmp(extism_version(), v) == 0, "version changes");
}

static void test_echo(void) {
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

static void test_sources(void) {
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

static void test_errors(void) {
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

static void test_config_vars(void) {
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

static void test_plugin_id(void) {
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

static const char TYPED_WAT[] =
    "(module\n"
    "  (import \"custom:ns\" \"mix\" (func $mix (param i32 f32 f64) (result i64)))\n"
    "  (import \"custom:ns\" \"half\" (func $half (param f64) (result f32)))\n"
    "  (import \"custom:ns\" \"ping\" (func $ping))\n"
    "  (func (export \"mix\") (result i32)\n"
    "    (i32.wrap_i64 (call $mix (i32.const 5) (f32.const 2.5) (f64.const 0.25))))\n"
    "  (func (export \"half\") (result i32) (i32.trunc_f32_s (call $half (f64.const 15.0))))\n"
    "  (func (export \"ping\") (result i32) (call $ping) (i32.const 0)))\n";

static void test_host_functions(void) {
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

static void test_namespaces(void) {
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

static void test_registration_errors(void) {
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

static void test_reentrancy(void) {
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

static void test_compiled(void) {
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

static char *limits_manifest(const char *extra) {
  char *path = wat_path("limits.wat");
  char *q = json_quote(path);
  char *m = fmt("{\"wasm\":[{\"path\":%s}]%s}", q, extra);
  free(q);
  free(path);
  return m;
}

static void test_fuel(void) {
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

static void test_extensions(void) {
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

static void test_timeout_memory(void) {
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

static void test_cancel(void) {
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

static void test_bad_inputs(void) {
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

static void test_null_args(void) {
  section("NULL arguments");
  CHECK(extism_plugin_id(NULL) == NULL, "plugin_id(NULL)");
  CHECK(extism_current_plugin_host_context(NULL) == NULL, "current_plugin_host_context(NULL)");
  CHECK(extism_current_plugin_memory(NULL) == NULL, "current_plugin_memory(NULL)");
  CHECK(extism_current_plugin_memory_alloc(NULL, 16) == 0, "current_plugin_memory_alloc(NULL)");
  CHECK(extism_current_plugin_memory_length(NULL, 77) == 0, "current_plugin_memory_length(NULL)");
  extism_current_plugin_memory_free(NULL, 77);

  HostData hd = {.prefix = ""};
  ExtismFunction *f = extism_function_new(NULL, I64_1, 1, I64_1, 1, host_hello, &hd, NULL);
  CHECK(f == NULL, "function_new(NULL name) returned a function");
  extism_function_free(f);
  f = extism_function_new("\xff\xfe", I64_1, 1, I64_1, 1, host_hello, &hd, NULL);
  CHECK(f == NULL, "function_new(non-UTF-8 name) returned a function");
  extism_function_free(f);
  extism_function_free(NULL);
  extism_function_set_namespace(NULL, "ns");
  f = extism_function_new("hello_world", I64_1, 1, I64_1, 1, NULL, &hd, NULL);
  CHECK(f == NULL, "function_new(NULL callback) returned a function (extism.h: NULL)");
  extism_function_free(f);
  f = extism_function_new("hello_world", NULL, 0, NULL, 0, host_hello, &hd, NULL);
  CHECK(f != NULL, "function_new with NULL type arrays failed");
  extism_function_set_namespace(f, NULL); /* no-op */
  extism_function_free(f);

  char *errmsg = NULL;
  ExtismCompiledPlugin *c = extism_compiled_plugin_new(NULL, 0, NULL, 0, false, &errmsg);
  CHECK(c == NULL, "compiled_plugin_new(NULL) returned a plugin");
  extism_plugin_new_error_free(errmsg);
  extism_compiled_plugin_free(c);
  extism_compiled_plugin_free(NULL);
  errmsg = NULL;
  ExtismPlugin *p = extism_plugin_new_from_compiled(NULL, &errmsg);
  CHECK(p == NULL, "new_from_compiled(NULL) returned a plugin");
  extism_plugin_new_error_free(errmsg);
  extism_plugin_free(p);
  errmsg = NULL;
  p = extism_plugin_new_with_fuel_limit(NULL, 0, NULL, 0, false, 10, &errmsg);
  CHECK(p == NULL, "new_with_fuel_limit(NULL) returned a plugin");
  extism_plugin_new_error_free(errmsg);
  extism_plugin_free(p);

  extism_plugin_allow_http_response_headers(NULL);
  extism_plugin_new_error_free(NULL);
  extism_plugin_free(NULL);
  CHECK(extism_plugin_cancel_handle(NULL) == NULL, "cancel_handle(NULL)");
  CHECK(!extism_plugin_cancel(NULL), "cancel(NULL) returned true");
  CHECK(!extism_plugin_config(NULL, (const uint8_t *)"{}", 2), "config(NULL)");
  CHECK(!extism_plugin_function_exists(NULL, "echo"), "function_exists(NULL)");
  CHECK(extism_plugin_call(NULL, "echo", (const uint8_t *)"x", 1) == -1, "call(NULL) != -1");
  CHECK(extism_plugin_call_with_host_context(NULL, "echo", (const uint8_t *)"x", 1, &hd) == -1,
        "call_with_host_context(NULL) != -1");
  CHECK(extism_error(NULL) == NULL, "extism_error(NULL)");
  CHECK(extism_plugin_error(NULL) == NULL, "plugin_error(NULL)");
  CHECK(extism_plugin_output_length(NULL) == 0, "output_length(NULL)");
  CHECK(extism_plugin_output_data(NULL) == NULL, "output_data(NULL)");
  CHECK(!extism_plugin_reset(NULL), "reset(NULL) returned true");
}

static void test_http_headers(void) {
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

static void test_wasi(void) {
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

static void test_modules(void) {
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

static ExtismPlugin *as_plugin(const char *file, const char *manifest_extra,
                               const ExtismFunction **fns, size_t nf) {
  char *path = as_path(file);
  char *q = json_quote(path);
  char *m = fmt("{\"wasm\":[{\"path\":%s}]%s}", q, manifest_extra ? manifest_extra : "");
  char *err = NULL;
  ExtismPlugin *p = create_ex(m, strlen(m), fns, nf, false, &err);
  CHECK(p != NULL, "creating %s failed: %s", file, show(err));
  free(err);
  free(m);
  free(q);
  free(path);
  return p;
}

static void test_assemblyscript(void) {
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

static void test_logging(void) {
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

/* ------------------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *root = argc > 1 ? argv[1] : ".";
  if (!realpath(root, g_root)) {
    fprintf(stderr, "test_capi: cannot resolve repository root %s: %s\n", root, strerror(errno));
    return 2;
  }
  const char *as_dir = getenv("EXTISM_AS_FIXTURES_DIR");
  g_as_dir = as_dir && *as_dir ? xstrdup(as_dir) : fmt("%s/target/fixtures", g_root);
  const char *t = getenv("EXTISM_TEST_SECTION_TIMEOUT");
  if (t && atoi(t) > 0) g_section_timeout = (unsigned)atoi(t);
  signal(SIGALRM, on_alarm);

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
