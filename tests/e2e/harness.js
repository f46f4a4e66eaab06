// Shared pieces of the browser tests: a real node on a free port with its
// own embedded PostgreSQL in a temp dir, and Debian's headless Chromium
// driven by playwright-core, kept on loopback.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

const BINARY = process.env.GC_BINARY;
const SOURCE = process.env.GC_SOURCE_DIR;
export const SHOTS = path.join(process.env.GC_BUILD_DIR || path.join(SOURCE, 'build'), 'screenshots');

// A loopback port that is free right now, below the ephemeral range (so an
// outgoing connection cannot take it while a node is down: the node keeps
// its ports across restarts, and pages stay on the same origin). Never the
// same port twice in one test process.
const handedOut = new Set();
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (handedOut.has(port)) continue;
    const free = await new Promise((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) { handedOut.add(port); return port; }
  }
  throw new Error('no free port below 32768');
}

// A small block-mapping subset of YAML (what node.yaml uses): nested
// `key:` sections and `key: value` scalars, values kept as written.
function parseYaml(text) {
  const root = {};
  const stack = [{ indent: -1, map: root }];
  for (const raw of text.split('\n')) {
    if (!raw.trim() || raw.trim().startsWith('#')) continue;
    const indent = raw.length - raw.trimStart().length;
    const m = /^([^:#]+):(?:\s+(.*))?$/.exec(raw.trim());
    if (!m) throw new Error(`extraYaml: cannot read line ${JSON.stringify(raw)} (only key: value mappings)`);
    while (stack[stack.length - 1].indent >= indent) stack.pop();
    const parent = stack[stack.length - 1].map;
    const key = m[1].trim();
    if (m[2] !== undefined && m[2] !== '') {
      parent[key] = m[2];
    } else {
      if (typeof parent[key] !== 'object') parent[key] = {};
      stack.push({ indent, map: parent[key] });
    }
  }
  return root;
}

function mergeYaml(into, extra) {
  for (const [k, v] of Object.entries(extra)) {
    if (typeof v === 'object' && typeof into[k] === 'object') mergeYaml(into[k], v);
    else into[k] = v;
  }
  return into;
}

function emitYaml(map, indent = '') {
  return Object.entries(map).map(([k, v]) => (typeof v === 'object'
    ? `${indent}${k}:\n${emitYaml(v, indent + '  ')}` : `${indent}${k}: ${v}\n`)).join('');
}

// Starts a node with its own embedded PostgreSQL in a temp dir. Options:
// name (server name, default acme.test), httpPort and federationPort (fixed
// ports; default: free ones picked here), extraYaml (merged over the
// generated config key by key, e.g. "federation:\n  resolve:\n    beta.test:
// http://127.0.0.1:20001\n"). A string argument is the name.
export async function startNode(options = {}) {
  if (typeof options === 'string') options = { name: options };
  const { name = 'acme.test', extraYaml = '' } = options;
  if (!BINARY || !SOURCE) throw new Error('GC_BINARY and GC_SOURCE_DIR must be set (ctest sets them)');
  const httpPort = options.httpPort || await freePort();
  const federationPort = options.federationPort || await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gc-e2e-'));
  fs.chmodSync(dir, 0o755);
  const config = path.join(dir, 'node.yaml');
  const settings = mergeYaml({
    node: { name, data_dir: `${dir}/data` },
    http: { listen: `127.0.0.1:${httpPort}`, web_dir: `${SOURCE}/web`, admin_dir: `${SOURCE}/admin/web` },
    federation: { listen: `tcp://127.0.0.1:${federationPort}` },
    database: { url: '""' },
    rate_limits: { enabled: 'false' },
    // Password hashes at 1 MiB instead of 64 (the suite's CPU; see
    // tests/harness/node_process.cpp).
    sessions: { password_hash_memory_mib: '1' },
  }, parseYaml(extraYaml));
  fs.writeFileSync(config, emitYaml(settings));
  const logPath = path.join(dir, 'node.log');
  const node = { name, dir, proc: null, port: 0, url: '', federationPort, logPath };
  node.start = async () => {
    const offset = fs.existsSync(logPath) ? fs.statSync(logPath).size : 0;
    const log = fs.openSync(logPath, 'a');
    node.proc = spawn(BINARY, ['serve', '--config', config], { cwd: SOURCE, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 60000;
    node.port = 0;
    while (!node.port) {
      if (Date.now() > deadline || node.proc.exitCode !== null) {
        throw new Error('node did not start:\n' + fs.readFileSync(logPath, 'utf8').slice(-3000));
      }
      await new Promise((r) => setTimeout(r, 50));
      for (const line of fs.readFileSync(logPath, 'utf8').slice(offset).split('\n')) {
        if (line.includes('"msg":"listening"')) node.port = Number(JSON.parse(line).http.split(':').pop());
      }
    }
    node.url = `http://127.0.0.1:${node.port}`;
  };
  node.kill = async (signal = 'SIGTERM') => {
    const p = node.proc;
    if (!p || p.exitCode !== null) return;
    p.kill(signal);
    await new Promise((r) => { const t = setTimeout(() => { p.kill('SIGKILL'); r(); }, 20000); p.on('exit', () => { clearTimeout(t); r(); }); });
  };
  node.stop = async () => {
    await node.kill();
    if (!process.env.GC_KEEP_TEMP) fs.rmSync(dir, { recursive: true, force: true });
  };
  await node.start();
  return node;
}

export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE ::1'],
  });
  const outside = [];
  const newContext = async (opts = {}) => {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 }, ...opts });
    // Everything stays on loopback; the app must load nothing from outside.
    await ctx.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.hostname === '127.0.0.1' || u.hostname === 'localhost') return route.continue();
      outside.push(u.href);
      return route.abort();
    });
    return ctx;
  };
  // Playwright gives every launch a fresh, empty profile of its own.
  const close = async () => { await browser.close(); };
  return { browser, newContext, close, outside };
}

// One node (startNode options) and one browser for all the tests of a file:
// registers before/after hooks that start and stop them, and returns the
// object whose `node` and `chrome` they set.
export function sharedNodeAndBrowser(options) {
  const env = { node: null, chrome: null };
  before(async () => {
    env.node = await startNode(options);
    env.chrome = await launchBrowser();
  });
  after(async () => {
    if (env.chrome) await env.chrome.close();
    if (env.node) await env.node.stop();
  });
  return env;
}

export async function register(page, url, username, password = 'correct horse battery') {
  await page.goto(url + '/');
  await page.click('#tab-register');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#auth-submit');
  await page.waitForSelector('#app:not([hidden])');
}

export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

// Runs `groupchat ARGS --config <the node's config>` (e.g. admin create-user).
export function cli(node, args, input = '') {
  const r = spawnSync(BINARY, [...args, '--config', path.join(node.dir, 'node.yaml')],
    { cwd: SOURCE, input, encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`groupchat ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

// Calls the node's HTTP API directly (test setup and checks).
export async function call(node, method, urlPath, body, token) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(node.url + '/api/v1' + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

// Runs axe-core (WCAG 2 A and AA rules) in the page and returns the
// violations. The page's CSP would refuse an injected script tag, so the
// source is evaluated through the DevTools protocol.
export async function axeViolations(page) {
  const src = fs.readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
  await page.evaluate(src);
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] }));
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
