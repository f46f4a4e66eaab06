// A real S3 implementation for the media store's tests: s3rver (which
// accepts any credentials) behind a proxy that checks every request's
// SigV4 signature with the aws4 package and its payload hash, and refuses a
// mismatch as S3 would (403 SignatureDoesNotMatch, 400
// XAmzContentSHA256Mismatch). Started by tests/integration/media_s3_test.cpp:
//
//   node s3_peer.js --dir DIR --bucket media --key ID --secret SECRET
//
// Both listen on 127.0.0.1 port 0; the first stdout line is
// {"proxy_port":P,"s3_port":Q}. Every checked request is logged to stderr.
'use strict';
const http = require('http');
const crypto = require('crypto');
const aws4 = require('aws4');
const S3rver = require('s3rver');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : def;
}
const dir = arg('dir');
const bucket = arg('bucket', 'media');
const accessKeyId = arg('key', 'gc-test-key');
const secretAccessKey = arg('secret', 'gc-test-secret');
const region = arg('region', 'us-east-1');

function s3Error(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

// Recomputes the signature of `req` from the headers it says it signed.
function checkSignature(req) {
  const auth = req.headers['authorization'] || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'malformed or missing Authorization header';
  if (m[1] !== accessKeyId) return 'unknown access key ' + m[1];
  if (m[3] !== region) return 'wrong region ' + m[3];
  const headers = {};
  for (const h of m[4].split(';')) {
    if (req.headers[h] === undefined) return 'signed header ' + h + ' is missing';
    headers[h] = req.headers[h];
  }
  if (!headers['x-amz-date'] || !headers['x-amz-date'].startsWith(m[2])) return 'x-amz-date does not match the scope';
  if (!headers['host'] || headers['x-amz-content-sha256'] === undefined) return 'host and x-amz-content-sha256 must be signed';
  const signed = aws4.sign({ service: 's3', region, method: req.method, path: req.url, headers: { ...headers } },
                           { accessKeyId, secretAccessKey });
  return signed.headers.Authorization === auth ? null : 'signature mismatch';
}

async function main() {
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true,
                          configureBuckets: [{ name: bucket }] });
  const { port: s3Port } = await s3.run();

  const proxy = http.createServer((req, res) => {
    const why = checkSignature(req);
    if (why) {
      console.error(JSON.stringify({ refused: req.method + ' ' + req.url, why }));
      req.resume();
      return s3Error(res, 403, 'SignatureDoesNotMatch', why);
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const claimed = req.headers['x-amz-content-sha256'];
      if (claimed !== 'UNSIGNED-PAYLOAD' && crypto.createHash('sha256').update(body).digest('hex') !== claimed) {
        console.error(JSON.stringify({ refused: req.method + ' ' + req.url, why: 'payload hash mismatch' }));
        return s3Error(res, 400, 'XAmzContentSHA256Mismatch', 'the body does not match x-amz-content-sha256');
      }
      console.error(JSON.stringify({ ok: req.method + ' ' + req.headers.host + req.url, bytes: body.length }));
      // A virtual-host style request (Host: BUCKET.localhost:PORT) was
      // signed as such above; s3rver gets it path style.
      const vhost = (req.headers.host || '').startsWith(bucket + '.');
      const path = vhost ? '/' + bucket + req.url : req.url;
      // s3rver checks signatures with its own fixed key pair: re-sign for it.
      const headers = { 'content-length': String(body.length), 'x-amz-content-sha256': claimed };
      if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
      const out = aws4.sign({ service: 's3', region, method: req.method, path, host: '127.0.0.1', port: s3Port,
                              headers }, { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
      const up = http.request({ host: '127.0.0.1', port: s3Port, method: req.method, path,
                                headers: out.headers }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on('error', (e) => s3Error(res, 502, 'BadGateway', e.message));
      up.end(body);
    });
  });
  proxy.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ proxy_port: proxy.address().port, s3_port: s3Port }) + '\n');
  });
  const stop = () => { proxy.close(); s3.close().finally(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The test process is our parent: when it goes, so do we.
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((e) => { console.error(e); process.exit(1); });
