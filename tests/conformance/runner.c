/*
 * runner.c: conformance runner for the C frontend (libextism.so + include/extism.h).
 *
 * Runs every case of cases.json (README.md there describes the format) and prints
 * `ok NAME`, `FAIL NAME: why` or `skip NAME: why` per case, then
 * `N passed, N failed, N skipped`. Exits 1 on any failure, 2 on a usage or cases.json error.
 *
 * Usage: runner [--repo DIR] [--only NAME]... [cases.json]
 *        (DIR defaults to ".", cases.json to DIR/tests/conformance/cases.json)
 *
 * cases.json is read with the small recursive-descent JSON parser below (RFC 8259 values,
 * \u escapes with surrogate pairs; written for this runner, no third-party code).
 *
 * The general helpers (xmalloc, xrealloc, read_file, starts_with, ends_with, base64, sleep_ms)
 * are the C API test program's, from tests/c/support.h and tests/c/support.c (run.sh compiles
 * support.c with this file).
 */
#define _GNU_SOURCE

#include "extism.h"
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* A growable byte buffer (always NUL-terminated). */
typedef struct {
  char *p;
  size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const void *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void buf_str(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void buf_printf(buf_t *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    buf_put(b, tmp, (size_t)n);
    return;
  }
  char *big = xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  buf_put(b, big, (size_t)n);
  free(big);
}

/* Ensures a buffer holds an allocation even when nothing was written. */
static char *buf_take(buf_t *b) {
  if (!b->p) buf_put(b, "", 0);
  char *p = b->p;
  b->p = NULL;
  b->len = b->cap = 0;
  return p;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON                                                                                       */
/* ------------------------------------------------------------------------------------------ */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
  jtype t;
  bool b;
  double num;
  char *s; /* J_STR: UTF-8, NUL-terminated (slen bytes) */
  size_t slen;
  size_t n;            /* J_ARR, J_OBJ: number of items */
  struct jval **items; /* values */
  char **keys;         /* J_OBJ keys */
} jval;

typedef struct {
  const char *p, *end, *start;
  char err[160];
} jparser;

static void jfail(jparser *ps, const char *what) {
  if (!ps->err[0]) snprintf(ps->err, sizeof ps->err, "%s at byte %ld", what, (long)(ps->p - ps->start));
}

static void jskip(jparser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static void put_utf8(buf_t *b, uint32_t c) {
  char u[4];
  size_t n;
  if (c < 0x80) {
    u[0] = (char)c;
    n = 1;
  } else if (c < 0x800) {
    u[0] = (char)(0xC0 | (c >> 6));
    u[1] = (char)(0x80 | (c & 0x3F));
    n = 2;
  } else if (c < 0x10000) {
    u[0] = (char)(0xE0 | (c >> 12));
    u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    u[2] = (char)(0x80 | (c & 0x3F));
    n = 3;
  } else {
    u[0] = (char)(0xF0 | (c >> 18));
    u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    u[3] = (char)(0x80 | (c & 0x3F));
    n = 4;
  }
  buf_put(b, u, n);
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool jhex4(jparser *ps, uint32_t *out) {
  if (ps->end - ps->p < 4) return false;
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval((unsigned char)ps->p[i]);
    if (h < 0) return false;
    v = v * 16 + (uint32_t)h;
  }
  ps->p += 4;
  *out = v;
  return true;
}

/* Parses a string (at the opening quote) into a NUL-terminated allocation. */
static char *jstring(jparser *ps, size_t *len) {
  buf_t b = {0};
  ps->p++; /* the quote */
  while (ps->p < ps->end && *ps->p != '"') {
    unsigned char c = (unsigned char)*ps->p;
    if (c < 0x20) {
      jfail(ps, "control character in string");
      break;
    }
    if (c != '\\') {
      buf_put(&b, ps->p++, 1);
      continue;
    }
    ps->p++;
    if (ps->p >= ps->end) break;
    char e = *ps->p++;
    uint32_t cp;
    switch (e) {
    case '"': buf_put(&b, "\"", 1); break;
    case '\\': buf_put(&b, "\\", 1); break;
    case '/': buf_put(&b, "/", 1); break;
    case 'b': buf_put(&b, "\b", 1); break;
    case 'f': buf_put(&b, "\f", 1); break;
    case 'n': buf_put(&b, "\n", 1); break;
    case 'r': buf_put(&b, "\r", 1); break;
    case 't': buf_put(&b, "\t", 1); break;
    case 'u':
      if (!jhex4(ps, &cp)) {
        jfail(ps, "bad \\u escape");
        break;
      }
      if (cp >= 0xD800 && cp < 0xDC00) {
        uint32_t lo;
        if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
          ps->p += 2;
          if (jhex4(ps, &lo) && lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else {
            jfail(ps, "bad surrogate pair");
          }
        } else {
          jfail(ps, "lone surrogate");
        }
      }
      put_utf8(&b, cp);
      break;
    default: jfail(ps, "bad escape");
    }
    if (ps->err[0]) break;
  }
  if (!ps->err[0]) {
    if (ps->p >= ps->end) jfail(ps, "unterminated string");
    else ps->p++; /* the closing quote */
  }
  *len = b.len;
  return buf_take(&b);
}

static jval *jnew(jtype t) {
  jval *v = xmalloc(sizeof *v);
  memset(v, 0, sizeof *v);
  v->t = t;
  return v;
}

static void jfree(jval *v) {
  if (!v) return;
  free(v->s);
  for (size_t i = 0; i < v->n; i++) {
    jfree(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v);
}

static jval *jvalue(jparser *ps, int depth);

static jval *jcontainer(jparser *ps, int depth, bool object) {
  jval *v = jnew(object ? J_OBJ : J_ARR);
  size_t cap = 0;
  ps->p++;
  jskip(ps);
  if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
    ps->p++;
    return v;
  }
  for (;;) {
    char *key = NULL;
    if (object) {
      jskip(ps);
      if (ps->p >= ps->end || *ps->p != '"') {
        jfail(ps, "expected a key");
        return v;
      }
      size_t klen;
      key = jstring(ps, &klen);
      if (ps->err[0]) {
        free(key);
        return v;
      }
      jskip(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        free(key);
        jfail(ps, "expected ':'");
        return v;
      }
      ps->p++;
    }
    jval *item = jvalue(ps, depth + 1);
    if (v->n == cap) {
      cap = cap ? cap * 2 : 8;
      v->items = xrealloc(v->items, cap * sizeof *v->items);
      if (object) v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
    }
    v->items[v->n] = item;
    if (object) v->keys[v->n] = key;
    v->n++;
    if (ps->err[0]) return v;
    jskip(ps);
    if (ps->p < ps->end && *ps->p == ',') {
      ps->p++;
      continue;
    }
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
      ps->p++;
      return v;
    }
    jfail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    return v;
  }
}

static jval *jvalue(jparser *ps, int depth) {
  jskip(ps);
  if (depth > 64) {
    jfail(ps, "nested too deeply");
    return jnew(J_NULL);
  }
  if (ps->p >= ps->end) {
    jfail(ps, "unexpected end");
    return jnew(J_NULL);
  }
  char c = *ps->p;
  if (c == '{' || c == '[') return jcontainer(ps, depth, c == '{');
  if (c == '"') {
    jval *v = jnew(J_STR);
    v->s = jstring(ps, &v->slen);
    return v;
  }
  static const struct {
    const char *word;
    jtype t;
    bool b;
  } words[] = {{"null", J_NULL, false}, {"true", J_BOOL, true}, {"false", J_BOOL, false}};
  for (size_t i = 0; i < 3; i++) {
    size_t n = strlen(words[i].word);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i].word, n) == 0) {
      ps->p += n;
      jval *v = jnew(words[i].t);
      v->b = words[i].b;
      return v;
    }
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char tmp[64];
    size_t n = 0;
    while (ps->p + n < ps->end && n < sizeof tmp - 1 && strchr("+-0123456789.eE", ps->p[n])) n++;
    memcpy(tmp, ps->p, n);
    tmp[n] = 0;
    char *endp;
    jval *v = jnew(J_NUM);
    v->num = strtod(tmp, &endp);
    if (endp != tmp + n) jfail(ps, "bad number");
    ps->p += n;
    return v;
  }
  jfail(ps, "unexpected character");
  return jnew(J_NULL);
}

static jval *jparse(const char *text, size_t len, char *err, size_t errlen) {
  jparser ps = {text, text + len, text, {0}};
  jval *v = jvalue(&ps, 0);
  jskip(&ps);
  if (!ps.err[0] && ps.p != ps.end) jfail(&ps, "trailing data");
  if (ps.err[0]) {
    snprintf(err, errlen, "%s", ps.err);
    jfree(v);
    return NULL;
  }
  return v;
}

static jval *jget(const jval *obj, const char *key) {
  if (!obj || obj->t != J_OBJ) return NULL;
  for (size_t i = 0; i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0) return obj->items[i];
  return NULL;
}

static const char *jgetstr(const jval *obj, const char *key) {
  jval *v = jget(obj, key);
  return v && v->t == J_STR ? v->s : NULL;
}

static bool jtruthy(const jval *obj, const char *key) {
  jval *v = jget(obj, key);
  return v && v->t == J_BOOL && v->b;
}

/* ------------------------------------------------------------------------------------------ */
/* Case environment: substitutions, fixtures, bytes forms                                     */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  const char *repo;
  const char *http_base; /* NULL unless the case uses HTTP */
  const char *tmpdir;    /* NULL unless the case asked for one */
} env_t;

static void subst_into(buf_t *b, const env_t *env, const char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    if (env->http_base && len - i >= 5 && memcmp(s + i, "$HTTP", 5) == 0) {
      buf_str(b, env->http_base);
      i += 5;
    } else if (env->tmpdir && len - i >= 7 && memcmp(s + i, "$TMPDIR", 7) == 0) {
      buf_str(b, env->tmpdir);
      i += 7;
    } else {
      buf_put(b, s + i, 1);
      i++;
    }
  }
}

static char *subst(const env_t *env, const char *s) {
  buf_t b = {0};
  subst_into(&b, env, s, strlen(s));
  return buf_take(&b);
}

static char *fixture_path(const env_t *env, const jval *ref) {
  buf_t b = {0};
  const char *wat = jgetstr(ref, "wat"), *pdk = jgetstr(ref, "pdk");
  if (wat) {
    buf_printf(&b, "%s/tests/fixtures/wat/%s.wat", env->repo, wat);
  } else if (pdk) {
    const char *dir = getenv("EXTISM_FIXTURES");
    if (dir) buf_printf(&b, "%s/as_%s.wasm", dir, pdk);
    else buf_printf(&b, "%s/target/fixtures/as_%s.wasm", env->repo, pdk);
  } else {
    return NULL;
  }
  return buf_take(&b);
}

/* An input/output form of cases.json as bytes: text, {hex}, {repeat, count}. Text is substituted. */
static bool decode_bytes(const env_t *env, const jval *v, uint8_t **out, size_t *len) {
  buf_t b = {0};
  if (!v) {
    buf_put(&b, "", 0);
  } else if (v->t == J_STR) {
    subst_into(&b, env, v->s, v->slen);
  } else if (jgetstr(v, "hex")) {
    const char *h = jgetstr(v, "hex");
    size_t n = strlen(h);
    if (n % 2) return false;
    for (size_t i = 0; i < n; i += 2) {
      int hi = hexval((unsigned char)h[i]), lo = hexval((unsigned char)h[i + 1]);
      if (hi < 0 || lo < 0) {
        free(b.p);
        return false;
      }
      char c = (char)(hi * 16 + lo);
      buf_put(&b, &c, 1);
    }
  } else if (jget(v, "repeat") && jget(v, "count")) {
    const jval *r = jget(v, "repeat");
    for (long i = 0; i < (long)jget(v, "count")->num; i++) buf_put(&b, r->s, r->slen);
  } else {
    return false;
  }
  *len = b.len;
  *out = (uint8_t *)buf_take(&b);
  return true;
}

static void json_string_into(buf_t *b, const char *s, size_t len) {
  buf_put(b, "\"", 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      buf_put(b, "\\", 1);
      buf_put(b, &s[i], 1);
    } else if (c < 0x20) {
      buf_printf(b, "\\u%04x", c);
    } else {
      buf_put(b, &s[i], 1);
    }
  }
  buf_put(b, "\"", 1);
}

static void json_subst_string(buf_t *b, const env_t *env, const char *s, size_t len) {
  buf_t t = {0};
  subst_into(&t, env, s, len);
  json_string_into(b, t.p ? t.p : "", t.len);
  free(t.p);
}

/* Writes a JSON value with every string (keys too) substituted. */
static void json_write(buf_t *b, const env_t *env, const jval *v) {
  switch (v->t) {
  case J_NULL: buf_str(b, "null"); break;
  case J_BOOL: buf_str(b, v->b ? "true" : "false"); break;
  case J_NUM:
    if (v->num == (double)(long long)v->num) buf_printf(b, "%lld", (long long)v->num);
    else buf_printf(b, "%.17g", v->num);
    break;
  case J_STR: json_subst_string(b, env, v->s, v->slen); break;
  case J_ARR:
    buf_str(b, "[");
    for (size_t i = 0; i < v->n; i++) {
      if (i) buf_str(b, ",");
      json_write(b, env, v->items[i]);
    }
    buf_str(b, "]");
    break;
  case J_OBJ:
    buf_str(b, "{");
    for (size_t i = 0; i < v->n; i++) {
      if (i) buf_str(b, ",");
      json_subst_string(b, env, v->keys[i], strlen(v->keys[i]));
      buf_str(b, ":");
      json_write(b, env, v->items[i]);
    }
    buf_str(b, "}");
    break;
  }
}

/* A manifest object of cases.json as manifest JSON: `fixture` becomes `path`, `fixture_data`
 * becomes base64 `data`, strings are substituted. */
static bool manifest_json(buf_t *b, const env_t *env, const jval *m, char *why, size_t whylen) {
  buf_str(b, "{");
  for (size_t i = 0; i < m->n; i++) {
    if (i) buf_str(b, ",");
    json_string_into(b, m->keys[i], strlen(m->keys[i]));
    buf_str(b, ":");
    const jval *v = m->items[i];
    if (strcmp(m->keys[i], "wasm") != 0 || v->t != J_ARR) {
      json_write(b, env, v);
      continue;
    }
    buf_str(b, "[");
    for (size_t j = 0; j < v->n; j++) {
      const jval *e = v->items[j];
      if (j) buf_str(b, ",");
      if (e->t != J_OBJ) {
        json_write(b, env, e);
        continue;
      }
      buf_str(b, "{");
      for (size_t k = 0; k < e->n; k++) {
        if (k) buf_str(b, ",");
        const char *key = e->keys[k];
        if (strcmp(key, "fixture") == 0 || strcmp(key, "fixture_data") == 0) {
          char *path = fixture_path(env, e->items[k]);
          if (!path) {
            snprintf(why, whylen, "bad fixture reference");
            return false;
          }
          if (strcmp(key, "fixture") == 0) {
            buf_str(b, "\"path\":");
            json_string_into(b, path, strlen(path));
          } else {
            size_t len;
            uint8_t *data = read_file(path, &len);
            if (!data) {
              snprintf(why, whylen, "cannot read %s", path);
              free(path);
              return false;
            }
            buf_str(b, "\"data\":\"");
            char *b64 = base64(data, len);
            buf_str(b, b64);
            free(b64);
            buf_str(b, "\"");
            free(data);
          }
          free(path);
        } else {
          json_string_into(b, key, strlen(key));
          buf_str(b, ":");
          json_write(b, env, e->items[k]);
        }
      }
      buf_str(b, "}");
    }
    buf_str(b, "]");
  }
  buf_str(b, "}");
  return true;
}

/* The bytes given to extism_plugin_new for the case's `plugin`. */
static bool plugin_source(const env_t *env, const jval *plugin, uint8_t **out, size_t *len, char *why,
                          size_t whylen) {
  if (jget(plugin, "wasm")) {
    buf_t b = {0};
    if (!manifest_json(&b, env, plugin, why, whylen)) {
      free(b.p);
      return false;
    }
    *len = b.len;
    *out = (uint8_t *)buf_take(&b);
    return true;
  }
  if (jget(plugin, "wat") || jget(plugin, "pdk")) {
    char *path = fixture_path(env, plugin);
    *out = read_file(path, len);
    bool ok = *out != NULL;
    if (!ok) snprintf(why, whylen, "cannot read %s", path);
    free(path);
    return ok;
  }
  if (jget(plugin, "text")) return decode_bytes(env, jget(plugin, "text"), out, len);
  if (jget(plugin, "bytes")) return decode_bytes(env, jget(plugin, "bytes"), out, len);
  snprintf(why, whylen, "bad plugin reference");
  return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Host functions (the catalogue of README.md; every entry has the type (i64) -> i64)          */
/* ------------------------------------------------------------------------------------------ */

static void host_hello_world(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                             ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)n_inputs, (void)n_outputs, (void)data;
  ExtismMemoryHandle in = (ExtismMemoryHandle)inputs[0].v.i64;
  ExtismSize n = extism_current_plugin_memory_length(cp, in);
  ExtismMemoryHandle out = extism_current_plugin_memory_alloc(cp, n + 8);
  if (!out) return; /* outputs[0] stays 0 */
  uint8_t *mem = extism_current_plugin_memory(cp); /* after the alloc: the base may move */
  memcpy(mem + out, "Hello, ", 7);
  if (n) memcpy(mem + out + 7, mem + in, n);
  mem[out + 7 + n] = '!';
  outputs[0].v.i64 = (int64_t)out;
}

static void host_echo(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                      ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)cp, (void)n_inputs, (void)n_outputs, (void)data;
  outputs[0].v.i64 = inputs[0].v.i64;
}

static void host_null(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                      ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)cp, (void)inputs, (void)n_inputs, (void)n_outputs, (void)data;
  outputs[0].v.i64 = 0;
}

static void host_bad_handle(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                            ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)cp, (void)inputs, (void)n_inputs, (void)n_outputs, (void)data;
  outputs[0].v.i64 = 12345;
}

/* The host context is the step's `host_context` text (a NUL-terminated string) or NULL. */
static void host_context(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                         ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)inputs, (void)n_inputs, (void)n_outputs, (void)data;
  const char *ctx = extism_current_plugin_host_context(cp);
  if (!ctx) return; /* outputs[0] stays 0 */
  size_t n = strlen(ctx);
  ExtismMemoryHandle out = extism_current_plugin_memory_alloc(cp, n);
  if (!out) return;
  memcpy(extism_current_plugin_memory(cp) + out, ctx, n);
  outputs[0].v.i64 = (int64_t)out;
}

static const struct {
  const char *name;
  ExtismFunctionType fn;
  const char *unsupported; /* why this API cannot express it, or NULL */
} CATALOGUE[] = {
    {"hello_world", host_hello_world, NULL},
    {"echo_host", host_echo, NULL},
    {"null_host", host_null, NULL},
    {"bad_handle_host", host_bad_handle, NULL},
    {"context_host", host_context, NULL},
    {"fail_host", NULL, "a C host callback returns void and cannot fail the call"},
    {"set_error_host", NULL, "a C host callback has no way to set the plugin error"},
};

/* What this frontend's API cannot express (see README.md, "Skips"); none so far. */
static const char *unsupported_need(const char *need) {
  if (strcmp(need, "pool") == 0) return "extism.h (the official header) has no pool of plugins";
  if (strcmp(need, "async") == 0) return "extism.h (the official header) has no asynchronous call";
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Result mapping                                                                             */
/* ------------------------------------------------------------------------------------------ */

static bool is_exit_text(const char *t) {
  if (!starts_with(t, "exit status ")) return false;
  t += strlen("exit status ");
  if (*t == '-') t++;
  if (!*t) return false;
  for (; *t; t++)
    if (*t < '0' || *t > '9') return false;
  return true;
}

/*
 * The frontend's result as (error_kind, core text). The C API gives the return code and the
 * error text (NULL for none) and no kind, so:
 * - no text: rc 0 is success; any other rc is the plugin's own return code, which the other
 *   frontends (and the core's Rust API) report as the plugin error `Error code: N`;
 * - with text, the kind is read from the text, as in runner.py: the exact contract texts
 *   (docs/abi.md, Error texts) and the built-in host function texts name their kinds, a
 *   wasmtime trap starts with `wasm trap: `, and any other text is an error the plugin set.
 * An empty text is kept as an (empty) plugin error: it is not "no error".
 * The return code itself is compared separately (`rc`).
 */
static const char *map_result(int32_t rc, const char *err, char *text, size_t textlen) {
  if (!err) {
    if (rc == 0) {
      text[0] = 0;
      return "none";
    }
    snprintf(text, textlen, "Error code: %d", rc);
    return "plugin";
  }
  snprintf(text, textlen, "%s", err);
  if (strcmp(err, "timeout") == 0) return "timeout";
  if (strcmp(err, "oom") == 0 || strcmp(err, "failed to allocate extism memory") == 0) return "oom";
  if (strcmp(err, "plugin ran out of fuel") == 0) return "fuel";
  if (starts_with(err, "Function not found: ") ||
      (starts_with(err, "expected ") && ends_with(err, " arguments, got 0")) ||
      (starts_with(err, "Function ") && ends_with(err, " results, expected 0 or 1")) ||
      (starts_with(err, "Function ") && strstr(err, " instead of an i32")))
    return "not_found";
  if (is_exit_text(err)) return "exit";
  if (starts_with(err, "wasm trap: ")) return "trap";
  if (strcmp(err, "Vars are disabled by this host") == 0 || strcmp(err, "Variable store is full") == 0 ||
      starts_with(err, "invalid handle offset for ") ||
      (starts_with(err, "HTTP request to ") && ends_with(err, " is not allowed")) ||
      starts_with(err, "HTTP response exceeds the configured maximum number of bytes: "))
    return "host";
  return "plugin";
}

static const char *CREATE_PREFIXES[] = {"Unable to compile Extism plugin: ",
                                        "Unable to create Extism plugin: "};

/* ------------------------------------------------------------------------------------------ */
/* HTTP server (the fixed routes of README.md)                                                */
/* ------------------------------------------------------------------------------------------ */

static void http_reply(int fd, int status, const char *body, size_t len) {
  char head[256];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   status, status == 200 ? "OK" : "Not Found", len);
  if (write(fd, head, (size_t)n) < 0) return;
  if (len && write(fd, body, len) < 0) return;
}

static void http_serve_one(int fd) {
  buf_t req = {0};
  char chunk[4096];
  char *body = NULL;
  size_t content_length = 0;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buf_put(&req, chunk, (size_t)n);
    char *end = strstr(req.p, "\r\n\r\n");
    if (!end) continue;
    body = end + 4;
    const char *h = req.p;
    while ((h = strchr(h, '\n')) != NULL && h < end) {
      h++;
      if (strncasecmp(h, "Content-Length:", 15) == 0) content_length = strtoul(h + 15, NULL, 10);
    }
    if ((size_t)(req.p + req.len - body) >= content_length) break;
  }
  if (!body) {
    free(req.p);
    return;
  }
  char path[256] = {0};
  sscanf(req.p, "%*s %255s", path);
  if (strcmp(path, "/hello") == 0) http_reply(fd, 200, "hello over http", 15);
  else if (strcmp(path, "/echo") == 0) http_reply(fd, 200, body, content_length);
  else http_reply(fd, 404, "not found", 9);
  free(req.p);
}

static void *http_thread(void *arg) {
  int listener = (int)(intptr_t)arg;
  for (;;) {
    int fd = accept(listener, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    http_serve_one(fd);
    close(fd);
  }
}

/* Starts the server on 127.0.0.1 (a free port) and writes its base URL. */
static bool start_http(char *base, size_t baselen) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
    close(fd);
    return false;
  }
  snprintf(base, baselen, "http://127.0.0.1:%d", ntohs(addr.sin_port));
  pthread_t t;
  if (pthread_create(&t, NULL, http_thread, (void *)(intptr_t)fd) != 0) return false;
  pthread_detach(t);
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Running cases                                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  const ExtismCancelHandle *handle;
  long ms;
  atomic_bool done; /* set by the caller once the call returned */
} canceller_t;

/* Cancels after `ms`, then again every 20 ms until the call returned: a cancel sent before the
 * call started is a no-op (docs/abi.md, Cancel), and a busy machine may start the call late. */
static void *cancel_thread(void *arg) {
  canceller_t *c = arg;
  sleep_ms(c->ms);
  while (!atomic_load(&c->done)) {
    extism_plugin_cancel(c->handle);
    sleep_ms(20);
  }
  return NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

/* Shows up to 80 bytes, escaped. */
static void show_bytes(buf_t *b, const uint8_t *d, size_t n) {
  buf_str(b, "\"");
  for (size_t i = 0; i < n && i < 80; i++) {
    if (d[i] >= 0x20 && d[i] < 0x7f && d[i] != '"' && d[i] != '\\') buf_put(b, &d[i], 1);
    else buf_printf(b, "\\x%02x", d[i]);
  }
  buf_str(b, n > 80 ? "\"..." : "\"");
}

/* Checks one call's result against the step's `expect`; appends why not to `why`. */
static bool check_step(const env_t *env, const jval *expect, int32_t rc, const char *err,
                       const uint8_t *out, size_t out_len, buf_t *why) {
  char text[4096];
  const char *kind = map_result(rc, err, text, sizeof text);
  const char *want_kind = jgetstr(expect, "error_kind");
  if (!want_kind) want_kind = "none";
  if (strcmp(kind, want_kind) != 0) {
    buf_printf(why, "expected %s, got %s (rc %d, \"%s\")", want_kind, kind, rc, text);
    return false;
  }
  const jval *v;
  if ((v = jget(expect, "error_text"))) {
    char *want = subst(env, v->s);
    bool ok = strcmp(text, want) == 0;
    if (!ok) buf_printf(why, "error text \"%s\", expected \"%s\"", text, want);
    free(want);
    if (!ok) return false;
  }
  if ((v = jget(expect, "error_contains"))) {
    char *want = subst(env, v->s);
    bool ok = strstr(text, want) != NULL;
    if (!ok) buf_printf(why, "error text \"%s\" lacks \"%s\"", text, want);
    free(want);
    if (!ok) return false;
  }
  if ((v = jget(expect, "rc")) && rc != (int32_t)v->num) {
    buf_printf(why, "rc %d, expected %d", rc, (int32_t)v->num);
    return false;
  }
  if (strcmp(kind, "none") != 0) return true;
  if ((v = jget(expect, "output"))) {
    uint8_t *want;
    size_t want_len;
    if (!decode_bytes(env, v, &want, &want_len)) {
      buf_str(why, "bad expected output");
      return false;
    }
    bool ok = want_len == out_len && (out_len == 0 || memcmp(want, out, out_len) == 0);
    if (!ok) {
      buf_str(why, "output ");
      show_bytes(why, out, out_len);
      buf_printf(why, " (len %zu), expected ", out_len);
      show_bytes(why, want, want_len);
      buf_printf(why, " (len %zu)", want_len);
    }
    free(want);
    if (!ok) return false;
  }
  if ((v = jget(expect, "output_len")) && out_len != (size_t)v->num) {
    buf_printf(why, "output length %zu, expected %zu", out_len, (size_t)v->num);
    return false;
  }
  if ((v = jget(expect, "output_prefix"))) {
    uint8_t *want;
    size_t want_len;
    if (!decode_bytes(env, v, &want, &want_len)) return false;
    bool ok = out_len >= want_len && memcmp(out, want, want_len) == 0;
    if (!ok) {
      buf_str(why, "output ");
      show_bytes(why, out, out_len);
      buf_str(why, " does not start with ");
      show_bytes(why, want, want_len);
    }
    free(want);
    if (!ok) return false;
  }
  return true;
}

typedef enum { CASE_OK, CASE_FAIL, CASE_SKIP } outcome_t;

static outcome_t run_steps(const env_t *env, ExtismPlugin *plugin, const jval *steps, buf_t *why) {
  for (size_t i = 0; steps && i < steps->n; i++) {
    const jval *step = steps->items[i];
    const jval *cfg = jget(step, "config");
    if (cfg) {
      buf_t json = {0};
      json_write(&json, env, cfg);
      bool ok = extism_plugin_config(plugin, (const uint8_t *)json.p, json.len);
      free(json.p);
      if (!ok) {
        buf_printf(why, "step %zu: extism_plugin_config returned false", i);
        return CASE_FAIL;
      }
      continue;
    }
    if (jtruthy(step, "reset")) {
      if (!extism_plugin_reset(plugin)) {
        buf_printf(why, "step %zu: extism_plugin_reset returned false", i);
        return CASE_FAIL;
      }
      continue;
    }
    const char *exists = jgetstr(step, "function_exists");
    if (exists) {
      bool got = extism_plugin_function_exists(plugin, exists);
      if (got != jtruthy(step, "expect")) {
        buf_printf(why, "step %zu: extism_plugin_function_exists(\"%s\") is %s", i, exists, got ? "true" : "false");
        return CASE_FAIL;
      }
      continue;
    }
    if (jtruthy(step, "cancel")) {
      if (!extism_plugin_cancel(extism_plugin_cancel_handle(plugin))) {
        buf_printf(why, "step %zu: extism_plugin_cancel returned false", i);
        return CASE_FAIL;
      }
      continue;
    }
    const char *fn = jgetstr(step, "function");
    uint8_t *input;
    size_t input_len;
    if (!fn || !decode_bytes(env, jget(step, "input"), &input, &input_len)) {
      buf_printf(why, "step %zu: bad step", i);
      return CASE_FAIL;
    }
    const jval *cancel_after = jget(step, "cancel_after_ms");
    canceller_t canceller = {extism_plugin_cancel_handle(plugin), cancel_after ? (long)cancel_after->num : 0, false};
    pthread_t t;
    bool started = cancel_after && pthread_create(&t, NULL, cancel_thread, &canceller) == 0;
    const char *context = jgetstr(step, "host_context");
    int32_t rc = context ? extism_plugin_call_with_host_context(plugin, fn, input, input_len, (void *)context)
                         : extism_plugin_call(plugin, fn, input, input_len);
    if (started) {
      atomic_store(&canceller.done, true);
      pthread_join(t, NULL);
    }
    free(input);
    const char *err = extism_plugin_error(plugin);
    const uint8_t *out = extism_plugin_output_data(plugin);
    size_t out_len = (size_t)extism_plugin_output_length(plugin);
    buf_t step_why = {0};
    if (!check_step(env, jget(step, "expect"), rc, err, out, out_len, &step_why)) {
      buf_printf(why, "step %zu (%s): %s", i, fn, step_why.p ? step_why.p : "");
      free(step_why.p);
      return CASE_FAIL;
    }
    free(step_why.p);
  }
  return CASE_OK;
}

static outcome_t run_case(const char *repo, const char *http_base, const jval *c, buf_t *why) {
  const jval *needs = jget(c, "needs");
  for (size_t i = 0; needs && i < needs->n; i++) {
    const char *reason = unsupported_need(needs->items[i]->s);
    if (reason) {
      buf_str(why, reason);
      return CASE_SKIP;
    }
  }
  const jval *host = jget(c, "host_functions");
  size_t n_host = host ? host->n : 0;
  for (size_t i = 0; i < n_host; i++) {
    const char *impl = host->items[i]->s;
    bool known = false;
    for (size_t k = 0; k < sizeof CATALOGUE / sizeof *CATALOGUE; k++) {
      if (strcmp(CATALOGUE[k].name, impl) != 0) continue;
      known = true;
      if (CATALOGUE[k].unsupported) {
        buf_printf(why, "%s: %s", impl, CATALOGUE[k].unsupported);
        return CASE_SKIP;
      }
    }
    if (!known) {
      buf_printf(why, "unknown host function %s", impl);
      return CASE_FAIL;
    }
  }

  char tmpl[] = "/tmp/extism-conformance-XXXXXX";
  char *tmpdir = NULL;
  if (jtruthy(c, "tmpdir")) {
    tmpdir = mkdtemp(tmpl);
    if (!tmpdir) {
      buf_str(why, "mkdtemp failed");
      return CASE_FAIL;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/hello.txt", tmpdir);
    FILE *f = fopen(path, "w");
    if (f) {
      fputs("hello from the host\n", f);
      fclose(f);
    }
  }
  env_t env = {repo, jtruthy(c, "http") ? http_base : NULL, tmpdir};
  outcome_t result = CASE_FAIL;
  uint8_t *src = NULL;
  size_t src_len = 0;
  char reason[512] = {0};
  if (!plugin_source(&env, jget(c, "plugin"), &src, &src_len, reason, sizeof reason)) {
    buf_printf(why, "cannot build the plugin source: %s", reason);
    goto out;
  }

  const ExtismFunction *functions[16];
  if (n_host > 16) n_host = 16;
  for (size_t i = 0; i < n_host; i++) {
    ExtismFunctionType fn = NULL;
    for (size_t k = 0; k < sizeof CATALOGUE / sizeof *CATALOGUE; k++)
      if (strcmp(CATALOGUE[k].name, host->items[i]->s) == 0) fn = CATALOGUE[k].fn;
    ExtismValType io = EXTISM_PTR;
    functions[i] = extism_function_new(host->keys[i], &io, 1, &io, 1, fn, NULL, NULL);
  }
  char *err = NULL;
  const jval *fuel = jget(c, "fuel_limit");
  bool wasi = jtruthy(c, "wasi");
  ExtismPlugin *plugin =
      fuel ? extism_plugin_new_with_fuel_limit(src, src_len, functions, n_host, wasi, (uint64_t)fuel->num, &err)
           : extism_plugin_new(src, src_len, functions, n_host, wasi, &err);
  for (size_t i = 0; i < n_host; i++) extism_function_free((ExtismFunction *)functions[i]);

  const char *want_create = jgetstr(c, "expect_create_error_contains");
  if (want_create) {
    if (plugin) {
      buf_str(why, "creation succeeded, expected an error");
      extism_plugin_free(plugin);
      goto out;
    }
    /* The creation error as (prefix, root text): C shows the prefix. */
    const char *text = err ? err : "", *prefix = NULL, *root = text;
    for (size_t k = 0; k < 2; k++)
      if (starts_with(text, CREATE_PREFIXES[k])) {
        prefix = CREATE_PREFIXES[k];
        root = text + strlen(prefix);
      }
    char *want = subst(&env, want_create);
    const char *want_prefix = jgetstr(c, "expect_create_error_prefix");
    if (!strstr(root, want)) buf_printf(why, "creation error \"%s\" lacks \"%s\"", text, want);
    else if (want_prefix && (!prefix || strcmp(prefix, want_prefix) != 0))
      buf_printf(why, "creation error \"%s\" lacks the prefix \"%s\"", text, want_prefix);
    else result = CASE_OK;
    free(want);
    extism_plugin_new_error_free(err);
    goto out;
  }
  if (!plugin) {
    buf_printf(why, "creation failed: %s", err ? err : "(no message)");
    extism_plugin_new_error_free(err);
    goto out;
  }
  result = run_steps(&env, plugin, jget(c, "steps"), why);
  extism_plugin_free(plugin);

out:
  free(src);
  if (tmpdir) nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
  return result;
}

int main(int argc, char **argv) {
  const char *repo = ".";
  const char *cases_path = NULL;
  const char *only[64];
  size_t n_only = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--repo") == 0 && i + 1 < argc) repo = argv[++i];
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc && n_only < 64) only[n_only++] = argv[++i];
    else cases_path = argv[i];
  }
  char default_path[4200];
  if (!cases_path) {
    snprintf(default_path, sizeof default_path, "%s/tests/conformance/cases.json", repo);
    cases_path = default_path;
  }
  size_t len;
  uint8_t *text = read_file(cases_path, &len);
  if (!text) {
    fprintf(stderr, "runner: cannot read %s\n", cases_path);
    return 2;
  }
  char perr[200];
  jval *cases = jparse((const char *)text, len, perr, sizeof perr);
  free(text);
  if (!cases || cases->t != J_ARR) {
    fprintf(stderr, "runner: %s: %s\n", cases_path, cases ? "not a list" : perr);
    return 2;
  }
  char http_base[64];
  if (!start_http(http_base, sizeof http_base)) {
    fprintf(stderr, "runner: cannot start the HTTP server\n");
    return 2;
  }

  int passed = 0, failed = 0, skipped = 0;
  for (size_t i = 0; i < cases->n; i++) {
    const jval *c = cases->items[i];
    const char *name = jgetstr(c, "name");
    if (!name) name = "(unnamed)";
    bool selected = n_only == 0;
    for (size_t k = 0; k < n_only; k++)
      if (strcmp(only[k], name) == 0) selected = true;
    if (!selected) continue;
    buf_t why = {0};
    outcome_t r = run_case(repo, http_base, c, &why);
    const char *w = why.p ? why.p : "";
    if (r == CASE_OK) {
      printf("ok %s\n", name);
      passed++;
    } else if (r == CASE_SKIP) {
      printf("skip %s: %s\n", name, w);
      skipped++;
    } else {
      printf("FAIL %s: %s\n", name, w);
      failed++;
    }
    fflush(stdout);
    free(why.p);
  }
  jfree(cases);
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
