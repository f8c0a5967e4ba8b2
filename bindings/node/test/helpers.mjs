// Shared fixtures: WAT plugins from tests/fixtures/wat and AssemblyScript PDK
// plugins from target/fixtures (tests/fixtures/pdk/build.sh builds them).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..', '..');
export const packageDir = path.resolve(here, '..');

export const wat = (name) => path.join(repo, 'tests', 'fixtures', 'wat', `${name}.wat`);
export const watText = (name) => readFileSync(wat(name), 'utf8');

const fixtures = process.env.EXTISM_FIXTURES ?? path.join(repo, 'target', 'fixtures');
export const pdk = (name) => {
  const file = path.join(fixtures, `as_${name}.wasm`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run tests/fixtures/pdk/build.sh`);
  return file;
};

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A little-endian unsigned integer from output bytes. */
export const le = (output) => {
  let n = 0n;
  const bytes = output.bytes();
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
};

/** A logger that records `[level, text]` pairs. */
export function recorder() {
  const lines = [];
  const logger = {};
  for (const level of ['trace', 'debug', 'info', 'warn', 'error']) logger[level] = (text) => lines.push([level, text]);
  return { lines, logger };
}
