/*
 * support.h: helpers shared by the C API test program (the .c files of tests/c) and the
 * conformance runner (tests/conformance/runner.c).
 *
 * - General helpers (no Extism state): memory, strings, files, time, JSON quoting, base64.
 *   runner.c uses these.
 * - Checks: CHECK counts one pass or failure; a failure prints the section, the file and line,
 *   the condition and the actual values. section() starts a section under a watchdog.
 * - Plugin helpers of the C API test program: creation, calls and their results (Res), the
 *   EXPECT and CALL macros, the hello_world host function.
 *
 * support.c defines everything declared here.
 */
#ifndef EXTISM_TESTS_C_SUPPORT_H
#define EXTISM_TESTS_C_SUPPORT_H

#include "extism.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* General helpers                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* malloc/realloc that exit(2) when out of memory (a size of 0 still allocates). */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* A malloc'd printf. */
__attribute__((format(printf, 1, 2))) char *fmt(const char *f, ...);

/* False for a NULL s. */
bool starts_with(const char *s, const char *prefix);
bool ends_with(const char *s, const char *suffix);
bool contains(const char *s, const char *sub);
/* contains, ignoring ASCII case. */
bool contains_ci(const char *s, const char *sub);

void sleep_ms(long ms);
/* Seconds on the monotonic clock. */
double now_s(void);

/* A JSON string literal (with quotes) for s. */
char *json_quote(const char *s);
/* Standard base64 (with padding), NUL-terminated. */
char *base64(const unsigned char *data, size_t n);
/* Reads a whole file (NUL-terminated; the terminator is not counted). NULL if it cannot. */
unsigned char *read_file(const char *path, size_t *len);

/* ------------------------------------------------------------------------------------------ */
/* Checks and sections                                                                        */
/* ------------------------------------------------------------------------------------------ */

extern atomic_int g_pass;
extern atomic_int g_fail;

__attribute__((format(printf, 5, 6))) void check_impl(int ok, const char *file, int line,
                                                      const char *expr, const char *fmt, ...);

#define CHECK(cond, ...) check_impl(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

const char *show(const char *s);

/* Installs the section watchdog: EXTISM_TEST_SECTION_TIMEOUT seconds (default 120) per section;
 * a hang prints the section name and exits 3. */
void sections_init(void);
/* Starts a section: names it on stderr and restarts the watchdog. */
void section(const char *name);

/* ------------------------------------------------------------------------------------------ */
/* Fixtures                                                                                   */
/* ------------------------------------------------------------------------------------------ */

extern char g_root[];   /* the repository root (absolute) */
extern char *g_as_dir;  /* the AssemblyScript fixtures directory */

/* Absolute path of a WAT fixture. */
char *wat_path(const char *name);
/* Path of an AssemblyScript fixture. */
char *as_path(const char *name);

/* ------------------------------------------------------------------------------------------ */
/* Plugin creation and calls                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Takes an errmsg from a constructor: returns a malloc'd copy and frees the original with
 * extism_plugin_new_error_free. */
char *take_err(char *errmsg);

/* extism_plugin_new on bytes; *err_out (if given) receives a malloc'd copy of the error. */
ExtismPlugin *create_ex(const void *buf, size_t len, const ExtismFunction **fns, size_t nf,
                        bool wasi, char **err_out);

/* Creation that must succeed (the failure is a CHECK failure, with the error text). */
#define MUST_CREATE(var, buf, len, fns, nf, wasi)                                               \
  do {                                                                                          \
    char *mc_err_ = NULL;                                                                       \
    var = create_ex((buf), (len), (fns), (nf), (wasi), &mc_err_);                               \
    CHECK(var != NULL, "plugin creation failed: %s", show(mc_err_));                            \
    free(mc_err_);                                                                              \
  } while (0)

/* A plugin from a WAT fixture, passing the WAT text itself as the wasm argument. */
ExtismPlugin *wat_plugin_ex(const char *name, const ExtismFunction **fns, size_t nf, bool wasi,
                            char **err_out);

#define WAT_PLUGIN(var, name, fns, nf, wasi)                                                    \
  do {                                                                                          \
    char *wp_err_ = NULL;                                                                       \
    var = wat_plugin_ex((name), (fns), (nf), (wasi), &wp_err_);                                 \
    CHECK(var != NULL, "creating %s failed: %s", (name), show(wp_err_));                        \
    free(wp_err_);                                                                              \
  } while (0)

ExtismPlugin *text_plugin(const char *text, const ExtismFunction **fns, size_t nf, bool wasi,
                          char **err_out);

/* An AssemblyScript fixture through a manifest ({"wasm":[{"path":...}] + manifest_extra});
 * creation must succeed. */
ExtismPlugin *as_plugin(const char *file, const char *manifest_extra, const ExtismFunction **fns,
                        size_t nf);

/* The result of one call, copied out of the plugin. */
typedef struct {
  const char *fn;
  int32_t rc;
  char *out; /* NUL-terminated copy of the output */
  size_t len;
  char *err; /* copy of extism_plugin_error, or NULL */
} Res;

Res call_full(ExtismPlugin *p, const char *fn, const void *in, size_t n, bool use_ctx, void *ctx);
Res call_s(ExtismPlugin *p, const char *fn, const char *in);
void res_free(Res *r);
/* The output as a little-endian integer (0 unless it has exactly that size). */
uint64_t out_u64(const Res *r);
uint32_t out_u32(const Res *r);

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

extern const char COMPILE_PREFIX[]; /* "Unable to compile Extism plugin: " */
extern const char CREATE_PREFIX[];  /* "Unable to create Extism plugin: " */

/* ------------------------------------------------------------------------------------------ */
/* The hello_world host function                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
  const char *prefix;   /* hello_world returns prefix + input */
  atomic_int calls;     /* invocations */
  atomic_int freed;     /* free_user_data invocations */
  void *last_ctx;       /* extism_current_plugin_host_context seen by the last call */
  bool saw_ctx_call;
} HostData;

/* free_user_data for a HostData: counts in ->freed. */
void free_host_data(void *p);

/* extism:host/user::hello_world (i64) -> i64: returns a new block prefix + argument bytes, and
 * checks the extism_current_plugin_* memory functions on the way. */
void host_hello(ExtismCurrentPlugin *cp, const ExtismVal *inputs, ExtismSize n_inputs,
                ExtismVal *outputs, ExtismSize n_outputs, void *data);

extern const ExtismValType I64_1[1]; /* {I64} */

/* hello_world with user data hd and free_host_data. */
ExtismFunction *new_hello(HostData *hd);

/* ------------------------------------------------------------------------------------------ */
/* Sections of the C API test program, in the order main.c runs them                          */
/* ------------------------------------------------------------------------------------------ */

void test_version(void);             /* api.c */
void test_echo(void);                /* calls.c */
void test_sources(void);             /* create.c */
void test_errors(void);              /* calls.c */
void test_config_vars(void);         /* config_vars.c */
void test_plugin_id(void);           /* calls.c */
void test_host_functions(void);      /* host_functions.c */
void test_namespaces(void);          /* host_functions.c */
void test_registration_errors(void); /* host_functions.c */
void test_reentrancy(void);          /* host_functions.c */
void test_compiled(void);            /* compiled.c */
void test_fuel(void);                /* limits.c */
void test_extensions(void);          /* limits.c */
void test_timeout_memory(void);      /* limits.c */
void test_cancel(void);              /* limits.c */
void test_bad_inputs(void);          /* create.c */
void test_null_args(void);           /* api.c */
void test_http_headers(void);        /* wasi_http.c */
void test_wasi(void);                /* wasi_http.c */
void test_modules(void);             /* create.c */
void test_assemblyscript(void);      /* pdk.c */
void test_logging(void);             /* logging.c */

#endif
