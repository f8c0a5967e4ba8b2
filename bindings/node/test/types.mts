// Type-checked by `tsc --noEmit` (npm test): the ES module view of the package.
import createPlugin, {
  CAPABILITIES,
  createPool,
  type Pool,
  type PoolOptions,
  createPluginSync,
  newPlugin,
  PluginOutput,
  type CallContext,
  type CurrentPlugin,
  type ExtismError,
  type ExtismPluginOptions,
  type Manifest,
  type ModuleExportDescriptor,
  type ModuleImportDescriptor,
  type ManifestLike,
  type Plugin,
} from '@extism-rs/extism';

const options: ExtismPluginOptions = {
  useWasi: false,
  runInWorker: true,
  logger: console,
  logLevel: 'info',
  timeoutMs: 1000,
  fuelLimit: 10_000_000n,
  memory: { maxPages: 16, maxVarBytes: 1024, maxHttpResponseBytes: 4096 },
  config: { greeting: 'hi' },
  allowedHosts: ['*.example.com'],
  allowedPaths: { '/data': '/tmp' },
  allowHttpResponseHeaders: true,
  fetch: async (url, init) => fetch(url, init),
  functions: {
    'extism:host/user': {
      hello_world(ctx: CallContext, addr: bigint): bigint {
        const input: PluginOutput | null = ctx.read(addr);
        const text: string = input?.text() ?? '';
        const level: string = ctx.logLevel;
        ctx.logLevel = 'debug';
        ctx.setVariable('seen', text + level);
        const seen: PluginOutput | null = ctx.getVariable('seen');
        ctx.deleteVariable('seen');
        const n: bigint = ctx.length(addr) + ctx.alloc(1);
        if (n < 0n || seen === null) ctx.setError('impossible');
        return ctx.store(`${ctx.hostContext<string>()}: ${text}`);
      },
      async later(ctx: CurrentPlugin): Promise<void> {
        await Promise.resolve(ctx);
      },
    },
  },
};

const manifest: Manifest = {
  wasm: [{ path: 'plugin.wasm', name: 'main' }, { data: new Uint8Array(8), hash: 'abc' }, { url: 'https://example.com/x.wasm' }],
  config: { a: 'b' },
  timeout_ms: 100,
};

async function main(): Promise<void> {
  const sources: ManifestLike[] = [manifest, 'plugin.wasm', new URL('file:///plugin.wasm'), new ArrayBuffer(8), new Uint8Array(8)];
  const plugin: Plugin = await createPlugin(sources[0], options);
  const other: Plugin = await newPlugin(Promise.resolve('plugin.wasm'));
  const sync: Plugin = createPluginSync(new Uint8Array(8), { useWasi: true });
  const out: PluginOutput | null = await plugin.call('count_vowels', 'hello', { ctx: 1 });
  if (out) {
    const parsed: any = out.json();
    const bytes: Uint8Array = out.bytes();
    const u64: bigint = out.getBigUint64(0, true);
    const buffer: ArrayBufferLike = out.arrayBuffer();
    console.log(parsed, bytes, u64, buffer, out.text(), out.byteLength);
  }
  const syncOut: PluginOutput | null = sync.callSync('echo', new Uint8Array(4));
  const exists: boolean = (await plugin.functionExists('x')) && sync.functionExistsSync('x');
  const exports: ModuleExportDescriptor[] = await plugin.getExports();
  const imports: ModuleImportDescriptor[] = await plugin.getImports();
  const reset: boolean = await plugin.reset();
  const active: boolean = plugin.isActive();
  plugin.cancel();
  await plugin.getInstance().catch((e: unknown) => (e as ExtismError).code);
  await Promise.all([plugin.close(), other.close()]);
  console.log(syncOut, exists, exports, imports, reset, active, CAPABILITIES.supportsTimeouts);

  const poolOptions: PoolOptions = { ...options, maxInstances: 2 };
  const pool: Pool = await createPool(sources[0], poolOptions);
  const pooled: PluginOutput | null = await pool.call('count_vowels', 'hello', { ctx: 2 });
  const poolHas: boolean = await pool.functionExists('count_vowels');
  const sizes: number = pool.instances + pool.maxInstances;
  await pool.close();
  console.log(pooled, poolHas, sizes);
}

void main;
