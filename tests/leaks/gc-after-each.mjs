// Preloaded (node --import) by run_frontends.py: collect garbage after every
// test, so that plugins a test drops are freed (their finalizers run under
// valgrind too) instead of piling up until exit.
import { afterEach } from 'node:test';

afterEach(async () => {
  globalThis.gc();
  await new Promise((resolve) => setImmediate(resolve));
});
