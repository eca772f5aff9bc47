// npm's ioredis (pinned in package.json) against a live server, with node:test.
//
// Usage: node --test-reporter=spec ioredis.test.mjs <server-binary>
//
// ioredis speaks RESP2 (it never sends HELLO) and runs a ready check (INFO)
// on every connection, so these tests also cover what it needs to connect.
// Each run starts its own server on a free loopback port with its own data
// directory and stops it by PID, also when a test fails.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';

const SERVER_BIN = process.argv[2] || process.env.SHOAL_SERVER_BIN;
if (!SERVER_BIN) {
  console.error('usage: node ioredis.test.mjs <server-binary>');
  process.exit(2);
}
const PASSWORD = 'io-s3cret';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Resolves true once the port accepts a connection and answers PING.
function answersPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', () => done(true));
  });
}

// Starts shoal-server (or redis-server, as a reference) and waits until ready.
async function startServer({ requirepass } = {}) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'shoal-ioredis-'));
  const port = await freePort();
  const isRedis = path.basename(SERVER_BIN).includes('redis-server');
  const args = isRedis
    ? ['--port', `${port}`, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
       '--dir', dataDir, '--loglevel', 'warning']
    : ['--port', `${port}`, '--bind', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn'];
  if (requirepass) args.push('--requirepass', requirepass);
  // Server stdout (Redis's log) is dropped; stderr (crashes, sanitizers) is kept.
  const child = spawn(SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  // If this process exits without stopping the server (a crash), stop it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const server = {
    port,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');  // by PID: this child only
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < 300; i++) {  // at most ~15 s
    if (child.exitCode !== null) break;
    if (await answersPing(port)) return server;
    await sleep(50);
  }
  await server.stop();
  throw new Error(`server ${SERVER_BIN} did not start on port ${port}`);
}

// A client that fails fast instead of retrying forever.
function client(port, opts = {}) {
  return new Redis({
    host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => null,
    connectTimeout: 5000, ...opts,
  });
}

describe('ioredis without a password', () => {
  let server;
  let r;
  before(async () => {
    server = await startServer();
    r = client(server.port);
  });
  after(async () => {
    if (r) r.disconnect();
    if (server) await server.stop();
  });

  test('strings', async () => {
    await r.flushall();
    assert.equal(await r.ping(), 'PONG');
    assert.equal(await r.set('s', 'hello'), 'OK');
    assert.equal(await r.get('s'), 'hello');
    assert.equal(await r.get('missing'), null);
    assert.equal(await r.append('s', '!'), 6);
    assert.equal(await r.strlen('s'), 6);
    assert.equal(await r.incr('n'), 1);
    assert.equal(await r.incrby('n', 41), 42);
    assert.equal(await r.decr('n'), 41);
    assert.equal(await r.incrbyfloat('f', '1.5'), '1.5');
    assert.equal(await r.mset({ a: '1', b: '2' }), 'OK');
    assert.deepEqual(await r.mget('a', 'zz', 'b'), ['1', null, '2']);
    assert.equal(await r.setnx('a', 'x'), 0);
    assert.equal(await r.getset('a', '9'), '1');
    assert.equal(await r.exists('a', 'b', 'zz'), 2);
    assert.equal(await r.del('a', 'b', 'zz'), 2);
    assert.equal(await r.type('s'), 'string');
    assert.equal(await r.echo('echo me'), 'echo me');
  });

  test('expiries', async () => {
    assert.equal(await r.set('e', 'v', 'EX', 100), 'OK');
    const ttl = await r.ttl('e');
    assert.ok(ttl >= 98 && ttl <= 100, `ttl ${ttl}`);
    assert.equal(await r.pexpire('e', 5000), 1);
    const pttl = await r.pttl('e');
    assert.ok(pttl > 4000 && pttl <= 5000, `pttl ${pttl}`);
    assert.equal(await r.persist('e'), 1);
    assert.equal(await r.ttl('e'), -1);
    assert.equal(await r.ttl('missing'), -2);
    assert.equal(await r.set('short', 'v', 'PX', 100), 'OK');
    const deadline = Date.now() + 5000;
    while ((await r.exists('short')) !== 0) {
      assert.ok(Date.now() < deadline, 'PX 100 key did not expire');
      await sleep(50);
    }
  });

  test('pipeline of 1000 commands, with an error in the middle', async () => {
    const p = r.pipeline();
    for (let i = 0; i < 500; i++) p.set(`p:${i}`, `${i}`);
    p.set('word', 'abc');
    p.incr('word');
    for (let i = 0; i < 500; i++) p.incr(`p:${i}`);
    const res = await p.exec();
    assert.equal(res.length, 1002);
    for (let i = 0; i < 500; i++) assert.deepEqual(res[i], [null, 'OK']);
    assert.deepEqual(res[500], [null, 'OK']);
    assert.ok(res[501][0] instanceof Error);
    assert.equal(res[501][0].message, 'ERR value is not an integer or out of range');
    for (let i = 0; i < 500; i++) assert.deepEqual(res[502 + i], [null, i + 1]);
  });

  test('errors are ReplyErrors with Redis texts', async () => {
    await assert.rejects(r.call('GET'), {
      name: 'ReplyError', message: "ERR wrong number of arguments for 'get' command",
    });
    await r.set('word', 'abc');
    await assert.rejects(r.incr('word'), {
      name: 'ReplyError', message: 'ERR value is not an integer or out of range',
    });
    await assert.rejects(r.call('NOSUCHCMD'), /^ReplyError: ERR unknown command 'NOSUCHCMD'/);
    assert.equal(await r.get('word'), 'abc');
  });

  test('scanStream visits every key', async () => {
    await r.flushall();
    const p = r.pipeline();
    for (let i = 0; i < 700; i++) p.set(`scan:${i}`, 'v');
    p.set('not-matching', 'v');
    await p.exec();
    const seen = new Set();
    const stream = r.scanStream({ match: 'scan:*', count: 50 });
    for await (const keys of stream) keys.forEach((k) => seen.add(k));
    assert.equal(seen.size, 700);
    for (let i = 0; i < 700; i++) assert.ok(seen.has(`scan:${i}`));
  });

  test('binary-safe values', async () => {
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    const key = Buffer.from('bin\x00key\r\n', 'binary');
    assert.equal(await r.set(key, all), 'OK');
    assert.deepEqual(await r.getBuffer(key), all);
    const big = Buffer.alloc(1 << 20, 0xab);
    await r.set('big', big);
    assert.deepEqual(await r.getBuffer('big'), big);
    assert.equal(await r.strlen('big'), 1 << 20);
  });

  test('connection name and RESP2 by default', async () => {
    const named = client(server.port, { connectionName: 'io-test' });
    try {
      assert.equal(await named.client('GETNAME'), 'io-test');
      const info = await named.client('INFO');
      assert.match(info, /name=io-test/);
      assert.match(info, /resp=2/);
      assert.equal(await named.client('SETNAME', 'renamed'), 'OK');
      assert.equal(await named.client('GETNAME'), 'renamed');
    } finally {
      named.disconnect();
    }
  });

  test('info parses and quit closes', async () => {
    const info = await r.info();
    assert.match(info, /^# Server/m);
    assert.match(info, /^connected_clients:\d+\r?$/m);
    const c = client(server.port);
    assert.equal(await c.quit(), 'OK');
  });
});

describe('ioredis with --requirepass', () => {
  let server;
  before(async () => { server = await startServer({ requirepass: PASSWORD }); });
  after(async () => { if (server) await server.stop(); });

  test('NOAUTH without a password', async () => {
    // The ready check (INFO) is refused, so skip it to see the command's error.
    const c = client(server.port, { enableReadyCheck: false });
    try {
      await assert.rejects(c.get('k'), { message: 'NOAUTH Authentication required.' });
    } finally {
      c.disconnect();
    }
  });

  test('AUTH with the password', async () => {
    const c = client(server.port, { password: PASSWORD });
    try {
      assert.equal(await c.set('k', 'v'), 'OK');
      assert.equal(await c.get('k'), 'v');
    } finally {
      c.disconnect();
    }
  });

  test('wrong password is refused', async () => {
    const c = client(server.port, { enableReadyCheck: false });
    try {
      await assert.rejects(c.auth('wrong'), {
        message: 'WRONGPASS invalid username-password pair or user is disabled.',
      });
      assert.equal(await c.auth(PASSWORD), 'OK');
      assert.equal(await c.get('k'), 'v');
    } finally {
      c.disconnect();
    }
  });
});
