// The demo through the Node addon: node count_vowels.mjs PLUGIN [INPUT]
import createPlugin from '../bindings/node/index.mjs';

const plugin = await createPlugin(process.argv[2]);
const output = await plugin.call('count_vowels', process.argv[3] ?? 'Hello, World!');
console.log(output.text());
console.log('(extism, Node)');
await plugin.close();
