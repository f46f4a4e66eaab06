// The web client in a real browser against a real node: two users chat live,
// hostile message bodies render as text, a dropped connection resumes
// without losing or doubling messages, and the page works at 375 px.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, launchBrowser, register, shot, axeViolations } from './harness.js';

let node;
let chrome;

before(async () => {
  node = await startNode();
  chrome = await launchBrowser();
});

after(async () => {
  if (chrome) await chrome.close();
  if (node) await node.stop();
});

const messages = (page) => page.$$eval('#timeline .msg .body', (els) => els.map((e) => e.textContent));

async function waitForMessage(page, text, timeout = 10000) {
  await page.waitForFunction((t) => [...document.querySelectorAll('#timeline .msg .body')].some((e) => e.textContent === t),
    text, { timeout });
}

test('the sign-in page passes an accessibility audit', async () => {
  const ctx = await chrome.newContext();
  const page = await ctx.newPage();
  await page.goto(node.url + '/');
  await page.waitForSelector('#auth:not([hidden])');
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, 'web-sign-in');
  await ctx.close();
});

test('serves the client with a strict CSP and no outside resources', async () => {
  const res = await fetch(node.url + '/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'/);
  assert.ok(!/unsafe-inline/.test(csp));
  const etag = res.headers.get('etag');
  const again = await fetch(node.url + '/', { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.match((await fetch(node.url + '/app.js')).headers.get('content-type'), /javascript/);
  assert.equal((await fetch(node.url + '/../CMakeLists.txt')).status, 404);
});

test('two users chat live; hostile bodies are text; reconnect resumes without loss', async () => {
  const ctxA = await chrome.newContext();
  const ctxB = await chrome.newContext();
  const alice = await ctxA.newPage();
  const bob = await ctxB.newPage();
  const errors = [];
  for (const p of [alice, bob]) p.on('pageerror', (e) => errors.push(e.message));

  await register(alice, node.url, 'alice');
  await shot(alice, 'web-empty');
  // Alice creates a group through the dialog.
  await alice.click('#new-group');
  await alice.fill('#ng-name', 'e2e');
  await alice.fill('#ng-title', 'End to end');
  await alice.click('#dialog-ok');
  await alice.waitForSelector('#room-title:has-text("End to end")');

  // Bob joins by typing its address.
  await register(bob, node.url, 'bob');
  await bob.fill('#join-address', '#e2e:acme.test');
  await bob.click('#join-form button');
  await bob.waitForSelector('#room-title:has-text("End to end")');

  // Live both ways, sent with Enter.
  await alice.fill('#message', 'hello bob');
  await alice.press('#message', 'Enter');
  await waitForMessage(bob, 'hello bob');
  await bob.fill('#message', 'hi alice');
  await bob.press('#message', 'Shift+Enter');
  await bob.type('#message', 'second line');
  await bob.press('#message', 'Enter');
  await waitForMessage(alice, 'hi alice\nsecond line');

  // Mentions are completed from the members and highlighted for the person named.
  await alice.type('#message', 'ping @bo');
  await alice.waitForSelector('#mentions li:has-text("@bob:acme.test")');
  await alice.press('#message', 'Tab');
  assert.equal(await alice.inputValue('#message'), 'ping @bob:acme.test ');
  await alice.type('#message', 'please look');
  await alice.press('#message', 'Enter');
  await waitForMessage(bob, 'ping @bob:acme.test please look');
  assert.equal(await bob.$$eval('#timeline .msg.mentioned', (els) => els.length), 1);
  assert.equal(await bob.$$eval('#timeline .mention-chip', (els) => els.map((e) => e.textContent)).then((t) => t.includes('@bob:acme.test')), true);

  // Hostile bodies are shown as text and never run.
  const evil = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> <b>bold?</b>';
  await alice.fill('#message', evil);
  await alice.press('#message', 'Enter');
  await waitForMessage(bob, evil);
  assert.equal(await bob.evaluate(() => window.__xss), undefined);
  assert.equal(await bob.$$eval('#timeline img, #timeline script, #timeline b', (els) => els.length), 0);
  // Links become anchors, safely.
  await alice.fill('#message', 'see http://127.0.0.1/docs and javascript:alert(1)');
  await alice.press('#message', 'Enter');
  await waitForMessage(bob, 'see http://127.0.0.1/docs and javascript:alert(1)');
  const hrefs = await bob.$$eval('#timeline a', (as) => as.map((a) => a.getAttribute('href')));
  assert.deepEqual(hrefs, ['http://127.0.0.1/docs']);
  await shot(bob, 'web-chat');
  // No WCAG 2 A/AA violations in the chat view (axe-core).
  assert.deepEqual(await axeViolations(bob), []);

  // The node goes away: both pages say so. What Bob types meanwhile is kept
  // and sent once when the node is back; what Alice sends after the restart
  // reaches Bob through the resumed stream, once.
  await node.kill('SIGKILL');
  await bob.waitForSelector('#status:not([hidden])', { timeout: 15000 });
  assert.match(await bob.textContent('#status'), /reconnecting/);
  await bob.fill('#message', 'typed offline');
  await bob.press('#message', 'Enter');
  await shot(bob, 'web-offline');
  await node.start();
  await alice.waitForSelector('#status', { state: 'hidden', timeout: 30000 });
  await alice.fill('#message', 'while you were away');
  await alice.press('#message', 'Enter');
  await waitForMessage(bob, 'while you were away', 30000);
  await waitForMessage(alice, 'typed offline', 30000);
  await bob.waitForSelector('#status', { state: 'hidden', timeout: 15000 });
  const bobSees = await messages(bob);
  assert.equal(bobSees.filter((m) => m === 'while you were away').length, 1);
  assert.equal(bobSees.filter((m) => m === 'typed offline').length, 1);
  const aliceSees = await messages(alice);
  assert.equal(aliceSees.filter((m) => m === 'typed offline').length, 1);

  // At phone width the page still works.
  await bob.setViewportSize({ width: 375, height: 740 });
  await bob.fill('#message', 'from a phone');
  await bob.press('#message', 'Enter');
  await waitForMessage(alice, 'from a phone');
  await shot(bob, 'web-375px');

  assert.deepEqual(errors, []);
  assert.deepEqual(chrome.outside, [], 'the app must load nothing from outside');
  await ctxA.close();
  await ctxB.close();
});
