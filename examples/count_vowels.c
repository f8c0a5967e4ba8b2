/* The demo: load a plugin (wasm, WAT or a manifest file) with libextism and
 * call its count_vowels export. Usage: count_vowels PLUGIN [INPUT] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extism.h"

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
  *len = fread(buf, 1, (size_t)size, f);
  fclose(f);
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PLUGIN [INPUT]\n", argv[0]);
    return 2;
  }
  const char *input = argc > 2 ? argv[2] : "Hello, World!";
  size_t len = 0;
  unsigned char *wasm = read_file(argv[1], &len);
  if (wasm == NULL) {
    perror(argv[1]);
    return 1;
  }
  char *errmsg = NULL;
  ExtismPlugin *plugin = extism_plugin_new(wasm, len, NULL, 0, false, &errmsg);
  free(wasm);
  if (plugin == NULL) {
    fprintf(stderr, "%s\n", errmsg);
    extism_plugin_new_error_free(errmsg);
    return 1;
  }
  int32_t rc = extism_plugin_call(plugin, "count_vowels", (const uint8_t *)input, strlen(input));
  const char *error = extism_plugin_error(plugin);
  if (rc != 0 || error != NULL) {
    fprintf(stderr, "call failed (%d): %s\n", rc, error ? error : "");
    extism_plugin_free(plugin);
    return 1;
  }
  fwrite(extism_plugin_output_data(plugin), 1, extism_plugin_output_length(plugin), stdout);
  putchar('\n');
  printf("(libextism %s)\n", extism_version());
  extism_plugin_free(plugin);
  return 0;
}
