// The web client's screens that web_client.test.js does not walk through,
// each driven the way a user would, with what the user then sees checked:
// profile, message tools (react, edit, reply, delete), group settings, the
// directory, typing, unread badges, leaving, logging out and back in. One
// node, two users, one browser with a context each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, launchBrowser, register } from './harness.js';

// The <li> of the message whose body is `text`.
const message = (page, text) => page.locator('#timeline .msg', { has: page.locator('.body', { hasText: text }) });

async function send(page, text) {
  await page.fill('#message', text);
  await page.press('#message', 'Enter');
  await message(page, text).locator('.tools').waitFor({ state: 'attached' });  // stored, not pending
}

async function dialog(page, fields) {
  for (const [id, value] of Object.entries(fields)) await page.fill(`#${id}`, value);
  await page.click('#dialog-ok');
  await page.waitForSelector('#dialog', { state: 'hidden' });
}

test('profile, message tools, settings, directory, typing, badges, leave, log out and in', async () => {
  const node = await startNode();
  let chrome;
  try {
    chrome = await launchBrowser();
    const ctxA = await chrome.newContext();
    const ctxB = await chrome.newContext();
    const alice = await ctxA.newPage();
    const bob = await ctxB.newPage();
    const errors = [];
    for (const p of [alice, bob]) {
      p.on('pageerror', (e) => errors.push(e.message));
      p.on('dialog', (d) => d.accept());  // confirm() of delete and leave
    }

    await register(alice, node.url, 'alice');
    // Profile: the display name shows in the top bar.
    await alice.click('#edit-profile');
    await dialog(alice, { 'pf-name': 'Alice A.' });
    await alice.waitForSelector('#me:has-text("Alice A. (@alice:acme.test)")');

    await alice.click('#new-group');
    await dialog(alice, { 'ng-name': 'screens', 'ng-title': 'Screens' });
    await alice.waitForSelector('#room-title:has-text("Screens")');
    await send(alice, 'first');

    // React, and take the reaction back.
    const first = message(alice, 'first');
    await first.hover();
    await first.locator('.tools button', { hasText: '👍' }).click();
    await first.locator('.reactions button[aria-pressed="true"]', { hasText: '👍 1' }).waitFor();
    await first.locator('.reactions button').click();
    await first.locator('.reactions').waitFor({ state: 'detached' });

    // Edit.
    await first.hover();
    await first.locator('.tools button', { hasText: 'Edit' }).click();
    assert.equal(await alice.inputValue('#edit-body'), 'first');
    await dialog(alice, { 'edit-body': 'first, edited' });
    await message(alice, 'first, edited').locator('.edited').waitFor();

    // Reply: the answer quotes what it answers.
    await message(alice, 'first, edited').hover();
    await message(alice, 'first, edited').locator('.tools button', { hasText: 'Reply' }).click();
    assert.match(await alice.textContent('#replying'), /Replying to @alice:acme\.test/);
    await send(alice, 'an answer');
    assert.equal(await message(alice, 'an answer').locator('.reply-to').textContent(),
      '↪ @alice:acme.test: first, edited');
    assert.equal(await alice.isHidden('#replying'), true);

    // Delete.
    await send(alice, 'a mistake');
    await message(alice, 'a mistake').hover();
    await message(alice, 'a mistake').locator('.tools button', { hasText: 'Delete' }).click();
    await message(alice, 'Message deleted').waitFor();
    assert.equal(await message(alice, 'a mistake').count(), 0);

    // Settings (owners only): the header follows the new title and topic.
    await alice.click('#settings');
    await dialog(alice, { 'st-title': 'Screens renamed', 'st-topic': 'every screen once' });
    await alice.waitForSelector('#room-title:has-text("Screens renamed")');
    await alice.waitForSelector('#room-topic:has-text("every screen once")');

    // Bob finds the group in the directory, by search, and joins it there.
    await register(bob, node.url, 'bob');
    await bob.click('#browse');
    await bob.fill('#dir-q', 'screens');
    await bob.click('#dialog-body button:has-text("Search")');
    await bob.click('#dialog-body li button:has-text("Screens renamed (#screens:acme.test, 1 members)")');
    await bob.waitForSelector('#room-title:has-text("Screens renamed")');
    assert.equal(await bob.isHidden('#settings'), true, 'members are not offered the settings');
    await message(bob, 'an answer').waitFor();

    // Typing shows on the other side.
    await bob.type('#message', 'hel');
    await alice.waitForSelector('#typing:has-text("@bob:acme.test is typing…")');
    await bob.fill('#message', '');

    // Alice looks at another group; Bob's message there becomes a badge, and
    // a mention of her a mention badge.
    await alice.click('#new-group');
    await dialog(alice, { 'ng-name': 'elsewhere', 'ng-title': 'Elsewhere' });
    await alice.waitForSelector('#room-title:has-text("Elsewhere")');
    await send(bob, 'while you look away');
    await alice.waitForSelector('#groups button:has-text("Screens renamed") .badge[aria-label="1 unread"]');
    await send(bob, 'hey @alice:acme.test, look');
    await alice.waitForSelector('#groups button:has-text("Screens renamed") .badge.mention[aria-label="1 mentions"]');
    await alice.click('#groups button:has-text("Screens renamed")');
    await message(alice, 'hey @alice:acme.test, look').waitFor();
    await alice.waitForSelector('#groups button:has-text("Screens renamed") .badge', { state: 'detached' });

    // Bob leaves: the group is gone from his list and the room closes.
    await bob.click('#leave');
    await bob.waitForSelector('#empty:not([hidden])');
    await bob.waitForSelector('#groups button', { state: 'detached' });
    await alice.waitForSelector('#timeline .notice:has-text("@bob:acme.test left")');

    // Log out, and back in.
    await bob.click('#logout');
    await bob.waitForSelector('#auth:not([hidden])');
    assert.equal(await bob.isHidden('#app'), true);
    await bob.reload();
    await bob.waitForSelector('#auth:not([hidden])');  // the token is gone for good
    await bob.fill('#username', 'bob');
    await bob.fill('#password', 'correct horse battery');
    await bob.click('#auth-submit');
    await bob.waitForSelector('#app:not([hidden])');
    assert.match(await bob.textContent('#me'), /@bob:acme\.test/);

    assert.deepEqual(errors, []);
    assert.deepEqual(chrome.outside, [], 'the app must load nothing from outside');
    await ctxA.close();
    await ctxB.close();
  } finally {
    if (chrome) await chrome.close();
    await node.stop();
  }
});
