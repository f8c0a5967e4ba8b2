// wat2wasm IN.wat OUT.wasm: the official JS SDKs load only wasm binaries.
const fs = require('node:fs');
require('wabt')().then((wabt) => {
  const module = wabt.parseWat(process.argv[2], fs.readFileSync(process.argv[2], 'utf8'));
  fs.writeFileSync(process.argv[3], Buffer.from(module.toBinary({}).buffer));
});
