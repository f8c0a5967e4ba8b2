'use strict';
// The addon's plain N-API functions (FUNCTIONS in src/lib.rs): `callSync`,
// the CallContext operations `host*(target, generation, ...)` of both call
// paths, and `hostResolve`/`hostReject`, which settle a host call of the
// asynchronous path.

module.exports = require('./native.js').fastFunctions();
