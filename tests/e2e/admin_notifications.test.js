// The admin console's Notifications page in a real browser: the worker and
// queue figures, the email settings with the SMTP password hidden, every
// user's pushers with their status, and an admin removing one pusher (gone
// for its user, written to the audit log).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, launchBrowser, shot, cli, call, axeViolations } from './harness.js';

let node;
let chrome;

before(async () => {
  node = await startNode({ extraYaml: [
    'notifications:',
    '  allow_private_endpoints: true',
    '  email:',
    '    smtp_url: "smtp://mailer:pa55word@127.0.0.1:2525"',
    '    from: "GroupChat <chat@acme.test>"',
    '    delay_s: 600',
    '    public_url: "https://chat.acme.test"',
  ].join('\n') + '\n' });
  chrome = await launchBrowser();
  cli(node, ['admin', 'create-user', '--username', 'root', '--password-file', '-', '--admin'], 'rootpassword\n');
});

after(async () => {
  if (chrome) await chrome.close();
  if (node) await node.stop();
});

test('an admin sees the notification queues and email settings and removes a pusher', async () => {
  const users = {};
  for (const name of ['carol', 'dave']) {
    const r = await call(node, 'POST', '/auth/register', { username: name, password: 'correct horse' });
    assert.equal(r.status, 201);
    users[name] = r.body.access_token;
  }
  // Webhook URLs on loopback (allowed here); nothing needs to listen: no
  // notification is made in this test.
  for (const [name, hook] of [['carol', 'a'], ['carol', 'b'], ['dave', 'c']]) {
    const r = await call(node, 'POST', '/me/pushers', { kind: 'webhook', url: `http://127.0.0.1:9/${hook}` }, users[name]);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }

  const ctx = await chrome.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => d.accept());
  await page.goto(node.url + '/admin/');
  await page.fill('#username', 'root');
  await page.fill('#password', 'rootpassword');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#console:not([hidden])');
  await page.click('button[data-tab=notifications]');
  await page.waitForSelector('#notif-cards .card');
  const cards = await page.$$eval('#notif-cards .card', (cs) => cs.map((c) => c.textContent));
  assert.ok(cards.some((c) => c.includes('Push queue')), cards.join('|'));
  assert.ok(cards.some((c) => c.includes('Email delivered / failed')), cards.join('|'));
  // Delivered / failed per kind, with retries and the queue (the webhooks
  // above point at a closed port: they fail and are retried).
  assert.ok(cards.some((c) => c.includes('Web Push delivered / failed') && c.includes('0 queued')), cards.join('|'));
  assert.ok(cards.some((c) => /Webhook delivered \/ failed.*\d+ retried, \d+ queued/.test(c)), cards.join('|'));
  assert.ok(cards.some((c) => c.includes('Worker runs in this process') && c.includes('yes')), cards.join('|'));
  const email = await page.textContent('#notif-email');
  assert.match(email, /smtp:\/\/mailer:\*\*\*@127\.0\.0\.1:2525/);
  assert.doesNotMatch(email, /pa55word/);
  assert.match(email, /GroupChat <chat@acme\.test>/);
  assert.match(email, /600 s/);
  assert.match(await page.textContent('#notif-kinds'), /webhook: 3 pushers/);

  // Every user's pushers; then only carol's.
  await page.waitForFunction(() => document.querySelectorAll('#pusher-rows tr').length === 3);
  await page.fill('#pusher-user', '@carol:acme.test');
  await page.click('#pusher-search button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#pusher-rows tr').length === 2);
  assert.equal(await page.$$eval('#pusher-rows tr', (rs) => rs.every((r) => r.dataset.user === '@carol:acme.test')), true);
  await shot(page, 'admin-notifications');
  assert.deepEqual(await axeViolations(page), []);

  // Remove carol's first pusher.
  const id = await page.$eval('#pusher-rows tr', (r) => r.dataset.pusher);
  await page.click(`#pusher-rows tr[data-pusher="${id}"] button:has-text("Remove")`);
  await page.waitForFunction(() => document.querySelectorAll('#pusher-rows tr').length === 1);
  const mine = await call(node, 'GET', '/me/pushers', undefined, users.carol);
  assert.deepEqual(mine.body.pushers.map((p) => String(p.pusher_id)).includes(id), false);
  assert.equal(mine.body.pushers.length, 1);

  // Audited.
  const rootLogin = await call(node, 'POST', '/auth/login', { username: 'root', password: 'rootpassword' });
  const audit = await call(node, 'GET', '/admin/audit', undefined, rootLogin.body.access_token);
  const entry = audit.body.entries.find((e) => e.action === 'pusher.remove');
  assert.ok(entry, JSON.stringify(audit.body));
  assert.equal(entry.target, '@carol:acme.test');
  assert.equal(String(entry.detail.pusher_id), id);

  // Non-admins get 403 from the API behind the page.
  assert.equal((await call(node, 'GET', '/admin/notifications', undefined, users.dave)).status, 403);
  assert.equal((await call(node, 'DELETE', '/admin/pushers/1', undefined, users.dave)).status, 403);
  assert.equal((await call(node, 'DELETE', '/admin/pushers/nope', undefined, rootLogin.body.access_token)).status, 400);
  assert.equal((await call(node, 'DELETE', '/admin/pushers/999999', undefined, rootLogin.body.access_token)).status, 404);
  assert.deepEqual(errors, []);
  await ctx.close();
});
