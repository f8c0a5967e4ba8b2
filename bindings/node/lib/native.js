'use strict';
// Finds and loads the native addon, the napi-rs way. In order:
// 1. EXTISM_NODE_ADDON, a path to an addon file, when set;
// 2. extism.<triple>.node (or extism.node) in the package directory: an addon built from source
//    (scripts/install.js: in the repository, or from vendor/ when no prebuilt
//    addon fits);
// 3. the platform package @extism-rs/extism-<triple> (an optional dependency
//    holding the prebuilt addon; npm installs the one whose os/cpu/libc match).
// When none is there, loading fails with one error that says what is missing
// and how to get it, instead of a stack of require() internals.
const path = require('node:path');
const fs = require('node:fs');
const { PACKAGE, PREBUILT, triple, addonFile, platformPackage } = require('./platform.js');

const packageDir = path.join(__dirname, '..');

/** An error whose stack holds only the message and the caller's own frames. */
function loadError(message) {
  // Deep enough to reach past require()'s own frames to the caller's.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const error = new Error(message);
  Error.stackTraceLimit = limit;
  Object.defineProperty(error, 'code', { value: 'EXTISM_NO_ADDON', enumerable: false });
  const head = `Error: ${message}`;
  const stack = String(error.stack);
  const frames = (stack.startsWith(head) ? stack.slice(head.length) : '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line) && !line.includes('node:internal') && !line.includes(packageDir));
  error.stack = [head, ...frames].join('\n');
  return error;
}

function load() {
  const t = triple();
  const pkg = platformPackage(t);
  if (process.env.EXTISM_NODE_ADDON) {
    const file = path.resolve(process.env.EXTISM_NODE_ADDON);
    if (!fs.existsSync(file)) throw loadError(`${PACKAGE}: EXTISM_NODE_ADDON names ${file}, which does not exist`);
    return require(file);
  }
  // `napi build --platform` names it by triple; plain `napi build`, extism.node.
  for (const file of [addonFile(t), 'extism.node']) {
    const local = path.join(packageDir, file);
    if (fs.existsSync(local)) return require(local);
  }

  let entry;
  try {
    entry = require.resolve(pkg);
  } catch (error) {
    if (/** @type {any} */ (error).code !== 'MODULE_NOT_FOUND') throw error;
  }
  if (entry) {
    try {
      return require(entry);
    } catch (error) {
      throw loadError(
        `${PACKAGE}: the prebuilt addon ${entry} (from ${pkg}) does not load on this machine: ` +
          `${/** @type {Error} */ (error).message}`,
      );
    }
  }
  const rebuild = `build the addon from source, with Rust on PATH: \`npm rebuild ${PACKAGE}\``;
  if (!PREBUILT.includes(t)) {
    throw loadError(`${PACKAGE}: no native addon for this platform (${t}), which has no prebuilt package; ${rebuild}.`);
  }
  throw loadError(
    `${PACKAGE}: no native addon for this platform (${t}): the package ${pkg}, which holds the ` +
      `prebuilt addon, is not installed.\n  npm installs it as an optional dependency of ${PACKAGE}, unless ` +
      `optional dependencies are omitted (--omit=optional); install it, or ${rebuild}.`,
  );
}

module.exports = load();
