// npm's ioredis Cluster client against a live redirect-mode Shoal cluster,
// with node:test.
//
// The cluster is started (and stopped by PID) by tests/support/cluster_proc.py,
// which passes the client ports in SHOAL_CLUSTER_PORTS:
//
//   python3 tests/support/cluster_proc.py --server build/bin/shoal-server \
//     --cli build/bin/shoal-cli --nodes 3 -- \
//     node --test-reporter=spec tests/cluster/ioredis_cluster.test.mjs
//
// ioredis is the one installed for tests/clients (tests/clients/node_modules).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../clients/package.json', import.meta.url));
const Redis = require('ioredis');

const PORTS = (process.env.SHOAL_CLUSTER_PORTS || '').split(',').filter(Boolean).map(Number);
if (PORTS.length === 0) {
  console.error('SHOAL_CLUSTER_PORTS is not set (run through tests/support/cluster_proc.py)');
  process.exit(2);
}

// CRC16/XMODEM key slot with hash tags (the Redis Cluster algorithm).
function keySlot(key) {
  let k = Buffer.from(key);
  const s = k.indexOf('{');
  if (s >= 0) {
    const e = k.indexOf('}', s + 1);
    if (e > s + 1) k = k.subarray(s + 1, e);
  }
  let crc = 0;
  for (const b of k) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = (crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1) & 0xffff;
  }
  return crc % 16384;
}

let cluster;

before(async () => {
  cluster = new Redis.Cluster(PORTS.map((port) => ({ host: '127.0.0.1', port })), {
    clusterRetryStrategy: (times) => (times > 20 ? null : 200),
    redisOptions: { connectTimeout: 5000, commandTimeout: 15000 },
    slotsRefreshTimeout: 5000,
  });
  await new Promise((resolve, reject) => {
    cluster.once('ready', resolve);
    cluster.once('end', () => reject(new Error('cluster connection ended')));
  });
});

after(async () => {
  if (cluster) await cluster.quit();
});

describe('ioredis Cluster', () => {
  test('knows every slot', () => {
    const slots = cluster.slots;
    for (let s = 0; s < 16384; s++) assert.ok(slots[s] && slots[s].length > 0, `slot ${s}`);
  });

  test('set/get/incr across many slots', async () => {
    const n = 500;
    const keys = Array.from({ length: n }, (_, i) => `io:${i}`);
    assert.ok(new Set(keys.map(keySlot)).size > 400);
    await Promise.all(keys.map((k, i) => cluster.set(k, `v${i}`)));
    const got = await Promise.all(keys.map((k) => cluster.get(k)));
    assert.deepEqual(got, keys.map((_, i) => `v${i}`));
    for (let i = 0; i < 50; i++) {
      assert.equal(await cluster.incr(`io:ctr:${i}`), 1);
      assert.equal(await cluster.incrby(`io:ctr:${i}`, i), 1 + i);
    }
    const ctrs = await Promise.all(Array.from({ length: 50 }, (_, i) => cluster.get(`io:ctr:${i}`)));
    assert.deepEqual(ctrs, Array.from({ length: 50 }, (_, i) => `${1 + i}`));
  });

  test('mset/mget within hash tags; CROSSSLOT across slots', async () => {
    for (let t = 0; t < 30; t++) {
      const kv = {};
      for (const f of 'abcd') kv[`{io-tag${t}}:${f}`] = `${t}${f}`;
      assert.equal(await cluster.mset(kv), 'OK');
      assert.deepEqual(await cluster.mget(Object.keys(kv)), Object.values(kv));
    }
    assert.notEqual(keySlot('io:x'), keySlot('io:y'));
    await assert.rejects(cluster.mset('io:x', '1', 'io:y', '2'),
      { message: "CROSSSLOT Keys in request don't hash to the same slot" });
    await assert.rejects(cluster.mget('io:x', 'io:y'), /^ReplyError: CROSSSLOT|CROSSSLOT/);
  });

  test('delete and expire', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `io:del:${i}`);
    await Promise.all(keys.map((k) => cluster.set(k, 'x')));
    const dels = await Promise.all(keys.slice(0, 100).map((k) => cluster.del(k)));
    assert.deepEqual(dels, Array(100).fill(1));
    const after = await Promise.all(keys.map((k) => cluster.exists(k)));
    assert.deepEqual(after, [...Array(100).fill(0), ...Array(100).fill(1)]);
    for (const k of keys.slice(100, 150)) assert.equal(await cluster.expire(k, 1000), 1);
    for (const k of keys.slice(100, 150)) {
      const ttl = await cluster.ttl(k);
      assert.ok(ttl > 990 && ttl <= 1000, `${k}: ttl ${ttl}`);
    }
    assert.equal(await cluster.set('io:short', 'x', 'PX', 1), 'OK');
    const deadline = Date.now() + 10000;
    while ((await cluster.exists('io:short')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await cluster.get('io:short'), null);
  });

  test('pipelines, one per hash tag', async () => {
    for (let t = 0; t < 20; t++) {
      const p = cluster.pipeline();
      for (let i = 0; i < 30; i++) p.set(`{io-pipe${t}}:${i}`, `${t}-${i}`);
      for (let i = 0; i < 30; i++) p.get(`{io-pipe${t}}:${i}`);
      p.incr(`{io-pipe${t}}:ctr`);
      const res = await p.exec();
      assert.equal(res.length, 61);
      for (const [err] of res) assert.equal(err, null);
      assert.deepEqual(res.slice(30, 60).map(([, v]) => v),
        Array.from({ length: 30 }, (_, i) => `${t}-${i}`));
      assert.equal(res[60][1], 1);
    }
  });

  test('every value reads back through a fresh Cluster connection', async () => {
    const other = new Redis.Cluster([{ host: '127.0.0.1', port: PORTS[PORTS.length - 1] }]);
    try {
      const got = await Promise.all(Array.from({ length: 500 }, (_, i) => other.get(`io:${i}`)));
      assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => `v${i}`));
      // Keyspace-wide commands, once per master (each covers the shards it leads).
      const masters = other.nodes('master');
      assert.ok(masters.length >= 1);
      let total = 0;
      for (const m of masters) total += (await m.keys('io:*')).length;
      assert.ok(total >= 500, `KEYS io:* over masters: ${total}`);
    } finally {
      await other.quit();
    }
  });
});
