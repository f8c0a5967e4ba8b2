/* Soak of the C API under churn (tests/soak/README.md).
 *
 * Usage: soak REPO SECONDS [THREADS] [RSS_FILE]
 *        soak REPO --churn CYCLES RSS_FILE
 *
 * THREADS workers (default 4) run a random mix for SECONDS: plugins created
 * and freed from bytes and from one compiled plugin, echo calls of random
 * sizes up to 1 MiB, a host function, vars, timeouts that fire, traps; one
 * more thread runs long calls that a canceller thread cancels at random,
 * together with idle plugins. Every output is checked and every outcome
 * counted. Resident memory is sampled each second into RSS_FILE (judged by
 * soak_common.py). A watchdog ends the run when a worker makes no progress
 * for 60 s. Prints the figures, then `N passed, N failed`.
 *
 * With --churn: only create and free plugins, CYCLES times, alternating from
 * bytes and from one compiled plugin, sampling resident memory every 1000
 * cycles into RSS_FILE. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extism.h"

enum { MAX_THREADS = 64, RANDOM_SIZE = 1 << 20 };

typedef struct {
  uint8_t *data;
  size_t len;
} Bytes;

static Bytes ECHO, HOST, LIMITS, ERRORS, VARS, TIMED;
static uint8_t RANDOM_DATA[RANDOM_SIZE];
static atomic_bool stopping;
static atomic_int failed;
static _Atomic(double) progress[MAX_THREADS + 2];
static ExtismCompiledPlugin *compiled;
static _Atomic(const ExtismCancelHandle *) victim;
/* Freed by main after every thread stopped: the canceller may hold its handle. */
static ExtismPlugin *victim_plugin;
static const ExtismCancelHandle *idle_handles[2];

static atomic_ullong n_calls, n_created, n_bytes, n_timeouts, n_traps, n_cancels, n_long_done, n_long_cancelled;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *what, const char *detail) {
  fprintf(stdout, "FAIL %s: %s\n", what, detail ? detail : "");
  fflush(stdout);
  atomic_store(&failed, 1);
  atomic_store(&stopping, true);
}

static Bytes read_file(const char *repo, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/fixtures/wat/%s.wat", repo, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  Bytes b = {malloc((size_t)n + 1), (size_t)n};
  if (!b.data || fread(b.data, 1, (size_t)n, f) != (size_t)n) exit(2);
  fclose(f);
  return b;
}

/* A base64 manifest holding `wasm` with a timeout, built once. */
static Bytes timed_manifest(Bytes wasm, int timeout_ms) {
  static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t cap = wasm.len * 4 / 3 + 256;
  char *out = malloc(cap);
  size_t n = (size_t)sprintf(out, "{\"wasm\": [{\"data\": \"");
  for (size_t i = 0; i < wasm.len; i += 3) {
    uint32_t v = (uint32_t)wasm.data[i] << 16;
    if (i + 1 < wasm.len) v |= (uint32_t)wasm.data[i + 1] << 8;
    if (i + 2 < wasm.len) v |= wasm.data[i + 2];
    out[n++] = table[(v >> 18) & 63];
    out[n++] = table[(v >> 12) & 63];
    out[n++] = i + 1 < wasm.len ? table[(v >> 6) & 63] : '=';
    out[n++] = i + 2 < wasm.len ? table[v & 63] : '=';
  }
  n += (size_t)sprintf(out + n, "\"}], \"timeout_ms\": %d}", timeout_ms);
  return (Bytes){(uint8_t *)out, n};
}

static ExtismPlugin *new_plugin(Bytes b, const ExtismFunction **fs, ExtismSize n_fs) {
  char *err = NULL;
  ExtismPlugin *p = extism_plugin_new(b.data, b.len, fs, n_fs, false, &err);
  if (!p) {
    fail("create", err);
    extism_plugin_new_error_free(err);
  }
  return p;
}

/* extism:host/user::hello_world (i64) -> i64: "Hello, " + argument + "!". */
static void hello_world(ExtismCurrentPlugin *cp, const ExtismVal *in, ExtismSize n_in, ExtismVal *out,
                        ExtismSize n_out, void *data) {
  (void)n_in, (void)n_out, (void)data;
  ExtismMemoryHandle h = (ExtismMemoryHandle)in[0].v.i64;
  ExtismSize n = extism_current_plugin_memory_length(cp, h);
  ExtismMemoryHandle r = extism_current_plugin_memory_alloc(cp, n + 8);
  uint8_t *base = extism_current_plugin_memory(cp);
  memcpy(base + r, "Hello, ", 7);
  memmove(base + r + 7, base + h, n);
  base[r + 7 + n] = '!';
  out[0].v.i64 = (int64_t)r;
}

static unsigned next_random(unsigned *seed) { return (unsigned)rand_r(seed); }

static size_t payload_size(unsigned *seed) {
  static const size_t sizes[] = {0, 1, 64, 4096, 65536};
  unsigned k = next_random(seed) % 6;
  return k < 5 ? sizes[k] : next_random(seed) % RANDOM_SIZE;
}

/* Call and compare the output with `want`; returns false (after fail) on a mismatch. */
static bool call_expect(ExtismPlugin *p, const char *fn, const uint8_t *in, size_t n, const uint8_t *want,
                        size_t want_n, const char *what) {
  int rc = extism_plugin_call(p, fn, in, n);
  const char *err = extism_plugin_error(p);
  if (rc != 0 || err) {
    fail(what, err ? err : "non-zero rc");
    return false;
  }
  if (extism_plugin_output_length(p) != want_n ||
      (want_n && memcmp(extism_plugin_output_data(p), want, want_n) != 0)) {
    fail(what, "wrong output");
    return false;
  }
  return true;
}

static bool call_error(ExtismPlugin *p, const char *fn, const char *contains, const char *what) {
  extism_plugin_call(p, fn, NULL, 0);
  const char *err = extism_plugin_error(p);
  if (!err || !strstr(err, contains)) {
    fail(what, err ? err : "no error");
    return false;
  }
  return true;
}

static void *worker(void *arg) {
  int i = (int)(intptr_t)arg;
  unsigned seed = (unsigned)i * 7919u + 1;
  ExtismValType ptr = EXTISM_PTR;
  ExtismFunction *hello = extism_function_new("hello_world", &ptr, 1, &ptr, 1, hello_world, NULL, NULL);
  const ExtismFunction *fs[] = {hello};
  ExtismPlugin *echo = new_plugin(ECHO, NULL, 0), *host = new_plugin(HOST, fs, 1);
  ExtismPlugin *vars = new_plugin(VARS, NULL, 0), *timed = new_plugin(TIMED, NULL, 0);
  ExtismPlugin *errors = new_plugin(ERRORS, NULL, 0);
  uint64_t counter = 0;
  char text[64], want[80];
  while (echo && host && vars && timed && errors && !atomic_load(&stopping)) {
    switch (next_random(&seed) % 8) {
    case 0: { /* from bytes */
      ExtismPlugin *p = new_plugin(ECHO, NULL, 0);
      if (!p) break;
      size_t n = payload_size(&seed);
      call_expect(p, "echo", RANDOM_DATA + (RANDOM_SIZE - n), n, RANDOM_DATA + (RANDOM_SIZE - n), n, "echo (new)");
      extism_plugin_free(p);
      atomic_fetch_add(&n_created, 1);
      break;
    }
    case 1: { /* from the compiled plugin */
      char *err = NULL;
      ExtismPlugin *p = extism_plugin_new_from_compiled(compiled, &err);
      if (!p) {
        fail("create from compiled", err);
        extism_plugin_new_error_free(err);
        break;
      }
      call_expect(p, "echo", (const uint8_t *)"compiled", 8, (const uint8_t *)"compiled", 8, "echo (compiled)");
      extism_plugin_free(p);
      atomic_fetch_add(&n_created, 1);
      break;
    }
    case 2:
    case 3: {
      size_t n = payload_size(&seed);
      size_t at = next_random(&seed) % (RANDOM_SIZE - n + 1);
      if (call_expect(echo, "echo", RANDOM_DATA + at, n, RANDOM_DATA + at, n, "echo")) atomic_fetch_add(&n_bytes, n);
      break;
    }
    case 4: {
      int len = snprintf(text, sizeof text, "t%d-%u", i, next_random(&seed));
      int want_len = snprintf(want, sizeof want, "Hello, %s!", text);
      call_expect(host, "call_host", (const uint8_t *)text, (size_t)len, (const uint8_t *)want, (size_t)want_len,
                  "host function");
      break;
    }
    case 5: {
      counter++;
      uint8_t le[8];
      for (int k = 0; k < 8; k++) le[k] = (uint8_t)(counter >> (8 * k));
      call_expect(vars, "counter", NULL, 0, le, 8, "var counter");
      break;
    }
    case 6:
      if (call_error(timed, "infinite_loop", "timeout", "timeout")) atomic_fetch_add(&n_timeouts, 1);
      break;
    case 7:
      if (call_error(errors, "trap", "unreachable", "trap")) atomic_fetch_add(&n_traps, 1);
      break;
    }
    atomic_fetch_add(&n_calls, 1);
    atomic_store(&progress[i], now());
  }
  extism_plugin_free(echo), extism_plugin_free(host), extism_plugin_free(vars);
  extism_plugin_free(timed), extism_plugin_free(errors);
  extism_function_free(hello);
  return NULL;
}

static void *long_calls(void *arg) {
  int i = (int)(intptr_t)arg;
  unsigned seed = 12345;
  ExtismPlugin *p = victim_plugin;
  atomic_store(&victim, extism_plugin_cancel_handle(p));
  char input[40];
  memset(input, 'x', sizeof input);
  while (!atomic_load(&stopping)) {
    int rc = extism_plugin_call(p, "spin", (const uint8_t *)input, 1 + next_random(&seed) % 39);
    const char *err = extism_plugin_error(p);
    if (rc == 0 && !err) {
      atomic_fetch_add(&n_long_done, 1);
    } else if (err && strcmp(err, "timeout") == 0) {
      atomic_fetch_add(&n_long_cancelled, 1);
    } else {
      fail("long call", err);
    }
    atomic_store(&progress[i], now());
  }
  return NULL;
}

static void *canceller(void *arg) {
  int i = (int)(intptr_t)arg;
  unsigned seed = 4242;
  while (!atomic_load(&stopping)) {
    usleep(next_random(&seed) % 20000);
    const ExtismCancelHandle *v = atomic_load(&victim);
    if (v) extism_plugin_cancel(v), atomic_fetch_add(&n_cancels, 1);
    extism_plugin_cancel(idle_handles[next_random(&seed) % 2]);
    atomic_fetch_add(&n_cancels, 1);
    atomic_store(&progress[i], now());
  }
  return NULL;
}

static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

static int churn(long cycles, const char *rss_file) {
  char *err = NULL;
  ExtismCompiledPlugin *c = extism_compiled_plugin_new(ECHO.data, ECHO.len, NULL, 0, false, &err);
  FILE *rss = fopen(rss_file, "w");
  if (!c || !rss) return 2;
  double start = now();
  for (long k = 0; k < cycles; k++) {
    ExtismPlugin *p = k % 2 == 0 ? new_plugin(ECHO, NULL, 0) : extism_plugin_new_from_compiled(c, &err);
    if (!p) return 2;
    extism_plugin_free(p);
    if (k % 1000 == 0) fprintf(rss, "%ld\n", rss_bytes());
  }
  fclose(rss);
  extism_compiled_plugin_free(c);
  printf("churn c: %ld plugins created and freed in %.1f s\n", cycles, now() - start);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[2], "--churn") == 0) {
    ECHO = read_file(argv[1], "echo");
    return churn(atol(argv[3]), argv[4]);
  }
  if (argc < 3) {
    fprintf(stderr, "usage: soak REPO SECONDS [THREADS] [RSS_FILE]\n");
    return 2;
  }
  const char *repo = argv[1];
  double seconds = atof(argv[2]);
  int threads = argc > 3 ? atoi(argv[3]) : 4;
  const char *rss_file = argc > 4 ? argv[4] : NULL;
  if (threads < 1 || threads > MAX_THREADS) return 2;
  ECHO = read_file(repo, "echo"), HOST = read_file(repo, "host"), LIMITS = read_file(repo, "limits");
  ERRORS = read_file(repo, "errors"), VARS = read_file(repo, "vars_config");
  TIMED = timed_manifest(LIMITS, 20);
  unsigned seed = 99;
  for (size_t k = 0; k < RANDOM_SIZE; k++) RANDOM_DATA[k] = (uint8_t)next_random(&seed);
  char *err = NULL;
  compiled = extism_compiled_plugin_new(ECHO.data, ECHO.len, NULL, 0, false, &err);
  if (!compiled) {
    fprintf(stderr, "compile: %s\n", err);
    return 2;
  }
  ExtismPlugin *idle[2] = {new_plugin(ECHO, NULL, 0), new_plugin(ECHO, NULL, 0)};
  if (!idle[0] || !idle[1]) return 2;
  idle_handles[0] = extism_plugin_cancel_handle(idle[0]);
  idle_handles[1] = extism_plugin_cancel_handle(idle[1]);
  victim_plugin = new_plugin(LIMITS, NULL, 0);
  if (!victim_plugin) return 2;

  double start = now();
  for (int k = 0; k < threads + 2; k++) atomic_store(&progress[k], start);
  pthread_t ts[MAX_THREADS + 2];
  for (int k = 0; k < threads; k++) pthread_create(&ts[k], NULL, worker, (void *)(intptr_t)k);
  pthread_create(&ts[threads], NULL, long_calls, (void *)(intptr_t)threads);
  pthread_create(&ts[threads + 1], NULL, canceller, (void *)(intptr_t)(threads + 1));

  FILE *rss = rss_file ? fopen(rss_file, "w") : NULL;
  long peak = 0, last = 0;
  while (!atomic_load(&stopping) && now() - start < seconds) {
    sleep(1);
    last = rss_bytes();
    if (last > peak) peak = last;
    if (rss) fprintf(rss, "%ld\n", last);
    for (int k = 0; k < threads + 2; k++) {
      if (now() - atomic_load(&progress[k]) > 60) {
        printf("FAIL watchdog: worker %d made no progress for 60 s\n0 passed, 1 failed\n", k);
        fflush(stdout);
        _exit(3);
      }
    }
  }
  atomic_store(&stopping, true);
  for (int k = 0; k < threads + 2; k++) pthread_join(ts[k], NULL);
  if (rss) fclose(rss);
  extism_plugin_free(idle[0]), extism_plugin_free(idle[1]), extism_plugin_free(victim_plugin);
  extism_compiled_plugin_free(compiled);
  printf("soak c: %.0f s, %d workers: calls %llu, plugins created %llu, bytes echoed %llu, timeouts %llu, "
         "traps %llu, cancels sent %llu, long calls finished %llu, long calls cancelled %llu; "
         "peak RSS %ld MiB, final %ld MiB\n",
         now() - start, threads, n_calls, n_created, n_bytes, n_timeouts, n_traps, n_cancels, n_long_done,
         n_long_cancelled, peak >> 20, last >> 20);
  int bad = atomic_load(&failed);
  printf("%d passed, %d failed\n", bad ? 0 : 1, bad ? 1 : 0);
  return bad;
}
