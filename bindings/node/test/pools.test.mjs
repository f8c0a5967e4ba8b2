// Pools: instances of one source handed to one call at a time, made on demand
// up to maxInstances, waiters served in order, close with calls in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { createPool, Pool } from '@extism-rs/extism';
import { sleep, wat } from './helpers.mjs';

const USER = 'extism:host/user';

/** Host functions that record which inputs arrived and hold each call until `open()`. */
function gated() {
  let open;
  const gate = new Promise((resolve) => (open = resolve));
  const state = { arrived: [], inside: 0, mostInside: 0, open };
  state.functions = {
    [USER]: {
      async hello_world(ctx, addr) {
        const text = ctx.read(addr).text();
        state.arrived.push(text);
        state.inside++;
        state.mostInside = Math.max(state.mostInside, state.inside);
        await gate;
        state.inside--;
        if (text === 'fail') throw new Error('host function failed on purpose');
        return ctx.store(`Hello, ${text}!`);
      },
    },
  };
  return state;
}

/** Wait until `condition()` holds (the calls run on other threads). */
async function until(condition, what) {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(10);
  assert.ok(condition(), what);
}

test('8 concurrent callers on 2 instances: each gets its own result', async () => {
  const g = gated();
  const pool = await createPool(wat('host'), { maxInstances: 2, functions: g.functions });
  assert.equal(pool.maxInstances, 2);
  assert.equal(pool.instances, 1, 'the first instance is made by createPool');
  const calls = Array.from({ length: 8 }, (_, i) => pool.call('call_host', `caller ${i}`));
  await until(() => g.inside === 2, 'two calls run at once');
  assert.equal(pool.instances, 2);
  g.open();
  const outputs = (await Promise.all(calls)).map((o) => o.text());
  assert.deepEqual(outputs, Array.from({ length: 8 }, (_, i) => `Hello, caller ${i}!`));
  assert.equal(g.mostInside, 2, 'never more calls at once than instances');
  assert.equal(pool.instances, 2);
  await pool.close();
});

test('waiters are served in the order they came', async () => {
  const g = gated();
  const pool = await createPool(wat('host'), { maxInstances: 1, functions: g.functions });
  const calls = ['0', '1', '2', '3', '4', '5'].map((n) => pool.call('call_host', n));
  await until(() => g.arrived.length === 1, 'the first call runs');
  g.open();
  await Promise.all(calls);
  assert.deepEqual(g.arrived, ['0', '1', '2', '3', '4', '5']);
  await pool.close();
});

test('a failed call leaves its instance usable', async () => {
  const g = gated();
  g.open();
  const pool = await createPool(wat('host'), { maxInstances: 1, functions: g.functions });
  await assert.rejects(pool.call('call_host', 'fail'), /host function failed on purpose/);
  assert.equal((await pool.call('call_host', 'again')).text(), 'Hello, again!');
  assert.equal(await pool.functionExists('call_host'), true);
  assert.equal(await pool.functionExists('missing'), false);
  await pool.close();
});

test('close lets running calls finish and refuses waiting and new ones', async () => {
  const g = gated();
  const pool = await createPool(wat('host'), { maxInstances: 1, functions: g.functions });
  const running = pool.call('call_host', 'running');
  await until(() => g.inside === 1, 'the first call runs');
  const waiting = pool.call('call_host', 'waiting');
  let closed = false;
  const closing = pool.close().then(() => (closed = true));
  await assert.rejects(waiting, { message: 'pool is closed' });
  await assert.rejects(pool.call('call_host', 'late'), { message: 'pool is closed' });
  await sleep(20);
  assert.equal(closed, false, 'close waits for the running call');
  g.open();
  assert.equal((await running).text(), 'Hello, running!');
  await closing;
  assert.equal(closed, true);
  assert.deepEqual(g.arrived, ['running']);
  await assert.rejects(pool.functionExists('call_host'), { message: 'pool is closed' });
  await pool.close(); // twice is fine
});

test('bad options and sources', async () => {
  for (const bad of [0, -1, 1.5, '2', Number.NaN]) {
    await assert.rejects(createPool(wat('host'), { maxInstances: bad }), {
      name: 'TypeError',
      message: `maxInstances must be a whole number of at least 1, not ${String(bad)}`,
    });
  }
  await assert.rejects(createPool(new TextEncoder().encode('not wasm')));
  assert.throws(() => new Pool(), TypeError);
  const pool = await createPool(wat('echo'));
  const parallelism = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  assert.equal(pool.maxInstances, parallelism);
  assert.equal((await pool.call('echo', 'plain')).text(), 'plain');
  await pool.close();
});
