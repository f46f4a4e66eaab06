// The profile's email settings in a real browser against a real node with
// `notifications.email` configured: the address (a profile field, PATCH
// /me) and the switch for mailing missed mentions and replies (PUT
// /me/email-notifications, what an unsubscribe link turns off) are shown as
// the node has them, saved from the dialog, refused when malformed (by the
// browser's email field, and by the node), and
// reflect an unsubscribe made elsewhere. Mail delivery itself is covered by
// integration.email_test against a real SMTP server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, launchBrowser, register, call, axeViolations, shot } from './harness.js';

let node;
let chrome;

before(async () => {
  node = await startNode({ extraYaml: [
    'notifications:',
    '  email:',
    '    smtp_url: "smtp://127.0.0.1:9"',
    '    from: "GroupChat <chat@acme.test>"',
    '    delay_s: 600',
    '    public_url: "https://chat.acme.test"',
  ].join('\n') + '\n' });
  chrome = await launchBrowser();
});

after(async () => {
  if (chrome) await chrome.close();
  if (node) await node.stop();
});

const settings = async (tok) => (await call(node, 'GET', '/me/email-notifications', undefined, tok)).body;

async function openProfile(page) {
  await page.click('#edit-profile');
  await page.waitForSelector('#dialog[open] #pf-email');
}

async function save(page) {
  await page.click('#dialog-ok');
  await page.waitForSelector('#dialog', { state: 'hidden' });
}

// Polls the node every 50 ms until `done(settings)`; fails after 30 s.
async function until(tok, done, what) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const s = await settings(tok);
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; last: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the profile sets the email address and the email switch, refuses a malformed address and shows an unsubscribe', async () => {
  const ctx = await chrome.newContext();
  const page = await ctx.newPage();
  await register(page, node.url, 'erin');
  const tok = await page.evaluate(() => localStorage.getItem('gc.token'));

  // Nothing yet: no address, mail on, the delay said in minutes.
  await openProfile(page);
  assert.equal(await page.inputValue('#pf-email'), '');
  assert.equal(await page.getAttribute('#pf-email', 'type'), 'email');
  assert.equal(await page.inputValue('#pf-email-on'), 'on');
  assert.match(await page.textContent('label:has(#pf-email-on)'), /unread after 10 minutes/);
  assert.deepEqual(await axeViolations(page), []);
  await shot(page, 'profile-email');
  await page.fill('#pf-email', 'erin@example.org');
  await save(page);
  let s = await until(tok, (v) => v.email === 'erin@example.org', 'the address is saved');
  assert.equal(s.enabled, true);

  // Switched off from the dialog; shown off when it opens again.
  await openProfile(page);
  assert.equal(await page.inputValue('#pf-email'), 'erin@example.org');
  await page.selectOption('#pf-email-on', 'off');
  await save(page);
  await until(tok, (v) => v.enabled === false, 'email is switched off');
  await openProfile(page);
  assert.equal(await page.inputValue('#pf-email-on'), 'off');

  // Not an address at all: the browser keeps the dialog open (an email
  // field). One the browser takes but the node does not (no dot in the
  // domain): refused by the node, said on the status line, nothing changes.
  await page.fill('#pf-email', 'not an address');
  await page.click('#dialog-ok');
  assert.equal(await page.$eval('#pf-email', (i) => i.matches(':invalid')), true);
  assert.equal(await page.$eval('#dialog', (d) => d.open), true);
  await page.fill('#pf-email', 'erin@localhost');
  await page.selectOption('#pf-email-on', 'on');
  await save(page);
  await page.waitForFunction(() => /not saved/.test(document.getElementById('status').textContent));
  s = await settings(tok);
  assert.equal(s.email, 'erin@example.org');
  assert.equal(s.enabled, false);

  // Switched on elsewhere (another device, or the API), then cleared here.
  assert.equal((await call(node, 'PUT', '/me/email-notifications', { enabled: true }, tok)).status, 200);
  await openProfile(page);
  assert.equal(await page.inputValue('#pf-email-on'), 'on');
  await page.fill('#pf-email', '');
  await save(page);
  await until(tok, (v) => v.email === null, 'the address is removed');
  await ctx.close();
});

test('without email configured on the node the profile has no email fields', async () => {
  const other = await startNode({ name: 'beta.test' });
  try {
    const ctx = await chrome.newContext();
    const page = await ctx.newPage();
    await register(page, other.url, 'frank');
    await page.click('#edit-profile');
    await page.waitForSelector('#dialog[open] #pf-level');
    assert.equal(await page.$('#pf-email'), null);
    assert.equal(await page.$('#pf-email-on'), null);
    await ctx.close();
  } finally {
    await other.stop();
  }
});
