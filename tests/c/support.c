/*
 * support.c: the helpers declared in support.h, shared by the C API test program (the .c files
 * of tests/c) and the conformance runner (tests/conformance/runner.c).
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700

#include "support.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* General helpers                                                                            */
/* ------------------------------------------------------------------------------------------ */

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

char *xstrdup(const char *s) {
  size_t n = strlen(s);
  char *d = xmalloc(n + 1);
  memcpy(d, s, n + 1);
  return d;
}

char *fmt(const char *f, ...) {
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

bool starts_with(const char *s, const char *prefix) {
  return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool ends_with(const char *s, const char *suffix) {
  if (!s) return false;
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool contains(const char *s, const char *sub) { return s && strstr(s, sub) != NULL; }

bool contains_ci(const char *s, const char *sub) {
  if (!s) return false;
  size_t n = strlen(sub);
  for (; *s; s++) {
    size_t i = 0;
    while (i < n && s[i] && (s[i] | 0x20) == (sub[i] | 0x20)) i++;
    if (i == n) return true;
  }
  return false;
}

void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *json_quote(const char *s) {
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

char *base64(const unsigned char *data, size_t n) {
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

unsigned char *read_file(const char *path, size_t *len) {
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
/* Checks and sections                                                                        */
/* ------------------------------------------------------------------------------------------ */

atomic_int g_pass;
atomic_int g_fail;
static const char *volatile g_section = "startup";
static unsigned g_section_timeout = 120;

void check_impl(int ok, const char *file, int line, const char *expr, const char *format, ...) {
  if (ok) {
    atomic_fetch_add(&g_pass, 1);
    return;
  }
  atomic_fetch_add(&g_fail, 1);
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;
  va_list ap;
  va_start(ap, format);
  flockfile(stderr);
  fprintf(stderr, "FAIL [%s] %s:%d: %s: ", g_section, base, line, expr);
  vfprintf(stderr, format, ap);
  fputc('\n', stderr);
  funlockfile(stderr);
  va_end(ap);
}

const char *show(const char *s) { return s ? s : "(null)"; }

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

void sections_init(void) {
  const char *t = getenv("EXTISM_TEST_SECTION_TIMEOUT");
  if (t && atoi(t) > 0) g_section_timeout = (unsigned)atoi(t);
  signal(SIGALRM, on_alarm);
}

void section(const char *name) {
  g_section = name;
  alarm(g_section_timeout);
  fprintf(stderr, "-- %s\n", name);
}

/* ------------------------------------------------------------------------------------------ */
/* Fixtures                                                                                   */
/* ------------------------------------------------------------------------------------------ */

char g_root[PATH_MAX];
char *g_as_dir;

char *wat_path(const char *name) { return fmt("%s/tests/fixtures/wat/%s", g_root, name); }
char *as_path(const char *name) { return fmt("%s/%s", g_as_dir, name); }

/* ------------------------------------------------------------------------------------------ */
/* Plugin creation and calls                                                                  */
/* ------------------------------------------------------------------------------------------ */

char *take_err(char *errmsg) {
  if (!errmsg) return NULL;
  char *copy = xstrdup(errmsg);
  extism_plugin_new_error_free(errmsg);
  return copy;
}

ExtismPlugin *create_ex(const void *buf, size_t len, const ExtismFunction **fns, size_t nf,
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

ExtismPlugin *wat_plugin_ex(const char *name, const ExtismFunction **fns, size_t nf, bool wasi,
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

ExtismPlugin *text_plugin(const char *text, const ExtismFunction **fns, size_t nf, bool wasi,
                          char **err_out) {
  return create_ex(text, strlen(text), fns, nf, wasi, err_out);
}

ExtismPlugin *as_plugin(const char *file, const char *manifest_extra, const ExtismFunction **fns,
                        size_t nf) {
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

Res call_full(ExtismPlugin *p, const char *fn, const void *in, size_t n, bool use_ctx, void *ctx) {
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

Res call_s(ExtismPlugin *p, const char *fn, const char *in) {
  return call_full(p, fn, in, in ? strlen(in) : 0, false, NULL);
}

void res_free(Res *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

uint64_t out_u64(const Res *r) {
  uint64_t v = 0;
  if (r->len == 8)
    for (int i = 7; i >= 0; i--) v = v << 8 | (unsigned char)r->out[i];
  return v;
}

uint32_t out_u32(const Res *r) {
  uint32_t v = 0;
  if (r->len == 4)
    for (int i = 3; i >= 0; i--) v = v << 8 | (unsigned char)r->out[i];
  return v;
}

const char COMPILE_PREFIX[] = "Unable to compile Extism plugin: ";
const char CREATE_PREFIX[] = "Unable to create Extism plugin: ";

/* ------------------------------------------------------------------------------------------ */
/* The hello_world host function                                                              */
/* ------------------------------------------------------------------------------------------ */

void free_host_data(void *p) { atomic_fetch_add(&((HostData *)p)->freed, 1); }

void host_hello(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
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

const ExtismValType I64_1[1] = {ExtismValType_I64};

ExtismFunction *new_hello(HostData *hd) {
  ExtismFunction *f = extism_function_new("hello_world", I64_1, 1, I64_1, 1, host_hello, hd,
                                          free_host_data);
  CHECK(f != NULL, "extism_function_new(hello_world) returned NULL");
  return f;
}
