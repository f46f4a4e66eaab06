// Web Push benchmark driver (run by bench/webpush_bench.sh against a fresh
// node): USERS members of one group, each with a browser subscription at the
// local push service of the tests (tests/push/push_receiver.js, in this
// process: it decrypts every push and checks its VAPID token, as in the
// tests). One sender posts MESSAGES messages, one at a time, each after the
// previous one reached every subscription. Prints the time from the start of
// the send request to each push's arrival (p50/p90/p99/max), the time until
// a message reached all subscriptions, and pushes per second.
//
//   node bench/webpush_bench.js --url http://127.0.0.1:PORT [--users 1000] [--messages 20]
'use strict';
const http = require('http');
const { performance } = require('perf_hooks');
const { startReceiver } = require('../tests/push/push_receiver');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : def;
}
const base = new URL(arg('url'));
const USERS = Number(arg('users', 1000));
const MESSAGES = Number(arg('messages', 20));
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function call(method, path, body, token, port = base.port) {
  return new Promise((resolve, reject) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode >= 300) return reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        resolve(text ? JSON.parse(text) : null);
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

// Runs `task(i)` for i in [0, n) with `width` at a time.
async function pool(n, width, task) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await task(next++);
  }));
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function main() {
  const sentAt = new Map();    // event_id -> performance.now() at the send's start
  const arrivals = new Map();  // event_id -> [performance.now() of each push]
  let refused = 0;
  let waiting = null;  // {event_id, resolve}: the message being measured
  const check = () => {
    if (waiting && (arrivals.get(waiting.event_id) || []).length >= USERS) waiting.resolve();
  };
  const { server, port } = await startReceiver({
    onPush: (id, push) => {
      if (!push.ok) return refused++;
      const e = JSON.parse(push.payload);
      if (!arrivals.has(e.event_id)) arrivals.set(e.event_id, []);
      arrivals.get(e.event_id).push(performance.now());
      check();
    },
  });
  const t = Date.now().toString(36);
  const sender = await call('POST', '/api/v1/auth/register', { username: `s${t}`, password: 'benchmark-password' });
  const group = (await call('POST', '/api/v1/groups', { name: `push${t}`, visibility: 'public', join_rule: 'open' },
                            sender.access_token)).group_id;
  const gpath = '/api/v1/groups/' + encodeURIComponent(group);
  const setup0 = performance.now();
  await pool(USERS, 4, async (i) => {
    const u = await call('POST', '/api/v1/auth/register', { username: `u${t}n${i}`, password: 'benchmark-password' });
    await call('POST', gpath + '/join', {}, u.access_token);
    const sub = await call('POST', '/subscriptions', {}, undefined, port);
    await call('POST', '/api/v1/me/pushers', { kind: 'webpush', endpoint: sub.endpoint, keys: sub.keys },
               u.access_token);
  });
  console.log(`# setup: ${USERS} users joined and subscribed in ${((performance.now() - setup0) / 1000).toFixed(1)} s`);

  const fanout = [];
  const run0 = performance.now();
  for (let m = 0; m < MESSAGES; m++) {
    const t0 = performance.now();
    let resolve;
    const done = new Promise((r) => { resolve = r; });
    const timeout = new Promise((r) => setTimeout(r, 120000, 'timeout'));
    // The event id is known only from the answer; pushes that beat it are
    // kept by event id and counted once it is known.
    const sent = await call('POST', gpath + '/messages', { body: `push bench ${m}` }, sender.access_token);
    sentAt.set(sent.event_id, t0);
    waiting = { event_id: sent.event_id, resolve };
    check();
    if ((await Promise.race([done, timeout])) === 'timeout') {
      console.log(`message ${m}: ${(arrivals.get(sent.event_id) || []).length} of ${USERS} pushes within 120 s; stopping`);
      break;
    }
    fanout.push(performance.now() - t0);
  }
  const elapsed = (performance.now() - run0) / 1000;
  const latencies = [];
  for (const [event_id, t0] of sentAt) for (const at of arrivals.get(event_id) || []) latencies.push(at - t0);
  latencies.sort((a, b) => a - b);
  fanout.sort((a, b) => a - b);
  const f = (x) => x.toFixed(1).padStart(8);
  console.log(`send -> push received (${latencies.length} pushes, ${USERS} subscriptions, ${fanout.length} messages):` +
              ` p50 ${f(pct(latencies, 0.5))} ms  p90 ${f(pct(latencies, 0.9))} ms  p99 ${f(pct(latencies, 0.99))} ms` +
              `  max ${f(latencies[latencies.length - 1])} ms`);
  console.log(`send -> last of ${USERS} pushes:    p50 ${f(pct(fanout, 0.5))} ms  max ${f(fanout[fanout.length - 1])} ms`);
  console.log(`throughput: ${(latencies.length / elapsed).toFixed(0)} pushes/s decrypted and verified; refused ${refused}`);
  server.close();
  agent.destroy();
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
