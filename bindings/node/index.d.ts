// Type definitions for @extism-rs/extism: the API of the official @extism/extism
// (v2) plus the names this addon adds (createPluginSync, Plugin#callSync,
// Plugin#functionExistsSync, Plugin#cancel, the fuelLimit option).
// Written by hand and type-checked by `npm test` (tsc --noEmit).

/// <reference types="node" />

/** Key-value configuration read by plugins with `config_get`. */
export interface PluginConfigLike {
  [key: string]: string;
}

export type PluginConfig = Record<string, string>;

/** A log level; `silent` turns the plugin's logging off. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * Bytes returned by a plugin: a read-only `DataView` with text, JSON and byte
 * accessors. Every `set*` method throws `Error('Cannot set values on output')`.
 */
export declare class PluginOutput extends DataView<ArrayBufferLike> {
  /** @hidden */
  constructor(buffer: ArrayBufferLike, byteOffset?: number, byteLength?: number);
  /** `JSON.parse(this.text())`. */
  json(): any;
  /** The underlying buffer. */
  arrayBuffer(): ArrayBufferLike;
  /** The bytes decoded as UTF-8. */
  text(): string;
  /** @hidden An alias of `text()`. */
  string(): string;
  /** A view over the bytes (cached). */
  bytes(): Uint8Array;
}

/**
 * The first argument of every host function: access to the calling plugin.
 * Its access to plugin memory lasts until the host function returns (or its
 * Promise settles); afterwards `read` gives null and `length` 0n, and the
 * other memory and var methods throw.
 */
export declare class CallContext {
  private constructor();
  /** The `hostContext` given to the `call` that runs this host function. */
  hostContext<T = any>(): T;
  /** The block at `addr`, or null for 0, an address that is not a block, or after the host call returned. */
  read(addr: bigint | number): PluginOutput | null;
  /** Copy a string (as UTF-8) or bytes into a new block; returns its address. */
  store(input: string | Uint8Array): bigint;
  /** A new block of `size` bytes; `0n` when plugin memory is exhausted. */
  alloc(size: bigint | number): bigint;
  /** The length of the block at `addr`, `0n` when there is none (or after the host call returned). */
  length(addr: bigint | number): bigint;
  /** The value of a plugin var, or null. */
  getVariable(name: string): PluginOutput | null;
  /** Set a plugin var (an empty value removes it). */
  setVariable(name: string, value: string | Uint8Array): void;
  deleteVariable(name: string): void;
  /** Make the current call fail with `Plugin-originated error: <message>`. */
  setError(err: string | Error | null): void;
  /**
   * Beyond the official SDK: milliseconds left before the call's `timeoutMs`
   * (0 once passed); null without a timeout, or after the host call returned.
   */
  timeRemaining(): number | null;
  /**
   * The plugin's log level: the `logLevel` option until it is set here. As in
   * the official SDK, setting it changes the plugin's level from then on (its
   * log messages and `get_log_level`, in this call and the next ones); an
   * unknown level throws a `TypeError`.
   */
  get logLevel(): LogLevel;
  set logLevel(v: LogLevel);
}

/** An alias of {@link CallContext}, as in the official SDK. */
export type CurrentPlugin = CallContext;

/**
 * A host function. Arguments follow the plugin's import type: `i32`, `f32` and
 * `f64` arrive as numbers, `i64` as bigints. Return a bigint for an `i64`
 * result, a number for the others, nothing when there is no result. An async
 * function (or one returning a Promise) works with `call()`, not `callSync()`.
 */
export type HostFunction = (callContext: CallContext, ...args: any[]) => any;

export interface MemoryOptions {
  /** The memory budget in 64 KiB pages. */
  maxPages?: number | undefined;
  /** The largest HTTP response body a plugin may receive. */
  maxHttpResponseBytes?: number | undefined;
  /** The size limit of the var store (0 disables vars). */
  maxVarBytes?: number | undefined;
}

/** Options of {@link createPlugin}. */
export interface ExtismPluginOptions {
  /** Enable WASI preview 1. */
  useWasi?: boolean | undefined;
  /**
   * `true`: every call runs on the plugin's own native thread. Otherwise short
   * calls of a plugin that cannot wait on this process may run on the JS thread
   * (docs/node.md, "Where calls run").
   */
  runInWorker?: boolean | undefined;
  /** Receives the plugin's log lines (default: `console`). */
  logger?: Console | undefined;
  /** The plugin's log level (default: `silent`). */
  logLevel?: LogLevel | undefined;
  /** Host functions by namespace and name, e.g. `{'extism:host/user': {hello_world(ctx, addr) {...}}}`. */
  functions?: { [namespace: string]: { [name: string]: HostFunction } } | undefined;
  /** WASI preopens as `{guestPath: hostPath}` (a host path may start with `ro:` for read-only). */
  allowedPaths?: { [guestPath: string]: string } | undefined;
  /** Hosts plugin HTTP requests may reach (globs such as `*.example.com`). */
  allowedHosts?: string[] | undefined;
  memory?: MemoryOptions | undefined;
  /** A wall-clock limit per call (and for instantiation), in milliseconds. */
  timeoutMs?: number | null | undefined;
  /**
   * `true`: the plugin's WASI stdout and stderr go to this process's stdout
   * and stderr; `false`: discarded. Unset: discarded unless the
   * `EXTISM_ENABLE_WASI_OUTPUT` environment variable is set.
   */
  enableWasiOutput?: boolean | undefined;
  /** Plugin config (replaces the manifest's). */
  config?: PluginConfigLike | undefined;
  /**
   * Sends the plugin's HTTP requests (`http_request`), after the runtime's
   * `allowedHosts` check, with `redirect: 'manual'` (the runtime follows
   * redirects, checking each hop). Defaults to the global `fetch`; Node's own
   * fetch is left to the runtime's native client. Needs `call()`: a
   * synchronous call cannot wait for it.
   */
  fetch?: typeof fetch | undefined;
  /** Accepted for compatibility; no effect. */
  sharedArrayBufferSize?: number | undefined;
  /** Let `http_headers` return the last response's headers. */
  allowHttpResponseHeaders?: boolean | undefined;
  /** Accepted for compatibility; no effect. */
  nodeWorkerArgs?: Record<string, any> | undefined;
  /** Beyond the official SDK: a fuel budget per call (a trap when it runs out). */
  fuelLimit?: number | bigint | null | undefined;
}

export interface ManifestWasmData {
  /** The module bytes (binary or WAT), or base64 text. */
  data: Uint8Array | ArrayBuffer | string;
}

export interface ManifestWasmUrl {
  url: URL | string;
  /** Request headers (honoured, unlike the official SDK). */
  headers?: Record<string, string>;
  method?: string;
}

export interface ManifestWasmPath {
  path: string;
}

export interface ManifestWasmResponse {
  response: Response;
}

export type ManifestWasm = (
  | ManifestWasmUrl
  | ManifestWasmData
  | ManifestWasmPath
  | ManifestWasmResponse
) & {
  name?: string;
  hash?: string;
};

/** The manifest fields options may also give (options take precedence). */
export interface ManifestOptions {
  /** `{guestPath: hostPath}`, as the option. */
  allowedPaths?: { [guestPath: string]: string };
  /** The core's `{hostPath: guestPath}` (docs/manifest.md, Fields). */
  allowed_paths?: { [hostPath: string]: string };
  allowedHosts?: string[];
  allowed_hosts?: string[];
  memory?: MemoryOptions & { max_pages?: number; max_http_response_bytes?: number; max_var_bytes?: number };
  config?: PluginConfigLike;
  timeoutMs?: number | null;
  timeout_ms?: number | null;
}

export interface Manifest extends ManifestOptions {
  wasm: Array<ManifestWasm>;
}

/**
 * What a plugin can be created from: a manifest object, a string (WAT text, a
 * JSON or TOML manifest, an `http://`, `https://` or `file://` URL, or a path,
 * as the runtime classifies it), a `URL`, a fetch `Response`, or wasm bytes
 * (binary or WAT).
 */
export type ManifestLike = Manifest | Response | ArrayBuffer | ArrayBufferView | string | URL;

/** An export of main, as `WebAssembly.Module.exports` describes it. */
export interface ModuleExportDescriptor {
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
}

/** An import of main, as `WebAssembly.Module.imports` describes it. */
export interface ModuleImportDescriptor {
  module: string;
  name: string;
  kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
}

export interface Capabilities {
  supportsJSPromiseInterface: boolean;
  allowSharedBufferCodec: boolean;
  manifestSupportsPaths: boolean;
  crossOriginChecksEnforced: boolean;
  fsAccess: boolean;
  hasWorkerCapability: boolean;
  supportsWasiPreview1: boolean;
  supportsTimeouts: boolean;
  extismStdoutEnvVarSet: boolean;
}

/** The capabilities of this build. */
export declare const CAPABILITIES: Capabilities;

/** The `code` of errors from the runtime (a `Plugin-originated error` has `EXTISM_PLUGIN`). */
export type ExtismErrorCode =
  | 'EXTISM_MANIFEST'
  | 'EXTISM_COMPILE'
  | 'EXTISM_INSTANTIATE'
  | 'EXTISM_FUNCTION_NOT_FOUND'
  | 'EXTISM_PLUGIN'
  | 'EXTISM_TRAP'
  | 'EXTISM_TIMEOUT'
  | 'EXTISM_OUT_OF_FUEL'
  | 'EXTISM_OUT_OF_MEMORY'
  | 'EXTISM_HOST_FUNCTION'
  | 'EXTISM_EXIT'
  | 'EXTISM_INVALID_ARGUMENT'
  | 'EXTISM_REENTRANT'
  | 'EXTISM_HASH_MISMATCH'
  | 'EXTISM_UNRESOLVED_IMPORT'
  | 'EXTISM_VAR_LIMIT'
  | 'EXTISM_ERROR';

/** An error from the runtime: `code` names its kind; `rc` is a failed call's return code. */
export interface ExtismError extends Error {
  code: ExtismErrorCode;
  rc?: number;
}

/** A plugin. Calls run one at a time, in order, on a native thread of the plugin. */
export declare class Plugin {
  private constructor();
  /**
   * Call `funcName` with `input` (a string is sent as UTF-8, a number as its
   * decimal text). Resolves to the output, or null when the plugin set none.
   * Rejects with `Plugin-originated error: …` when the plugin fails, with the
   * error a host function threw, and with a timeout error after `timeoutMs` or
   * {@link Plugin.cancel}.
   */
  call<T = any>(funcName: string, input?: string | number | Uint8Array, hostContext?: T): Promise<PluginOutput | null>;
  /**
   * Beyond the official SDK: `call` on the JS thread, with the lowest overhead.
   * Host functions are called directly and must not return a Promise. Throws
   * when asynchronous work of this plugin is pending.
   */
  callSync<T = any>(funcName: string, input?: string | number | Uint8Array, hostContext?: T): PluginOutput | null;
  /** True if main exports `funcName` as a plugin function (`() -> i32` or `() -> ()`). */
  functionExists(funcName: string): Promise<boolean>;
  /** Beyond the official SDK: the synchronous `functionExists`. */
  functionExistsSync(funcName: string): boolean;
  /** Main's exports. */
  getExports(): Promise<ModuleExportDescriptor[]>;
  /** Main's imports. */
  getImports(): Promise<ModuleImportDescriptor[]>;
  /** Always rejects: a native plugin has no JS `WebAssembly.Instance`. */
  getInstance(): Promise<never>;
  /**
   * Beyond the official SDK: the fuel the last call used, or null without a
   * fuel limit (or before the first call). Throws while asynchronous work of
   * this plugin is pending.
   */
  fuelConsumed(): bigint | null;
  /** True while a call is running. */
  isActive(): boolean;
  /** Free the plugin's Extism memory (vars are kept). False while work is pending. */
  reset(): Promise<boolean>;
  /** Release the plugin once the calls already queued have run. Later calls reject. */
  close(): Promise<void>;
  /**
   * Beyond the official SDK: stop the call running on this plugin now; its
   * Promise rejects with a timeout error. Does nothing when no call runs.
   */
  cancel(): void;
}

/** Create a plugin (compiled and instantiated off the JS thread). */
export declare function createPlugin(
  manifest: ManifestLike | PromiseLike<ManifestLike>,
  opts?: ExtismPluginOptions,
): Promise<Plugin>;

/** An alias of {@link createPlugin}. */
export declare const newPlugin: typeof createPlugin;

/**
 * Beyond the official SDK: create a plugin on the JS thread. Takes no Promise
 * or `Response` sources; host functions called during instantiation must not
 * return a Promise.
 */
export declare function createPluginSync(manifest: Exclude<ManifestLike, Response>, opts?: ExtismPluginOptions): Plugin;

/** An alias of {@link createPluginSync}. */
export declare const newPluginSync: typeof createPluginSync;

/** Options of {@link createPool}: those of {@link createPlugin}, and how many instances at most. */
export interface PoolOptions extends ExtismPluginOptions {
  /** The most instances the pool makes (a whole number >= 1; default: the number of CPUs). */
  maxInstances?: number;
}

/**
 * Beyond the official SDK: up to `maxInstances` plugins made from one source,
 * each running its calls on its own native thread. A call takes an idle
 * instance, makes one when fewer than `maxInstances` exist, or waits for one
 * (first come, first served).
 */
export declare class Pool {
  private constructor();
  /** The most instances this pool makes. */
  readonly maxInstances: number;
  /** How many instances exist now. */
  readonly instances: number;
  /** `Plugin.call` on an instance no other call is using. Rejects with `pool is closed` after {@link Pool.close}. */
  call<T = any>(funcName: string, input?: string | number | Uint8Array, hostContext?: T): Promise<PluginOutput | null>;
  /** True if main exports `funcName` as a plugin function. */
  functionExists(funcName: string): Promise<boolean>;
  /** Refuse new calls and those waiting for an instance, let running calls finish, then close every instance. */
  close(): Promise<void>;
}

/**
 * Beyond the official SDK: create a {@link Pool}. Its first instance is made
 * now, so a bad source or option rejects here; the source is compiled once.
 */
export declare function createPool(
  manifest: ManifestLike | PromiseLike<ManifestLike>,
  opts?: PoolOptions,
): Promise<Pool>;

/** The runtime's version. */
export declare const version: string;

export default createPlugin;
