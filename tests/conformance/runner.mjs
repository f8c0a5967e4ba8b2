// Conformance runner for the Node frontend (bindings/node, @extism-rs/extism).
//
// Runs every case of cases.json (README.md there describes the format) and
// prints `ok NAME`, `FAIL NAME: why` or `skip NAME: why` per case, then
// `N passed, N failed, N skipped`. Exits 1 on any failure.
//
// Usage: node runner.mjs [cases.json] [--repo DIR] [--only NAME]...
//
// Calls use the asynchronous `plugin.call` (the event loop stays free, so the
// runner's own HTTP server and cancel timers run while a plugin does).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import createPlugin, { createPool } from '../../bindings/node/index.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// What this frontend's API cannot express (see README.md, "Skips").
const UNSUPPORTED_HOST_FUNCTIONS = {};
const UNSUPPORTED_NEEDS = {
  raw_bytes_classification:
    'createPlugin takes bytes as module data (wasm or WAT), never as a manifest, so raw bytes are not classified as the C API does (docs/manifest.md, Input classification)',
};
const UNSUPPORTED_STEPS = {
  config: 'the JS SDK has no way to update a plugin\'s config after creation',
};

// ------------------------------------------------------------------ case data

const encoder = new TextEncoder();

/** An input/output form of cases.json as bytes: text, {hex}, {repeat, count}. */
function decodeBytes(value) {
  if (typeof value === 'string') return encoder.encode(value);
  if (value && typeof value.hex === 'string') return new Uint8Array(Buffer.from(value.hex, 'hex'));
  if (value && typeof value.repeat === 'string') return encoder.encode(value.repeat.repeat(value.count));
  throw new Error(`bad bytes form: ${JSON.stringify(value)}`);
}

class Env {
  constructor(repo, httpBase, tmp) {
    this.repo = repo;
    this.httpBase = httpBase;
    this.tmp = tmp;
  }

  subst(s) {
    if (this.httpBase !== null) s = s.replaceAll('$HTTP', this.httpBase);
    if (this.tmp !== null) s = s.replaceAll('$TMPDIR', this.tmp);
    return s;
  }

  fixturePath(ref) {
    if (ref.wat) return path.join(this.repo, 'tests', 'fixtures', 'wat', `${ref.wat}.wat`);
    if (ref.pdk) {
      const dir = process.env.EXTISM_FIXTURES ?? path.join(this.repo, 'target', 'fixtures');
      return path.join(dir, `as_${ref.pdk}.wasm`);
    }
    throw new Error(`bad fixture reference: ${JSON.stringify(ref)}`);
  }

  manifestValue(v) {
    if (typeof v === 'string') return this.subst(v);
    if (Array.isArray(v)) return v.map((x) => this.manifestValue(x));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [this.subst(k), this.manifestValue(x)]));
    }
    return v;
  }

  wasmEntry(entry) {
    const out = {};
    for (const [k, v] of Object.entries(entry)) {
      if (k === 'fixture') out.path = this.fixturePath(v);
      else if (k === 'fixture_data') out.data = readFileSync(this.fixturePath(v)).toString('base64');
      else out[k] = this.manifestValue(v);
    }
    return out;
  }

  /** What `createPlugin` is given for the case's `plugin`. */
  source(plugin) {
    if ('wasm' in plugin) {
      // A manifest object: snake_case keys (`allowed_paths` is the core's {host: guest}).
      const manifest = {};
      for (const [k, v] of Object.entries(plugin)) if (k !== 'wasm') manifest[k] = this.manifestValue(v);
      manifest.wasm = plugin.wasm.map((e) => this.wasmEntry(e));
      return manifest;
    }
    if ('wat' in plugin || 'pdk' in plugin) return new Uint8Array(readFileSync(this.fixturePath(plugin)));
    if ('text' in plugin) return this.subst(plugin.text); // a string: JSON manifest, URL or path
    if ('bytes' in plugin) return decodeBytes(plugin.bytes);
    throw new Error(`bad plugin: ${JSON.stringify(plugin)}`);
  }
}

// ------------------------------------------------------------- host functions

/** Errors thrown by the catalogue's failing host function. */
class HostSaidNo extends Error {}

/** The catalogue (README.md): every entry has the type (i64) -> i64. */
const CATALOGUE = {
  hello_world: (ctx, addr) => {
    const name = ctx.read(addr)?.bytes() ?? new Uint8Array(0);
    return ctx.store(Buffer.concat([Buffer.from('Hello, '), name, Buffer.from('!')]));
  },
  echo_host: (_ctx, addr) => addr,
  null_host: () => 0n,
  bad_handle_host: () => 12345n,
  context_host: (ctx) => {
    const hc = ctx.hostContext();
    return hc === undefined ? 0n : ctx.store(hc);
  },
  fail_host: () => {
    throw new HostSaidNo('host said no');
  },
  set_error_host: (ctx) => {
    ctx.setError('host set this');
    return 0n;
  },
};

// ------------------------------------------------------------- result mapping

/**
 * The frontend's result as {kind, text, rc}. Node rejects with its own wording
 * (the official JS SDK's) and puts the core's kind in `code` and the return
 * code in `rc`; this turns that back into the common kind and the core's text:
 * - `Plugin-originated error: TEXT` (EXTISM_PLUGIN) → plugin, TEXT;
 * - `Plugin error: function "NAME" does not exist` → not_found,
 *   `Function not found: NAME`; `Plugin error: TEXT` (a not callable export) → TEXT;
 * - `EXTISM: call canceled due to timeout` (EXTISM_TIMEOUT) → timeout, `timeout`;
 * - `var memory limit exceeded: N bytes requested, M allowed` (EXTISM_VAR_LIMIT)
 *   → host, `Variable store is full`;
 * - the very error a host function threw (no `code`) → host, its message;
 * - other codes carry the core's text as the message.
 */
const KINDS = {
  EXTISM_PLUGIN: 'plugin',
  EXTISM_TRAP: 'trap',
  EXTISM_TIMEOUT: 'timeout',
  EXTISM_OUT_OF_FUEL: 'fuel',
  EXTISM_OUT_OF_MEMORY: 'oom',
  EXTISM_FUNCTION_NOT_FOUND: 'not_found',
  EXTISM_HOST_FUNCTION: 'host',
  EXTISM_VAR_LIMIT: 'host',
  EXTISM_EXIT: 'exit',
};

function mapError(err, funcName) {
  if (err === null) return { kind: 'none', text: null, rc: undefined };
  if (err instanceof HostSaidNo) return { kind: 'host', text: err.message, rc: err.rc };
  const kind = KINDS[err.code] ?? `other(${err.code ?? err.constructor?.name})`;
  let text = err.message;
  if (err.code === 'EXTISM_PLUGIN') text = text.replace(/^Plugin-originated error: /, '');
  if (err.code === 'EXTISM_TIMEOUT') text = 'timeout';
  if (err.code === 'EXTISM_VAR_LIMIT') text = 'Variable store is full';
  if (err.code === 'EXTISM_FUNCTION_NOT_FOUND') {
    text = text === `Plugin error: function "${funcName}" does not exist`
      ? `Function not found: ${funcName}`
      : text.replace(/^Plugin error: /, '');
  }
  return { kind, text, rc: err.rc };
}

/**
 * A creation error as {prefix, text}. Node shows the core's text without the
 * C API's `Unable to compile/create Extism plugin: ` prefix (prefix null, not
 * checked). Wordings of its own (the JS SDK's) map back to the core's text: a
 * JSON string that does not parse is rejected by the SDK itself (`JSON.parse`,
 * as the official JS SDK does) where the core says `Unknown manifest format`, a
 * timeout while instantiating says `EXTISM: timed out while waiting for plugin
 * to instantiate` where the core says `timeout`, and a hash mismatch says
 * `Plugin error: hash mismatch. Expected: E. Actual: F` where the core says
 * `Hash mismatch, found F but expected E`, and an import nothing provides says
 * `from module "main": cannot resolve import "M" "N": ...` where the core says
 * ``unknown import: `M::N` has not been defined``.
 */
function mapCreateError(err) {
  if (err instanceof SyntaxError) return { prefix: null, text: 'Unknown manifest format' };
  if (err.code === 'EXTISM_TIMEOUT') return { prefix: null, text: 'timeout' };
  if (err.code === 'EXTISM_HASH_MISMATCH') {
    const [, expected, found] = /^Plugin error: hash mismatch\. Expected: (.*)\. Actual: (.*)$/.exec(err.message) ?? [];
    return { prefix: null, text: `Hash mismatch, found ${found} but expected ${expected}` };
  }
  if (err.code === 'EXTISM_UNRESOLVED_IMPORT') {
    const [, module, name] = /cannot resolve import "([^"]*)" "([^"]*)"/.exec(err.message) ?? [];
    return { prefix: null, text: `unknown import: \`${module}::${name}\` has not been defined` };
  }
  return { prefix: null, text: err.message };
}

// ---------------------------------------------------------------- HTTP server

/** The fixed routes every runner serves (README.md). */
function startHttp() {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let status = 200;
      let body;
      if (req.url === '/hello') body = Buffer.from('hello over http');
      else if (req.url === '/echo') body = Buffer.concat(chunks);
      else {
        status = 404;
        body = Buffer.from('not found');
      }
      res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': body.length, Connection: 'close' });
      res.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, base: `http://127.0.0.1:${server.address().port}` }));
  });
}

// -------------------------------------------------------------------- running

class Skip extends Error {}

const show = (b) => JSON.stringify(Buffer.from(b.subarray(0, 80)).toString('latin1'));

function checkStep(step, env, result, output) {
  const expect = step.expect ?? {};
  const { kind, text, rc } = result;
  const wantKind = expect.error_kind ?? 'none';
  if (kind !== wantKind) return `expected ${wantKind}, got ${kind} (${JSON.stringify(text)})`;
  if ('error_text' in expect && text !== env.subst(expect.error_text)) {
    return `error text ${JSON.stringify(text)}, expected ${JSON.stringify(env.subst(expect.error_text))}`;
  }
  if ('error_contains' in expect && !(text ?? '').includes(env.subst(expect.error_contains))) {
    return `error text ${JSON.stringify(text)} lacks ${JSON.stringify(env.subst(expect.error_contains))}`;
  }
  // rc: Node exposes it on call errors only (a resolved call has rc 0 or no error at all).
  if ('rc' in expect && kind !== 'none' && rc !== undefined && rc !== expect.rc) {
    return `rc ${rc}, expected ${expect.rc}`;
  }
  if (kind === 'none') {
    if ('output' in expect) {
      const want = decodeBytes(expect.output);
      if (Buffer.compare(Buffer.from(output), Buffer.from(want)) !== 0) {
        return `output ${show(output)} (len ${output.length}), expected ${show(want)} (len ${want.length})`;
      }
    }
    if ('output_len' in expect && output.length !== expect.output_len) {
      return `output length ${output.length}, expected ${expect.output_len}`;
    }
    if ('output_prefix' in expect) {
      const p = decodeBytes(expect.output_prefix);
      if (Buffer.compare(Buffer.from(output.subarray(0, p.length)), Buffer.from(p)) !== 0) {
        return `output ${show(output)} does not start with ${JSON.stringify(expect.output_prefix)}`;
      }
    }
  }
  return null;
}

async function runCase(c, repo, httpBase) {
  for (const need of c.needs ?? []) if (need in UNSUPPORTED_NEEDS) throw new Skip(UNSUPPORTED_NEEDS[need]);
  const host = c.host_functions ?? {};
  for (const impl of Object.values(host)) {
    if (impl in UNSUPPORTED_HOST_FUNCTIONS) throw new Skip(`${impl}: ${UNSUPPORTED_HOST_FUNCTIONS[impl]}`);
  }
  for (const step of c.steps ?? []) {
    for (const k of Object.keys(UNSUPPORTED_STEPS)) if (k in step) throw new Skip(UNSUPPORTED_STEPS[k]);
  }

  let tmp = null;
  if (c.tmpdir) {
    tmp = mkdtempSync(path.join(tmpdir(), 'extism-conformance-'));
    writeFileSync(path.join(tmp, 'hello.txt'), 'hello from the host\n');
  }
  try {
    const env = new Env(repo, c.http ? httpBase : null, tmp);
    const functions = {};
    for (const [name, impl] of Object.entries(host)) {
      functions['extism:host/user'] ??= {};
      functions['extism:host/user'][name] = CATALOGUE[impl];
    }
    const opts = { useWasi: Boolean(c.wasi), functions };
    if (c.fuel_limit !== undefined) opts.fuelLimit = c.fuel_limit;

    let plugin = null;
    let createError = null;
    try {
      // With `pool`, every call step goes through a pool of that many instances.
      plugin = c.pool === undefined ? await createPlugin(env.source(c.plugin), opts) : await createPool(env.source(c.plugin), { ...opts, maxInstances: c.pool });
    } catch (e) {
      createError = e;
    }

    if ('expect_create_error_contains' in c) {
      if (createError === null) {
        await plugin.close();
        return 'creation succeeded, expected an error';
      }
      const { prefix, text } = mapCreateError(createError);
      const want = env.subst(c.expect_create_error_contains);
      if (!text.includes(want)) return `creation error ${JSON.stringify(createError.message)} lacks ${JSON.stringify(want)}`;
      if (prefix !== null && c.expect_create_error_prefix !== undefined && prefix !== c.expect_create_error_prefix) {
        return `creation error lacks the prefix ${JSON.stringify(c.expect_create_error_prefix)}`;
      }
      return null;
    }
    if (createError !== null) return `creation failed: ${createError.message}`;

    try {
      const steps = c.steps ?? [];
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        if (c.pool !== undefined && !('function' in step)) return `step ${i}: a pool case has only call steps`;
        if (step.reset) {
          if ((await plugin.reset()) !== true) return `step ${i}: reset returned false`;
          continue;
        }
        if ('function_exists' in step) {
          const got = await plugin.functionExists(step.function_exists);
          if (got !== step.expect) return `step ${i}: functionExists(${JSON.stringify(step.function_exists)}) is ${got}, expected ${step.expect}`;
          continue;
        }
        if (step.cancel) {
          plugin.cancel();
          continue;
        }
        const raw = step.input ?? '';
        const input = typeof raw === 'string' ? encoder.encode(env.subst(raw)) : decodeBytes(raw);
        // Cancel after cancel_after_ms, then again every 20 ms until the call settles: a cancel
        // sent before the call started is a no-op (docs/abi.md, Cancel), and it may start late.
        let timer = null;
        let repeat = null;
        if (step.cancel_after_ms !== undefined) {
          timer = setTimeout(() => {
            plugin.cancel();
            repeat = setInterval(() => plugin.cancel(), 20);
          }, step.cancel_after_ms);
        }
        // `concurrently`: the step's call made that many times at once, each checked.
        const one = async () => {
          try {
            const out = await plugin.call(step.function, input, step.host_context);
            // No output is null (also for an empty output).
            return { err: null, output: out === null ? new Uint8Array(0) : out.bytes() };
          } catch (e) {
            return { err: e, output: new Uint8Array(0) };
          }
        };
        let results;
        try {
          results = await Promise.all(Array.from({ length: step.concurrently ?? 1 }, one));
        } finally {
          if (timer !== null) clearTimeout(timer);
          if (repeat !== null) clearInterval(repeat);
        }
        for (const { err, output } of results) {
          const why = checkStep(step, env, mapError(err, step.function), output);
          if (why !== null) return `step ${i} (${step.function}): ${why}`;
        }
      }
    } finally {
      await plugin.close();
    }
    return null;
  } finally {
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(argv) {
  let repo = path.resolve(here, '..', '..');
  let casesPath = path.join(here, 'cases.json');
  const only = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--repo') repo = path.resolve(argv[++i]);
    else if (argv[i] === '--only') only.push(argv[++i]);
    else casesPath = argv[i];
  }
  const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
  const { server, base } = await startHttp();
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const c of cases) {
    if (only.length && !only.includes(c.name)) continue;
    let why;
    try {
      why = await runCase(c, repo, base);
    } catch (e) {
      if (e instanceof Skip) {
        console.log(`skip ${c.name}: ${e.message}`);
        skipped++;
        continue;
      }
      why = `unexpected ${e?.constructor?.name}: ${e?.message ?? e}`;
    }
    if (why === null) {
      console.log(`ok ${c.name}`);
      passed++;
    } else {
      console.log(`FAIL ${c.name}: ${why}`);
      failed++;
    }
  }
  server.close();
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
