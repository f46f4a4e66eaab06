// The web client in a real browser against a real node: two users chat live,
// hostile message bodies render as text, a dropped connection resumes
// without losing or doubling messages, and the page works at 375 px. Then
// two federated nodes: a user of one joins a group of the other by its
// address, both chat live, a remote user is invited, and a message sent
// while the group's home node is down shows as pending until it is delivered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startNode, launchBrowser, register, shot, axeViolations, call, freePort } from './harness.js';

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

test('a user on a second node joins a group of the first and both chat live', async () => {
  // Two nodes, each with its own database, on fixed ports and resolving each
  // other's name through federation.resolve.
  const ports = { acme: await freePort(), beta: await freePort() };
  const options = (name, other) => ({
    name: `${name}.test`, httpPort: ports[name],
    extraYaml: `federation:\n  resolve:\n    ${other}.test: http://127.0.0.1:${ports[other]}\n`,
  });
  const started = await Promise.allSettled([startNode(options('acme', 'beta')), startNode(options('beta', 'acme'))]);
  const [acme, beta] = started.map((s) => (s.status === 'fulfilled' ? s.value : null));
  const contexts = [];
  const errors = [];
  try {
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const page = async () => {
      const ctx = await chrome.newContext();
      contexts.push(ctx);
      const p = await ctx.newPage();
      p.on('pageerror', (e) => errors.push(e.message));
      return p;
    };
    const alice = await page();
    const bob = await page();

    await register(alice, acme.url, 'alice');
    await register(bob, beta.url, 'bob');
    assert.match(await alice.textContent('#me'), /@alice:acme\.test/);
    assert.match(await bob.textContent('#me'), /@bob:beta\.test/);
    // Everything below happens live: neither page is reloaded.
    for (const p of [alice, bob]) await p.evaluate(() => { window.__sameDocument = true; });

    // Alice creates a public group on acme.
    await alice.click('#new-group');
    await alice.fill('#ng-name', 'federation');
    await alice.fill('#ng-title', 'Across nodes');
    assert.equal(await alice.inputValue('#ng-vis'), 'public');
    await alice.click('#dialog-ok');
    await alice.waitForSelector('#room-title:has-text("Across nodes")');
    await alice.fill('#message', 'before bob came');
    await alice.press('#message', 'Enter');
    await waitForMessage(alice, 'before bob came');

    // Bob, on beta, joins it by typing its address; recent history comes along.
    await bob.fill('#join-address', '#federation:acme.test');
    await bob.click('#join-form button');
    await bob.waitForSelector('#room-title:has-text("Across nodes")', { timeout: 30000 });
    assert.equal(await bob.textContent('#room-topic'), '#federation:acme.test');
    await waitForMessage(bob, 'before bob came');

    // Live both ways across the nodes.
    await alice.fill('#message', 'hello from acme');
    await alice.press('#message', 'Enter');
    await waitForMessage(bob, 'hello from acme', 15000);
    await bob.fill('#message', 'hello from beta');
    await bob.press('#message', 'Enter');
    await waitForMessage(alice, 'hello from beta', 15000);
    // Alice sees Bob arrive; each message once on both sides.
    await alice.waitForSelector('#timeline .notice:has-text("@bob:beta.test joined")');
    for (const p of [alice, bob]) {
      const seen = await messages(p);
      for (const m of ['before bob came', 'hello from acme', 'hello from beta']) assert.equal(seen.filter((x) => x === m).length, 1, m);
    }
    await shot(bob, 'federated-chat');

    // The member list shows both users, on either node.
    for (const p of [bob, alice]) {
      await p.click('#members');
      await p.waitForSelector('#dialog[open] #dialog-body li');
      const listed = await p.$$eval('#dialog-body li', (lis) => lis.map((li) => li.textContent));
      assert.equal(listed.length, 2, listed.join('; '));
      assert.ok(listed.some((t) => t.startsWith('@alice:acme.test — owner')), listed.join('; '));
      assert.ok(listed.some((t) => t.startsWith('@bob:beta.test — ')), listed.join('; '));
      if (p === bob) await shot(bob, 'federated-members');
      await p.click('#dialog-form button[value="cancel"]');
      await p.waitForSelector('#dialog', { state: 'hidden' });
    }

    // Alice invites Carol, a user of beta, through the invite dialog; Carol
    // sees the invitation once she logs in there, and accepts it.
    assert.equal((await call(beta, 'POST', '/auth/register', { username: 'carol', password: 'correct horse battery' })).status, 201);
    await alice.click('#invite');
    await alice.fill('#inv-user', '@carol:beta.test');
    await alice.click('#dialog-ok');
    await alice.waitForSelector('#status:has-text("Invitation sent")');
    const carol = await page();
    await carol.goto(beta.url + '/');
    await carol.fill('#username', 'carol');
    await carol.fill('#password', 'correct horse battery');
    await carol.click('#auth-submit');
    await carol.waitForSelector('#app:not([hidden])');
    await carol.waitForSelector('#groups button:has-text("✉ Across nodes")', { timeout: 15000 });
    await shot(carol, 'federated-invited');
    await carol.click('#groups button:has-text("Across nodes")');
    await carol.waitForSelector('#room-title:has-text("Across nodes")');
    await waitForMessage(carol, 'hello from beta');
    await alice.waitForSelector('#timeline .notice:has-text("@carol:beta.test joined")', { timeout: 15000 });

    // The group's home node goes down. What Bob sends meanwhile is accepted
    // by beta (202, pending), shown as pending, sent once, and replaced by
    // the sequenced event when acme is back.
    const queued = 'sent while acme is down';
    let posts = 0;
    bob.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/messages') && (r.postData() || '').includes(queued)) posts++;
    });
    const answers = [];
    bob.on('response', (r) => {
      if (r.request().method() === 'POST' && r.url().endsWith('/messages')) answers.push(r.status());
    });
    await acme.kill('SIGKILL');
    await alice.waitForSelector('#status:has-text("reconnecting")', { timeout: 15000 });
    await bob.fill('#message', queued);
    await bob.press('#message', 'Enter');
    await bob.waitForSelector(`#timeline .msg.pending:has-text("${queued}") .state:has-text("waiting")`);
    assert.deepEqual(answers, [202]);
    await shot(bob, 'federated-pending');
    await new Promise((r) => setTimeout(r, 3000));  // longer than the outbox's retry delay
    assert.equal(posts, 1, 'a message answered 202 must not be sent again');
    assert.equal((await messages(bob)).filter((m) => m === queued).length, 1);

    await acme.start();
    await bob.waitForFunction((t) => [...document.querySelectorAll('#timeline .msg')]
      .some((li) => li.querySelector('.body').textContent === t && !li.classList.contains('pending')), queued, { timeout: 60000 });
    await waitForMessage(alice, queued, 60000);
    await alice.waitForSelector('#status', { state: 'hidden', timeout: 30000 });
    // Delivered in log order, once, and never re-sent.
    for (const p of [alice, bob, carol]) {
      await waitForMessage(p, queued, 30000);
      const seen = await messages(p);
      assert.equal(seen.filter((m) => m === queued).length, 1);
      assert.equal(seen[seen.length - 1], queued);
    }
    assert.equal(await bob.$$eval('#timeline .msg.pending', (els) => els.length), 0);
    assert.equal(posts, 1);
    // And the group carries on from acme's side.
    await alice.fill('#message', 'acme is back');
    await alice.press('#message', 'Enter');
    await waitForMessage(bob, 'acme is back', 15000);

    for (const p of [alice, bob]) assert.equal(await p.evaluate(() => window.__sameDocument), true, 'no page was reloaded');
    assert.deepEqual(errors, []);
    assert.deepEqual(chrome.outside, [], 'the app must load nothing from outside');
  } catch (err) {
    // The nodes' logs tell why (they are removed with the nodes).
    for (const n of [acme, beta].filter(Boolean)) {
      err.message += `\n--- ${n.name} log (tail) ---\n` + fs.readFileSync(n.logPath, 'utf8').slice(-4000);
    }
    throw err;
  } finally {
    for (const ctx of contexts) await ctx.close().catch(() => {});
    await Promise.all([acme, beta].filter(Boolean).map((n) => n.stop()));
  }
});
