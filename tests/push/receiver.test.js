// Proves the test push service (push_receiver.js) with a second, independent
// sender: the npm web-push package. What web-push sends (aes128gcm, VAPID)
// must be accepted and decrypted; pushes that a real push service or browser
// would refuse (a forged or expired token, a wrong audience or subject, a
// tampered body, a missing TTL, a long Topic) must be refused. Without this,
// a receiver that accepted anything would make the node's tests pass
// vacuously. Run by ctest as push.receiver (node --test tests/push/).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('http');
const webpush = require('web-push');
const { startReceiver } = require('./push_receiver');

const SUBJECT = 'mailto:ops@acme.test';

function request(port, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : null });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(Buffer.isBuffer(body) ? body : JSON.stringify(body));
    req.end();
  });
}

// Sends what web-push builds for `sub`, with `change` applied to the request first.
async function sendWithWebPush(port, sub, payload, options, change = (r) => r) {
  const details = change(webpush.generateRequestDetails(sub, payload, options));
  const url = new URL(details.endpoint);
  return request(port, details.method, url.pathname, details.body, details.headers);
}

test('the receiver accepts what web-push sends and refuses what a push service would', async (t) => {
  const { server, port, origin } = await startReceiver({ subject: SUBJECT });
  t.after(() => server.close());
  const vapid = webpush.generateVAPIDKeys();
  const other = webpush.generateVAPIDKeys();
  const options = { vapidDetails: { subject: SUBJECT, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
                    TTL: 60, urgency: 'high', topic: 'eng', contentEncoding: 'aes128gcm' };
  const sub = (await request(port, 'POST', '/subscriptions', { script: [{ status: 429, retry_after: 3 }] })).json;
  assert.match(sub.endpoint, new RegExp('^' + origin + '/push/'));

  const entry = JSON.stringify({ notification_id: 7, kind: 'mention', body_preview: 'héllo' });
  // Accepted and decrypted; the scripted 429 first, then 201.
  let r = await sendWithWebPush(port, sub, entry, options);
  assert.equal(r.status, 429);
  assert.equal(r.headers['retry-after'], '3');
  r = await sendWithWebPush(port, sub, entry, options);
  assert.equal(r.status, 201);

  const refused = [
    ['a token signed by another key', (d) => {
      d.headers.Authorization = d.headers.Authorization.replace(/k=.*$/, 'k=' + other.publicKey);
      return d;
    }],
    ['an expired token', (d) => {
      const h = webpush.getVapidHeaders(origin, SUBJECT, vapid.publicKey, vapid.privateKey, 'aes128gcm',
                                        Math.floor(Date.now() / 1000) - 60);
      d.headers.Authorization = h.Authorization;
      return d;
    }],
    ['a token for another audience', (d) => {
      const h = webpush.getVapidHeaders('https://push.example.net', SUBJECT, vapid.publicKey, vapid.privateKey,
                                        'aes128gcm');
      d.headers.Authorization = h.Authorization;
      return d;
    }],
    ['another subject', (d) => {
      const h = webpush.getVapidHeaders(origin, 'mailto:someone@else.test', vapid.publicKey, vapid.privateKey,
                                        'aes128gcm');
      d.headers.Authorization = h.Authorization;
      return d;
    }],
    ['a tampered body', (d) => {
      d.body = Buffer.from(d.body);
      d.body[d.body.length - 1] ^= 1;
      return d;
    }],
    ['no TTL', (d) => {
      delete d.headers.TTL;
      return d;
    }],
    ['a Topic over 32 characters', (d) => {
      d.headers.Topic = 'x'.repeat(33);
      return d;
    }],
    ['no Authorization', (d) => {
      delete d.headers.Authorization;
      return d;
    }],
  ];
  for (const [what, change] of refused) {
    r = await sendWithWebPush(port, sub, entry, options, change);
    assert.equal(r.status, 400, what + ' was accepted');
  }
  // A subscription's keys decrypt only its own pushes.
  const sub2 = (await request(port, 'POST', '/subscriptions')).json;
  r = await sendWithWebPush(port, { ...sub2, keys: sub.keys }, entry, options);
  assert.equal(r.status, 400);
  assert.equal(r.json.reason.startsWith('does not decrypt'), true, r.json.reason);

  const got = (await request(port, 'GET', `/subscriptions/${sub.id}/pushes?count=10&timeout_ms=1000`)).json.pushes;
  assert.equal(got.length, 2 + refused.length);
  for (const p of got.slice(0, 2)) {
    assert.equal(p.ok, true, p.reason);
    assert.equal(p.payload, entry);
    assert.deepEqual(p.headers, { ttl: '60', urgency: 'high', topic: 'eng' });
    assert.equal(p.jwt.aud, origin);
    assert.equal(p.jwt.sub, SUBJECT);
    assert.equal(p.jwt.k, vapid.publicKey);
  }
  assert.deepEqual(got.slice(2).map((p) => p.ok), refused.map(() => false));
  // Unknown subscriptions are 404, as a push service answers for an expired one.
  r = await request(port, 'POST', '/push/nope', Buffer.from('x'));
  assert.equal(r.status, 404);
});
