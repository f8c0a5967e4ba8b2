/* C-level benchmark of libextism implementations.
 *
 * Usage: bench PLUGIN.wat WORKLOAD SAMPLES LIB [LIB...]
 *
 * Loads every LIB with dlopen (RTLD_LOCAL | RTLD_DEEPBIND, so each keeps its
 * own symbols) into this one process and runs WORKLOAD on each, interleaved:
 * sample 1 of lib A, sample 1 of lib B, sample 2 of lib A, ... Prints one line
 * per lib: `LIB WORKLOAD ns_per_op ns_per_op ...` (one number per sample).
 * The driver (bench/run.py) starts several such processes with the library
 * order swapped and summarises. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extism.h"

typedef struct {
  const char *path;
  void *handle;
  __typeof__(extism_plugin_new) *plugin_new;
  __typeof__(extism_plugin_free) *plugin_free;
  __typeof__(extism_plugin_call) *plugin_call;
  __typeof__(extism_plugin_error) *plugin_error;
  __typeof__(extism_plugin_output_length) *output_length;
  __typeof__(extism_plugin_output_data) *output_data;
  __typeof__(extism_compiled_plugin_new) *compiled_new;
  __typeof__(extism_compiled_plugin_free) *compiled_free;
  __typeof__(extism_plugin_new_from_compiled) *new_from_compiled;
  __typeof__(extism_function_new) *function_new;
  __typeof__(extism_function_free) *function_free;
  __typeof__(extism_plugin_new_error_free) *error_free;
  ExtismCompiledPlugin *compiled;
  ExtismPlugin *plugin;
} Lib;

static void *sym(Lib *lib, const char *name) {
  void *p = dlsym(lib->handle, name);
  if (p == NULL) {
    fprintf(stderr, "%s: missing %s\n", lib->path, name);
    exit(2);
  }
  return p;
}

static void load(Lib *lib, const char *path) {
  lib->path = path;
  lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (lib->handle == NULL) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    exit(2);
  }
  lib->plugin_new = sym(lib, "extism_plugin_new");
  lib->plugin_free = sym(lib, "extism_plugin_free");
  lib->plugin_call = sym(lib, "extism_plugin_call");
  lib->plugin_error = sym(lib, "extism_plugin_error");
  lib->output_length = sym(lib, "extism_plugin_output_length");
  lib->output_data = sym(lib, "extism_plugin_output_data");
  lib->compiled_new = sym(lib, "extism_compiled_plugin_new");
  lib->compiled_free = sym(lib, "extism_compiled_plugin_free");
  lib->new_from_compiled = sym(lib, "extism_plugin_new_from_compiled");
  lib->function_new = sym(lib, "extism_function_new");
  lib->function_free = sym(lib, "extism_function_free");
  lib->error_free = sym(lib, "extism_plugin_new_error_free");
}

/* The host function: hands the argument block straight back. */
static void bench_host(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                       ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin, (void)n_inputs, (void)n_outputs, (void)data;
  outputs[0].v.i64 = inputs[0].v.i64;
}

static const uint8_t *wasm;
static size_t wasm_len;

static ExtismFunction *host_function(Lib *lib) {
  ExtismValType t = ExtismValType_I64;
  return lib->function_new("bench_host", &t, 1, &t, 1, bench_host, NULL, NULL);
}

static ExtismCompiledPlugin *compile(Lib *lib) {
  ExtismFunction *f = host_function(lib);
  const ExtismFunction *fs[1] = {f};
  char *err = NULL;
  ExtismCompiledPlugin *c = lib->compiled_new(wasm, wasm_len, fs, 1, false, &err);
  lib->function_free(f);
  if (c == NULL) {
    fprintf(stderr, "%s: compile: %s\n", lib->path, err);
    exit(3);
  }
  return c;
}

static ExtismPlugin *instantiate(Lib *lib) {
  char *err = NULL;
  ExtismPlugin *p = lib->new_from_compiled(lib->compiled, &err);
  if (p == NULL) {
    fprintf(stderr, "%s: create: %s\n", lib->path, err);
    exit(3);
  }
  return p;
}

static void call(Lib *lib, ExtismPlugin *p, const char *fn, const uint8_t *in, size_t n) {
  int32_t rc = lib->plugin_call(p, fn, in, n);
  if (rc != 0 || lib->plugin_error(p) != NULL) {
    fprintf(stderr, "%s: %s failed: %d %s\n", lib->path, fn, rc, lib->plugin_error(p));
    exit(4);
  }
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void pause_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

static double resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (double)resident * 4096.0;
}

static uint8_t *input;
static size_t input_len;

/* One sample of WORKLOAD on LIB: nanoseconds per operation. */
static double sample(Lib *lib, const char *w) {
  int n;
  double t, total = 0;
  if (strcmp(w, "compile") == 0) {
    n = 5;
    t = now_ns();
    for (int i = 0; i < n; i++) lib->compiled_free(compile(lib));
    return (now_ns() - t) / n;
  }
  if (strcmp(w, "create") == 0 || strcmp(w, "create_call") == 0) {
    int with_call = strcmp(w, "create_call") == 0;
    n = 200;
    t = now_ns();
    for (int i = 0; i < n; i++) {
      ExtismPlugin *p = instantiate(lib);
      if (with_call) call(lib, p, "noop", NULL, 0);
      lib->plugin_free(p);
    }
    return (now_ns() - t) / n;
  }
  if (strcmp(w, "create_bytes") == 0) {
    n = 5;
    t = now_ns();
    for (int i = 0; i < n; i++) {
      ExtismFunction *f = host_function(lib);
      const ExtismFunction *fs[1] = {f};
      char *err = NULL;
      ExtismPlugin *p = lib->plugin_new(wasm, wasm_len, fs, 1, false, &err);
      lib->function_free(f);
      if (p == NULL) exit(3);
      call(lib, p, "noop", NULL, 0);
      lib->plugin_free(p);
    }
    return (now_ns() - t) / n;
  }
  if (strcmp(w, "empty_call") == 0) {
    n = 20000;
    t = now_ns();
    for (int i = 0; i < n; i++) call(lib, lib->plugin, "noop", NULL, 0);
    return (now_ns() - t) / n;
  }
  if (strcmp(w, "empty_call_spaced") == 0) {
    n = 200;
    for (int i = 0; i < n; i++) {
      pause_us(200);
      t = now_ns();
      call(lib, lib->plugin, "noop", NULL, 0);
      total += now_ns() - t;
    }
    return total / n;
  }
  if (strcmp(w, "host") == 0) {
    n = 20000;
    t = now_ns();
    for (int i = 0; i < n; i++) call(lib, lib->plugin, "host", input, input_len);
    return (now_ns() - t) / n;
  }
  if (strncmp(w, "echo_", 5) == 0 || strcmp(w, "count_vowels") == 0) {
    const char *fn = strcmp(w, "count_vowels") == 0 ? "count_vowels" : "echo";
    n = input_len >= (1 << 20) ? 10 : input_len >= 65536 ? 200 : 5000;
    t = now_ns();
    for (int i = 0; i < n; i++) call(lib, lib->plugin, fn, input, input_len);
    double per = (now_ns() - t) / n;
    if (strcmp(fn, "echo") == 0 &&
        (lib->output_length(lib->plugin) != input_len ||
         memcmp(lib->output_data(lib->plugin), input, input_len) != 0)) {
      fprintf(stderr, "%s: echo output differs\n", lib->path);
      exit(5);
    }
    return per;
  }
  if (strcmp(w, "rss_idle") == 0) {
    /* Resident bytes per idle plugin (created and called once), over 1000. */
    enum { COUNT = 1000 };
    static ExtismPlugin *ps[COUNT];
    double before = resident_bytes();
    for (int i = 0; i < COUNT; i++) {
      ps[i] = instantiate(lib);
      call(lib, ps[i], "noop", NULL, 0);
    }
    double per = (resident_bytes() - before) / COUNT;
    for (int i = 0; i < COUNT; i++) lib->plugin_free(ps[i]);
    return per;
  }
  fprintf(stderr, "unknown workload %s\n", w);
  exit(2);
}

static size_t input_size(const char *w) {
  if (strcmp(w, "echo_64") == 0) return 64;
  if (strcmp(w, "echo_4k") == 0) return 4096;
  if (strcmp(w, "echo_64k") == 0) return 65536;
  if (strcmp(w, "echo_1m") == 0 || strcmp(w, "count_vowels") == 0) return 1 << 20;
  if (strcmp(w, "echo_16m") == 0) return 16 << 20;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s PLUGIN.wat WORKLOAD SAMPLES LIB [LIB...]\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) return 2;
  /* The whole file: plugins of several MB are benchmarked too. */
  size_t cap = 1 << 16, len = 0, got;
  uint8_t *buf = malloc(cap);
  while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) buf = realloc(buf, cap *= 2);
    if (buf == NULL) return 2;
  }
  fclose(f);
  wasm = buf;
  wasm_len = len;
  const char *workload = argv[2];
  int samples = atoi(argv[3]);
  int nlibs = argc - 4;
  Lib *libs = calloc((size_t)nlibs, sizeof(Lib));
  input_len = input_size(workload);
  input = malloc(input_len + 1);
  for (size_t i = 0; i < input_len; i++) input[i] = (uint8_t)("hello world, extism! "[i % 21]);
  for (int l = 0; l < nlibs; l++) {
    load(&libs[l], argv[4 + l]);
    libs[l].compiled = compile(&libs[l]);
    libs[l].plugin = instantiate(&libs[l]);
    if (strcmp(workload, "rss_idle") != 0) sample(&libs[l], workload); /* warm-up */
  }
  double *results = calloc((size_t)(nlibs * samples), sizeof(double));
  for (int s = 0; s < samples; s++)
    for (int l = 0; l < nlibs; l++) results[l * samples + s] = sample(&libs[l], workload);
  for (int l = 0; l < nlibs; l++) {
    printf("%s %s", libs[l].path, workload);
    for (int s = 0; s < samples; s++) printf(" %.1f", results[l * samples + s]);
    printf("\n");
    libs[l].plugin_free(libs[l].plugin);
    libs[l].compiled_free(libs[l].compiled);
  }
  free(results);
  free(libs);
  free(input);
  return 0;
}
