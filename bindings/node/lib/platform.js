'use strict';
// The napi-rs names of this machine's platform: the triple `linux-x64-gnu`
// (platform, arch, and the libc or ABI where there is a choice), the addon file
// `extism.<triple>.node`, and the npm package that carries it prebuilt,
// `@extism-rs/extism-<triple>` (npm/<triple>/ in the repository; the main
// package lists it in optionalDependencies when it is packed by scripts/pack.js).

const PACKAGE = '@extism-rs/extism';
// The triples with a prebuilt platform package (each has npm/<triple>/).
const PREBUILT = ['linux-x64-gnu'];

function triple() {
  const { platform, arch } = process;
  if (platform === 'linux') return `${platform}-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `${platform}-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function isMusl() {
  // glibcVersionRuntime is in Node's diagnostic report on glibc only.
  const report = process.report?.getReport?.();
  const header = /** @type {any} */ (typeof report === 'string' ? JSON.parse(report) : report)?.header;
  return !header?.glibcVersionRuntime;
}

const addonFile = (t = triple()) => `extism.${t}.node`;
const platformPackage = (t = triple()) => `${PACKAGE}-${t}`;

module.exports = { PACKAGE, PREBUILT, triple, addonFile, platformPackage };
