// ES module view of index.d.ts (whose format is CommonJS, like index.js): the
// same names, and `createPlugin` as the default export.
import api from './index.js';

export * from './index.js';

declare const createPluginDefault: typeof api.default;
export default createPluginDefault;
