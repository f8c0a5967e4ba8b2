'use strict';
// Finds and loads the compiled addon. `npm install` builds it (scripts/install.js)
// as extism.<platform>-<arch>[-<abi>].node, the name `napi build --platform` uses.
const path = require('node:path');
const fs = require('node:fs');

function candidates() {
  const dir = path.join(__dirname, '..');
  const { platform, arch } = process;
  const names = [];
  if (process.env.EXTISM_NODE_ADDON) names.push(path.resolve(process.env.EXTISM_NODE_ADDON));
  const abis = platform === 'linux' ? ['-gnu', '-musl', ''] : platform === 'win32' ? ['-msvc', ''] : [''];
  for (const abi of abis) names.push(path.join(dir, `extism.${platform}-${arch}${abi}.node`));
  names.push(path.join(dir, 'extism.node'));
  return names;
}

function load() {
  const tried = candidates();
  for (const file of tried) {
    if (fs.existsSync(file)) return require(file);
  }
  throw new Error(
    `The Extism native addon is not built. Looked for:\n  ${tried.join('\n  ')}\n` +
      'Run `npm install` (or `node scripts/install.js`) in the package directory to build it with cargo.',
  );
}

module.exports = load();
