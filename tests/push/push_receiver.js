// A local Web Push service for the node's tests: it plays the browser's push
// service and the browser itself, and checks every push as they would, with
// code independent of the node's: npm http_ece decrypts the aes128gcm body
// (RFC 8188/8291) with the subscription's private key, and node's crypto
// verifies the VAPID token (RFC 8292: ES256 over the JWT with the key in
// `k`, aud = the endpoint's origin, exp in the future and at most 24 h
// ahead, sub the expected contact). RFC 8030 headers are checked too: TTL
// (required), Urgency, Topic (at most 32 base64url characters).
//
// A push that fails a check is answered 400 {"reason"} and recorded with
// ok: false; one that passes is answered with the subscription's next
// scripted status (201 once the script is empty) and recorded with its
// decrypted payload.
//
//   node push_receiver.js [--subject mailto:ops@acme.test]
//                         [--tls NAME:CERT_FILE:KEY_FILE ...]
//
// Listens on 127.0.0.1 port 0 and prints {"port":P, "tls":{NAME:PORT}} as
// its first stdout line; exits when its stdin closes (the test process died).
// Each --tls adds a listener for the push endpoints over https, also on
// 127.0.0.1, presenting that certificate (a push service as browsers use
// them; the test decides which CA the node trusts). Control API (plain
// http on P):
//   POST /subscriptions {script?: [{status, retry_after?}], tls?: NAME, host?: "localhost"}
//        -> {id, endpoint, keys: {p256dh, auth}} (a fresh P-256 key and secret;
//           the endpoint is https://HOST:PORT/push/ID on listener NAME when
//           tls is given, HOST defaulting to 127.0.0.1)
//   POST /subscriptions/ID/script [{status, retry_after?}]   appends answers
//   GET  /subscriptions/ID/pushes?count=N&timeout_ms=T
//        -> {pushes: [...]} once N pushes arrived or T ms passed
//   POST /push/ID   the push endpoint (a subscription's `endpoint`)
// tests/push/receiver.test.js proves the checks with the npm web-push
// package as an independent sender, and shows forged pushes refused.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const ece = require('http_ece');

const b64u = (buf) => Buffer.from(buf).toString('base64url');

// The checks of one push; returns {reason} or {payload, jwt}.
function checkPush(req, body, sub, origin, subject) {
  const h = req.headers;
  if (h['content-encoding'] !== 'aes128gcm') return { reason: 'Content-Encoding must be aes128gcm' };
  if (!/^\d+$/.test(h['ttl'] || '')) return { reason: 'TTL header missing or not a number' };
  if (h['urgency'] !== undefined && !['very-low', 'low', 'normal', 'high'].includes(h['urgency'])) {
    return { reason: 'bad Urgency ' + h['urgency'] };
  }
  if (h['topic'] !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(h['topic'])) return { reason: 'bad Topic' };
  const m = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), ?k=([A-Za-z0-9_-]+)$/.exec(h['authorization'] || '');
  if (!m) return { reason: 'Authorization is not "vapid t=JWT, k=KEY"' };
  const [jwt, k] = [m[1], m[2]];
  const point = Buffer.from(k, 'base64url');
  if (point.length !== 65 || point[0] !== 4) return { reason: 'k is not an uncompressed P-256 point' };
  let key;
  try {
    key = crypto.createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64u(point.subarray(1, 33)), y: b64u(point.subarray(33)) }, format: 'jwk' });
  } catch (e) {
    return { reason: 'k is not on P-256' };
  }
  const [head, claims, sig] = jwt.split('.');
  let header, c;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url'));
    c = JSON.parse(Buffer.from(claims, 'base64url'));
  } catch (e) {
    return { reason: 'JWT parts are not JSON' };
  }
  if (header.alg !== 'ES256' || (header.typ !== undefined && header.typ !== 'JWT')) return { reason: 'JWT is not ES256' };
  const signature = Buffer.from(sig, 'base64url');
  if (signature.length !== 64 ||
      !crypto.verify('sha256', Buffer.from(head + '.' + claims), { key, dsaEncoding: 'ieee-p1363' }, signature)) {
    return { reason: 'VAPID signature does not verify with k' };
  }
  const now = Math.floor(Date.now() / 1000);
  if (c.aud !== origin) return { reason: `aud ${c.aud} is not the endpoint's origin ${origin}` };
  if (!Number.isInteger(c.exp) || c.exp <= now) return { reason: 'exp is missing or past' };
  if (c.exp > now + 86400) return { reason: 'exp is more than 24 h ahead' };
  if (typeof c.sub !== 'string' || !/^(mailto:|https:\/\/)./.test(c.sub)) return { reason: 'sub is not mailto: or https:' };
  if (subject && c.sub !== subject) return { reason: `sub ${c.sub} is not ${subject}` };
  if (body.length > 4096) return { reason: 'body over 4096 bytes' };
  let plaintext;
  try {
    plaintext = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth });
  } catch (e) {
    return { reason: 'does not decrypt: ' + e.message };
  }
  return { payload: plaintext.toString('utf8'), jwt: { aud: c.aud, exp: c.exp, sub: c.sub, k } };
}

// Starts the service; resolves to {server, port, origin, tlsPorts}.
// `onPush(id, push)` (optional) sees every push as it is recorded
// (bench/webpush_bench.js); `tls` (optional) is [{name, cert, key}] (PEM
// file names), one https listener each.
function startReceiver({ subject, onPush, tls = [] } = {}) {
  const subs = new Map();  // id -> {ecdh, auth, origin, script: [], pushes: [], waiters: []}
  const tlsPorts = {};     // listener name -> port
  let origin = '';

  function json(res, status, body, extra = {}) {
    res.writeHead(status, { 'Content-Type': 'application/json', ...extra });
    res.end(JSON.stringify(body));
  }
  function record(id, sub, push) {
    if (onPush) onPush(id, push);
    sub.pushes.push(push);
    for (const w of sub.waiters.splice(0)) w();
  }

  const handle = (req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= 65536) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url, origin);
      const parts = url.pathname.split('/').filter(Boolean);
      if (req.method === 'POST' && url.pathname === '/subscriptions') {
        const ecdh = crypto.createECDH('prime256v1');
        ecdh.generateKeys();
        const id = crypto.randomBytes(12).toString('base64url');
        const opts = body.length ? JSON.parse(body) : {};
        if (opts.tls !== undefined && !(opts.tls in tlsPorts)) return json(res, 400, { reason: 'no such tls listener' });
        const subOrigin = opts.tls === undefined ? origin : `https://${opts.host || '127.0.0.1'}:${tlsPorts[opts.tls]}`;
        const sub = { ecdh, auth: crypto.randomBytes(16), origin: subOrigin, script: opts.script || [], pushes: [],
                      waiters: [] };
        subs.set(id, sub);
        return json(res, 201, { id, endpoint: `${subOrigin}/push/${id}`,
                                keys: { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(sub.auth) } });
      }
      const sub = subs.get(parts[1]);
      if (parts[0] === 'subscriptions' && sub && parts[2] === 'script' && req.method === 'POST') {
        sub.script.push(...JSON.parse(body));
        return json(res, 200, { script: sub.script.length });
      }
      if (parts[0] === 'subscriptions' && sub && parts[2] === 'pushes' && req.method === 'GET') {
        const count = Number(url.searchParams.get('count') || 1);
        const timeout = Math.min(Number(url.searchParams.get('timeout_ms') || 10000), 60000);
        const answer = () => json(res, 200, { pushes: sub.pushes });
        if (sub.pushes.length >= count) return answer();
        const timer = setTimeout(answer, timeout);
        const wait = () => {
          if (sub.pushes.length >= count) {
            clearTimeout(timer);
            answer();
          } else {
            sub.waiters.push(wait);
          }
        };
        return sub.waiters.push(wait);
      }
      if (parts[0] === 'push' && req.method === 'POST') {
        if (!sub) return json(res, 404, { reason: 'no such subscription' });
        const at_ms = Date.now();
        const verdict = checkPush(req, body, sub, sub.origin, subject);
        const headers = { ttl: req.headers['ttl'], urgency: req.headers['urgency'], topic: req.headers['topic'] };
        if (verdict.reason) {
          console.error(JSON.stringify({ refused: parts[1], reason: verdict.reason }));
          record(parts[1], sub, { ok: false, reason: verdict.reason, status: 400, at_ms, headers });
          return json(res, 400, { reason: verdict.reason });
        }
        const next = sub.script.shift() || { status: 201 };
        record(parts[1], sub, { ok: true, status: next.status, payload: verdict.payload, jwt: verdict.jwt, at_ms, headers });
        const extra = next.retry_after ? { 'Retry-After': String(next.retry_after) } : {};
        if (next.status === 201) extra.Location = `${origin}/message/${crypto.randomBytes(8).toString('hex')}`;
        return json(res, next.status, {}, extra);
      }
      json(res, 404, { reason: 'unknown route' });
    });
  };
  const listen = (srv) => new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv.address().port)));
  const server = http.createServer(handle);
  return (async () => {
    const port = await listen(server);
    origin = `http://127.0.0.1:${port}`;
    for (const t of tls) {
      const srv = https.createServer({ cert: fs.readFileSync(t.cert), key: fs.readFileSync(t.key) }, handle);
      tlsPorts[t.name] = await listen(srv);
    }
    return { server, port, origin, tlsPorts };
  })();
}

module.exports = { startReceiver };

if (require.main === module) {
  const i = process.argv.indexOf('--subject');
  const tls = [];
  process.argv.forEach((a, k) => {
    if (a !== '--tls') return;
    const [name, cert, key] = process.argv[k + 1].split(':');
    tls.push({ name, cert, key });
  });
  startReceiver({ subject: i > 0 ? process.argv[i + 1] : undefined, tls }).then(({ port, tlsPorts }) => {
    process.stdout.write(JSON.stringify({ port, tls: tlsPorts }) + '\n');
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('close', () => process.exit(0));
    process.stdin.resume();
  });
}
