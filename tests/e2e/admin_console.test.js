// The admin console in a real browser: log in as an admin, read the
// dashboard, find a user and deactivate them (their session fails at once),
// switch registration to invite-only, create an invite and register with
// it, and see all of it in the audit log. Non-admins are turned away. On the
// Federation page, block a node that never made contact, unblock it, and find
// both in the audit log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, launchBrowser, shot, cli, call, axeViolations } from './harness.js';

let node;
let chrome;

before(async () => {
  node = await startNode();
  chrome = await launchBrowser();
  cli(node, ['admin', 'create-user', '--username', 'root', '--password-file', '-', '--admin'], 'rootpassword\n');
});

after(async () => {
  if (chrome) await chrome.close();
  if (node) await node.stop();
});

async function login(page, username, password) {
  await page.goto(node.url + '/admin/');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login-form button[type=submit]');
}

test('the console is served with a strict CSP', async () => {
  const res = await fetch(node.url + '/admin/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
  assert.match((await fetch(node.url + '/admin/console.js')).headers.get('content-type'), /javascript/);
});

test('non-admins cannot use the console', async () => {
  assert.equal((await call(node, 'POST', '/auth/register', { username: 'pleb', password: 'correct horse' })).status, 201);
  const ctx = await chrome.newContext();
  const page = await ctx.newPage();
  await login(page, 'pleb', 'correct horse');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.includes('not an administrator'));
  assert.equal(await page.isHidden('#console'), true);
  await ctx.close();
});

test('an admin deactivates a user, runs invite-only registration, and reads the audit log', async () => {
  const victim = await call(node, 'POST', '/auth/register', { username: 'victim', password: 'correct horse' });
  assert.equal(victim.status, 201);
  const token = victim.body.access_token;
  assert.equal((await call(node, 'GET', '/me', undefined, token)).status, 200);

  const ctx = await chrome.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => d.accept());
  await login(page, 'root', 'rootpassword');
  await page.waitForSelector('#console:not([hidden])');
  await page.waitForFunction(() => document.querySelectorAll('#cards .card').length >= 9);
  const cards = await page.$$eval('#cards .card', (cs) => cs.map((c) => c.textContent));
  assert.ok(cards.some((c) => c.includes('Users') && /\d/.test(c)));
  assert.equal(await page.$$eval('#chart div', (bars) => bars.length), 24);
  await shot(page, 'admin-dashboard');
  assert.deepEqual(await axeViolations(page), []);

  // Find the user and deactivate them: their session fails at once.
  await page.click('button[data-tab=users]');
  await page.fill('#user-q', 'victim');
  await page.click('#user-search button[type=submit]');
  await page.waitForSelector('tr[data-user="@victim:acme.test"]');
  await page.click('tr[data-user="@victim:acme.test"] button:has-text("Deactivate")');
  await page.waitForSelector('tr[data-user="@victim:acme.test"] button:has-text("Reactivate")');
  assert.equal((await call(node, 'GET', '/me', undefined, token)).status, 401);
  await shot(page, 'admin-users');
  assert.deepEqual(await axeViolations(page), []);

  // Invite-only registration with a token made in the console.
  await page.click('button[data-tab=registration]');
  await page.waitForFunction(() => document.querySelector('#mode').value !== '');
  await page.selectOption('#mode', 'invite');
  await page.click('#mode-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#status').textContent.includes('invite'));
  assert.equal((await call(node, 'POST', '/auth/register', { username: 'newbie', password: 'correct horse' })).status, 403);
  await page.click('#invite-form button[type=submit]');
  await page.waitForSelector('#invite-rows td.token');
  const invite = (await page.textContent('#invite-rows td.token')).trim();
  const reg = await call(node, 'POST', '/auth/register', { username: 'newbie', password: 'correct horse', invite_token: invite });
  assert.equal(reg.status, 201);
  await shot(page, 'admin-registration');

  // The audit log shows who did what.
  await page.click('button[data-tab=audit]');
  await page.waitForSelector('#audit-rows tr');
  const audit = await page.$$eval('#audit-rows tr', (rows) => rows.map((r) => r.textContent));
  assert.ok(audit.some((r) => r.includes('user.deactivate') && r.includes('@victim:acme.test') && r.includes('@root:acme.test')));
  assert.ok(audit.some((r) => r.includes('invite.create')));
  assert.ok(audit.some((r) => r.includes('registration.mode')));
  await shot(page, 'admin-audit');

  // Groups and node configuration pages load.
  await page.click('button[data-tab=groups]');
  await page.waitForSelector('section#groups:not([hidden])');
  await shot(page, 'admin-groups');
  await page.click('button[data-tab=node]');
  await page.waitForFunction(() => document.querySelector('#config').textContent.includes('acme.test'));
  await shot(page, 'admin-node');

  assert.deepEqual(errors, []);
  assert.deepEqual(chrome.outside, []);
  await ctx.close();
});

test('an admin blocks a node by name on the Federation page, unblocks it, and finds it audited', async () => {
  const root = await call(node, 'POST', '/auth/login', { username: 'root', password: 'rootpassword' });
  assert.equal(root.status, 200);
  const token = root.body.access_token;

  const ctx = await chrome.newContext();
  const page = await ctx.newPage();
  const errors = [];
  const dialogs = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => { dialogs.push(d.message()); d.accept(); });
  await login(page, 'root', 'rootpassword');
  await page.waitForSelector('#console:not([hidden])');
  await page.waitForFunction(() => [...document.querySelectorAll('#cards .card')].some((c) => /Federation peers/.test(c.textContent) && /\d+ up \/ \d+ down/.test(c.textContent)));

  await page.click('button[data-tab=federation]');
  await page.waitForSelector('section#federation:not([hidden])');
  await page.waitForFunction(() => document.querySelector('#fed-policy').textContent.includes('open'));
  assert.match(await page.textContent('#fed-lists'), /Allow list: none/);
  assert.equal(await page.isVisible('#peer-empty'), true);

  // A name that is not a server name is refused and nothing is listed.
  await page.fill('#block-name', 'not a name!');
  await page.click('#block-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#status').textContent.includes('not a server name'));
  assert.equal(await page.$$eval('#peer-rows tr', (rows) => rows.length), 0);

  // Block a node that has never been in contact: asked first, then listed as blocked.
  await page.fill('#block-name', 'evil.test');
  await page.click('#block-form button[type=submit]');
  await page.waitForSelector('tr[data-peer="evil.test"]');
  assert.ok(dialogs.some((m) => m.startsWith('Block evil.test?')));
  assert.equal(await page.inputValue('#block-name'), '');
  assert.match(await page.textContent('tr[data-peer="evil.test"]'), /blocked/);
  assert.equal(await page.isVisible('tr[data-peer="evil.test"] button:has-text("Unblock")'), true);
  assert.equal(await page.isVisible('#peer-empty'), false);
  const peers = await call(node, 'GET', '/admin/peers', undefined, token);
  const evil = peers.body.peers.find((p) => p.name === 'evil.test');
  assert.equal(evil.status, 'blocked');
  assert.equal(evil.admin_state, 'blocked');
  assert.equal(evil.admitted, false);
  await shot(page, 'admin-federation');
  assert.deepEqual(await axeViolations(page), []);

  // Unblock it: no longer blocked, and it can be blocked again.
  await page.click('tr[data-peer="evil.test"] button:has-text("Unblock")');
  await page.waitForSelector('tr[data-peer="evil.test"] button:text-is("Block")');
  assert.doesNotMatch(await page.textContent('tr[data-peer="evil.test"] td:nth-child(2)'), /blocked/);
  const after = (await call(node, 'GET', '/admin/peers', undefined, token)).body.peers.find((p) => p.name === 'evil.test');
  assert.equal(after.admin_state, '');
  assert.notEqual(after.status, 'blocked');

  // Both actions are in the audit log, through the API and on the page.
  const audit = await call(node, 'GET', '/admin/audit?limit=50', undefined, token);
  assert.ok(audit.body.entries.some((e) => e.action === 'peer.block' && e.target === 'evil.test' && e.actor === '@root:acme.test'));
  assert.ok(audit.body.entries.some((e) => e.action === 'peer.unblock' && e.target === 'evil.test'));
  await page.click('button[data-tab=audit]');
  await page.waitForSelector('#audit-rows tr');
  const rows = await page.$$eval('#audit-rows tr', (rs) => rs.map((r) => r.textContent));
  assert.ok(rows.some((r) => r.includes('peer.block') && r.includes('evil.test') && r.includes('@root:acme.test')));
  assert.ok(rows.some((r) => r.includes('peer.unblock') && r.includes('evil.test')));

  assert.deepEqual(errors, []);
  assert.deepEqual(chrome.outside, []);
  await ctx.close();
});
