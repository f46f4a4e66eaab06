// The web client's notifications in a real browser against a real node: the
// bell's badge, the inbox and the tab title follow mentions live; reading a
// group clears them on the user's other devices; "mark all read"; the
// per-group level and do-not-disturb set in the UI reach the node and hold;
// a link /#/g/<group>/e/<event> opens that message; a burst of 120 and a
// SIGKILL right after a send are counted right. The installable app: the
// manifest is linked, served and valid, the service worker registers at /
// and shows (and withdraws) a push delivered to it through the DevTools
// protocol. A real push service cannot be reached from here; the node's Web
// Push sending is covered by the protocol tests of the notification service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedNodeAndBrowser, register, call, axeViolations, shot } from './harness.js';

const env = sharedNodeAndBrowser();

const token = (page) => page.evaluate(() => localStorage.getItem('gc.token'));

// Resolves when the page's stream says `ready`: from then on what a test
// does through the API reaches the page live, as a frame. (Before it, a
// fresh account's client catches up by reading its groups again at ready;
// the last test here checks that.)
function streamReady(page) {
  return new Promise((resolve) => page.on('websocket', (ws) => ws.on('framereceived', (f) => {
    if (String(f.payload).includes('"type":"ready"')) resolve();
  })));
}

// A new user `username` in a new browser context, signed in with the
// stream ready, then a member of `groupId` (shown in the sidebar).
async function memberPage(username, groupId, contextOptions) {
  const ctx = await env.chrome.newContext(contextOptions);
  const page = await ctx.newPage();
  const ready = streamReady(page);
  await register(page, env.node.url, username);
  await ready;
  const tok = await token(page);
  await join(groupId, tok);
  await page.waitForSelector(`#groups button[data-group="${groupId}"]`);
  return { ctx, page, tok };
}

async function login(page, username, password = 'correct horse battery') {
  await page.goto(env.node.url + '/');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#auth-submit');
  await page.waitForSelector('#app:not([hidden])');
}

async function apiUser(username) {
  const r = await call(env.node, 'POST', '/auth/register', { username, password: 'correct horse battery' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.access_token;
}

async function group(owner, name, title) {
  const r = await call(env.node, 'POST', '/groups', { name, title, visibility: 'public' }, owner);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.group_id;
}

async function join(groupId, who) {
  const r = await call(env.node, 'POST', `/groups/${encodeURIComponent(groupId)}/join`, {}, who);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function say(groupId, who, body) {
  const r = await call(env.node, 'POST', `/groups/${encodeURIComponent(groupId)}/messages`, { body }, who);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.event_id;
}

// The bell's badge shows `n` (hidden at 0), its name and the tab title say it.
async function waitForUnread(page, n, timeout = 30000) {
  await page.waitForFunction((want) => {
    const badge = document.getElementById('bell-count');
    const shown = badge.hidden ? 0 : Number(badge.textContent);
    const title = want ? `(${want}) GroupChat` : 'GroupChat';
    return shown === want && document.title === title &&
      document.getElementById('bell').getAttribute('aria-label').includes(want ? `${want} unread` : 'none unread');
  }, n, { timeout });
}

// Polls `read` every 50 ms until `done(value)`; fails after 30 s (a loaded
// machine) saying `what`.
async function until(read, done, what) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function inboxEntries(page) {
  return page.$$eval('#inbox-list li', (lis) => lis.map((li) => ({
    unread: li.classList.contains('unread'),
    group: li.querySelector('.entry-group').textContent,
    sender: li.querySelector('.entry-sender').textContent,
    preview: li.querySelector('.entry-preview').textContent,
    name: li.querySelector('button').textContent,
  })));
}

test('the manifest is linked, served as a web app manifest, and names the app and its icons', async () => {
  const ctx = await env.chrome.newContext();
  const page = await ctx.newPage();
  await page.goto(env.node.url + '/');
  const href = await page.$eval('link[rel="manifest"]', (l) => l.href);
  const res = await fetch(href);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/manifest+json');
  const m = await res.json();
  assert.equal(m.name, 'GroupChat');
  assert.ok(m.short_name);
  assert.equal(m.display, 'standalone');
  assert.equal(new URL(m.start_url, href).href, env.node.url + '/');
  assert.match(m.theme_color, /^#[0-9a-f]{6}$/i);
  for (const size of [192, 512]) {
    const icon = m.icons.find((i) => i.sizes === `${size}x${size}` && i.type === 'image/png');
    assert.ok(icon, `an icon of ${size}px`);
    const png = Buffer.from(await (await fetch(new URL(icon.src, href))).arrayBuffer());
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [size, size]);  // IHDR width, height
  }
  await ctx.close();
});

// Delivers pushes to the worker through the DevTools protocol; each call
// resolves once as many push events have completed (their waitUntil
// settled) as pushes were sent, and fails unless the last one succeeded.
// The protocol answers deliverPushMessage before the event even runs, and
// polling getNotifications() meanwhile is no way to wait: Chromium's
// getNotifications() takes the notifications on screen, then reads its
// database and deletes each entry stored before the call but not on screen,
// and a notification between the two steps of showNotification() (stored,
// not yet on screen) is such an entry: it is shown but never listed again
// (seen under load: 'last: []' for 30 s). So the test waits for DevTools'
// record of the push event ("Push event completed" and its status) and
// reads the notifications after it. On failure it says what DevTools saw:
// the push events, the worker's versions and states, its reported errors.
async function devtoolsPusher(cdp, origin, registrationId) {
  const seen = [];
  const completed = [];  // the status of each completed push event, in order
  const waiting = new Set();  // wakes every pending push call on news
  const note = (what) => { seen.push(what); for (const wake of waiting) wake(); };
  cdp.on('BackgroundService.backgroundServiceEventReceived', ({ backgroundServiceEvent: e }) => {
    if (e.serviceWorkerRegistrationId !== registrationId) return;
    const status = e.eventMetadata.find((m) => m.key === 'Status')?.value;
    if (e.eventName === 'Push event completed') completed.push(status);
    note(status ? `${e.eventName}: ${status}` : e.eventName);
  });
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const v of versions) {
      if (v.registrationId === registrationId) note(`version ${v.versionId} ${v.status} ${v.runningStatus}`);
    }
  });
  cdp.on('ServiceWorker.workerErrorReported', ({ errorMessage: m }) => {
    note(`error: ${m.errorMessage} at ${m.sourceURL}:${m.lineNumber}`);
  });
  await cdp.send('BackgroundService.setRecording', { shouldRecord: true, service: 'pushMessaging' });
  await cdp.send('BackgroundService.startObserving', { service: 'pushMessaging' });
  let sent = 0;
  return async (data) => {
    const n = ++sent;
    await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data });
    const deadline = Date.now() + 30000;  // a loaded machine
    while (completed.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`push ${n} (${data}) not handled in 30 s; DevTools saw: ${JSON.stringify(seen)}`);
      await new Promise((resolve) => {
        const wake = () => { clearTimeout(timer); waiting.delete(wake); resolve(); };
        const timer = setTimeout(wake, left);
        waiting.add(wake);
      });
    }
    assert.equal(completed[n - 1], 'Success', `push ${n} (${data}); DevTools saw: ${JSON.stringify(seen)}`);
  };
}

test('the service worker registers at /, shows a pushed entry, opens its message on click, closes it when withdrawn', async () => {
  const alice = await apiUser('swalice');
  await call(env.node, 'PATCH', '/me', { display_name: 'Alice' }, alice);
  const eng = await group(alice, 'pushed', 'Pushed');
  const ctx = await env.chrome.newContext({ permissions: ['notifications'] });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  const registrations = new Map();
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
    for (const r of e.registrations) registrations.set(r.scopeURL, r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  const pageReady = streamReady(page);
  await register(page, env.node.url, 'swuser');
  await pageReady;
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
  assert.equal(scope, env.node.url + '/');
  const sw = await fetch(env.node.url + '/sw.js');
  assert.match(sw.headers.get('content-type'), /^text\/javascript/);
  assert.equal(sw.headers.get('service-worker-allowed'), null);  // none needed at the root
  const registrationId = await until(async () => registrations.get(env.node.url + '/'), Boolean,
    'DevTools reports the registration');

  await join(eng, await token(page));
  const eventId = await say(eng, alice, '@swuser:acme.test look at this');
  await page.waitForSelector('#groups button[data-group="#pushed:acme.test"]');
  const entry = { notification_id: 7, kind: 'mention', group_id: eng, event_id: eventId,
    sender: '@swalice:acme.test', sender_display_name: 'Alice', group_title: 'Pushed',
    body_preview: '@swuser:acme.test look at this', created_at: Date.now(), read: false, withdrawn: false };
  const push = await devtoolsPusher(cdp, env.node.url, registrationId);
  const shown = () => page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications())
    .map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })));

  await push(JSON.stringify(entry));
  assert.deepEqual(await shown(), [{ title: 'Pushed',
    body: 'Alice: @swuser:acme.test look at this', tag: 'n7', data: { group_id: eng, event_id: eventId, notification_id: 7 } }]);

  // A click on it (dispatched in the worker: headless Chromium has no
  // notification to click) closes it and opens its message in the window.
  const worker = ctx.serviceWorkers().find((w) => w.url() === env.node.url + '/sw.js');
  assert.ok(worker, 'Playwright sees the worker');
  await worker.evaluate(async () => {
    const [n] = await self.registration.getNotifications();
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
  });
  await page.waitForSelector('#room-title:has-text("Pushed")');
  await page.waitForSelector(`#timeline li.linked[data-event-id="${eventId}"]`);
  await until(shown, (list) => list.length === 0, 'the click closes the notification');

  // Shown again, then a repeat (delivery is at least once) and at once the
  // withdrawal (the message was deleted): nothing is left. (The worker's
  // close() is not awaited by its push event, so the closing is polled;
  // no notification is being shown meanwhile.)
  await push(JSON.stringify(entry));
  assert.deepEqual((await shown()).map((n) => n.tag), ['n7'], 'the notification is shown again');
  await Promise.all([push(JSON.stringify(entry)),
    push(JSON.stringify({ ...entry, body_preview: '', read: true, withdrawn: true }))]);
  await until(shown, (list) => list.length === 0, 'the withdrawal closes the notification');

  // Something that is no inbox entry still shows something (userVisibleOnly).
  await push('not json {');
  assert.deepEqual((await shown()).map((n) => [n.title, n.body, n.tag]),
    [['GroupChat', 'You have new notifications.', 'groupchat']]);
  await ctx.close();
});

test('a mention lights the bell live on every device; reading the group or "mark all read" clears it everywhere', async () => {
  const alice = await apiUser('alice');
  await call(env.node, 'PATCH', '/me', { display_name: 'Alice' }, alice);
  const eng = await group(alice, 'eng', 'Engineering');
  const ops = await group(alice, 'ops', 'Operations');
  const ctx1 = await env.chrome.newContext();
  const ctx2 = await env.chrome.newContext();
  const laptop = await ctx1.newPage();
  const phone = await ctx2.newPage();
  const errors = [];
  for (const p of [laptop, phone]) p.on('pageerror', (e) => errors.push(e.message));
  const laptopReady = streamReady(laptop);
  await register(laptop, env.node.url, 'bob');
  await laptopReady;
  const bob = await token(laptop);
  await join(eng, bob);
  await join(ops, bob);
  await login(phone, 'bob');
  await laptop.waitForSelector('#groups button[data-group="#ops:acme.test"]');
  // Nothing is open on the laptop (it had no group at sign-in); the phone
  // has Operations open, so neither reads Engineering by looking at it.
  await phone.click('#groups button[data-group="#ops:acme.test"]');
  await phone.waitForSelector('#room-title:has-text("Operations")');
  await waitForUnread(laptop, 0);

  const mention = await say(eng, alice, 'hey @bob:acme.test, the build is red');
  await waitForUnread(laptop, 1);
  await waitForUnread(phone, 1);
  await laptop.click('#bell');
  await laptop.waitForSelector('#inbox:not([hidden]) #inbox-list li');
  const [entry] = await inboxEntries(laptop);
  assert.deepEqual({ ...entry, name: undefined }, { unread: true, group: 'Engineering', sender: 'Alice',
    preview: 'hey @bob:acme.test, the build is red', name: undefined });
  assert.match(entry.name, /^@Unread Mention in Engineering from Alice/);
  assert.deepEqual(await axeViolations(laptop), []);
  await shot(laptop, 'web-inbox');

  // The entry opens its message; the group's read marker clears the entry
  // here and, through the notification.read frame, on the phone.
  await laptop.click('#inbox-list li button');
  await laptop.waitForSelector('#room-title:has-text("Engineering")');
  await laptop.waitForSelector(`#timeline li.linked[data-event-id="${mention}"]`);
  assert.equal(await laptop.isHidden('#inbox'), true);
  await waitForUnread(laptop, 0);
  await waitForUnread(phone, 0);

  // Two messages in a group neither device has open: both count, on both.
  await phone.click('#groups button[data-group="#eng:acme.test"]');
  await phone.waitForSelector('#room-title:has-text("Engineering")');
  await say(ops, alice, 'deploy at 5');
  const pingOps = await say(ops, alice, '@bob:acme.test can you watch it?');
  await waitForUnread(laptop, 2);
  await waitForUnread(phone, 2);
  // The phone reads them all from its inbox, by keyboard.
  await phone.focus('#bell');
  await phone.keyboard.press('Enter');
  await phone.waitForSelector('#inbox:not([hidden])');
  // The focus moves to the first entry once the newest page is read.
  await phone.waitForFunction(() => document.activeElement.closest('#inbox-list li') !== null, null, { timeout: 10000 });
  assert.equal(await phone.evaluate(() => [...document.querySelectorAll('#inbox-list button')].indexOf(document.activeElement)), 0);
  await phone.keyboard.press('ArrowDown');
  assert.equal(await phone.evaluate(() => [...document.querySelectorAll('#inbox-list button')].indexOf(document.activeElement)), 1);
  assert.equal((await inboxEntries(phone)).filter((e) => e.unread).length, 2);
  await phone.click('#inbox-read-all');
  await waitForUnread(phone, 0);
  await waitForUnread(laptop, 0);
  assert.equal((await inboxEntries(phone)).filter((e) => e.unread).length, 0);
  await phone.keyboard.press('Escape');
  assert.equal(await phone.isHidden('#inbox'), true);
  assert.equal(await phone.evaluate(() => document.activeElement.id), 'bell');
  const r = await call(env.node, 'GET', '/me/notifications', undefined, bob);
  assert.equal(r.body.unread, 0);

  // Alice deletes her mention: the open inbox shows it withdrawn, live.
  await phone.click('#bell');
  const del = await call(env.node, 'DELETE', `/groups/${encodeURIComponent(ops)}/messages/${encodeURIComponent(pingOps)}`, undefined, alice);
  assert.equal(del.status, 200, JSON.stringify(del.body));
  await phone.waitForSelector('#inbox-list .entry-preview.withdrawn:has-text("Message deleted")');
  assert.equal((await inboxEntries(phone)).filter((e) => e.preview === '@bob:acme.test can you watch it?').length, 0);
  assert.deepEqual(errors, []);
  await ctx1.close();
  await ctx2.close();
});

test('a group set to "nothing" in its header makes no entries; do-not-disturb and the default level are saved from the profile', async () => {
  const alice = await apiUser('alice2');
  const quiet = await group(alice, 'quiet', 'Quiet');
  const loud = await group(alice, 'loud', 'Loud');
  const ctx = await env.chrome.newContext();
  const page = await ctx.newPage();
  const pageReady = streamReady(page);
  await register(page, env.node.url, 'carol');
  await pageReady;
  const carol = await token(page);
  await join(quiet, carol);
  await join(loud, carol);
  await page.click('#groups button[data-group="#quiet:acme.test"]');
  await page.waitForSelector('#room-title:has-text("Quiet")');
  await page.click('#group-notify');
  await page.selectOption('#gl-level', 'none');
  await page.click('#dialog-ok');
  await page.waitForSelector('#group-notify:has-text("Notifications: nothing")');
  assert.equal((await call(env.node, 'GET', `/groups/${encodeURIComponent(quiet)}/notification-level`, undefined, carol)).body.level, 'none');

  // Leave the group, then a mention there and a message in another group;
  // entries are made in log order, so once the second is in, the first was
  // passed over.
  await page.click('#groups button[data-group="#loud:acme.test"]');
  await say(quiet, alice, '@carol:acme.test are you there?');
  await say(loud, alice, 'lunch?');
  await waitForUnread(page, 1);
  // The badge counts the message's stream event; its entry is the worker's
  // and may land a moment later.
  const inbox = await until(() => call(env.node, 'GET', '/me/notifications', undefined, carol),
    (r) => r.body.notifications.length > 0, 'the entry of "lunch?" is made');
  assert.deepEqual(inbox.body.notifications.map((n) => n.group_id), [loud]);
  // Back in the group the button still says its level.
  await page.click('#groups button[data-group="#quiet:acme.test"]');
  await page.waitForSelector('#group-notify:has-text("Notifications: nothing")');

  // Profile: mentions only by default, do not disturb for an hour.
  await page.click('#edit-profile');
  await page.waitForSelector('#dialog[open] #pf-dnd');
  await page.selectOption('#pf-level', 'mentions');
  await page.selectOption('#pf-dnd', '1h');
  const before = Date.now();
  await page.click('#dialog-ok');
  await page.waitForSelector('#dialog', { state: 'hidden' });
  const settings = async () => (await call(env.node, 'GET', '/me/notification-settings', undefined, carol)).body;
  const s = await until(settings, (v) => v.dnd_until !== null, 'do-not-disturb is saved');
  assert.equal(s.default_level, 'mentions');
  assert.ok(s.dnd_until >= before + 3600e3 - 5000 && s.dnd_until <= Date.now() + 3600e3, `dnd_until ${s.dnd_until}`);
  // The profile shows it on; turning it off clears it at the node.
  await page.click('#edit-profile');
  await page.waitForSelector('#dialog[open] #pf-dnd');
  assert.equal(await page.inputValue('#pf-dnd'), 'keep');
  assert.match(await page.$eval('#pf-dnd option[value="keep"]', (o) => o.textContent), /^On until /);
  await page.selectOption('#pf-dnd', 'off');
  await page.click('#dialog-ok');
  await until(settings, (v) => v.dnd_until === null, 'do-not-disturb is off again');
  await ctx.close();
});

test('a link /#/g/<group>/e/<event> opens that message, also one many pages back', async () => {
  const alice = await apiUser('alice3');
  const hist = await group(alice, 'history', 'History');
  const target = await say(hist, alice, 'the one to find');
  for (let i = 0; i < 120; i++) await say(hist, alice, `filler ${i}`);
  const ctx = await env.chrome.newContext();
  const page = await ctx.newPage();
  const pageReady = streamReady(page);
  await register(page, env.node.url, 'dave');
  await pageReady;
  await join(hist, await token(page));
  const link = (ev) => `${env.node.url}/#/g/${encodeURIComponent(hist)}/e/${encodeURIComponent(ev)}`;
  // A new window at the link (what the service worker opens).
  await page.goto('about:blank');
  await page.goto(link(target));
  await page.waitForSelector('#room-title:has-text("History")');
  const linked = page.locator(`#timeline li.linked[data-event-id="${target}"]`);
  await linked.waitFor();
  assert.equal(await linked.locator('.body').textContent(), 'the one to find');
  assert.ok(await linked.evaluate((li) => {  // scrolled into the timeline's view
    const r = li.getBoundingClientRect();
    const view = document.getElementById('timeline').getBoundingClientRect();
    return r.top >= view.top && r.bottom <= view.bottom;
  }));
  assert.equal(await page.evaluate(() => location.hash), '');  // followed once, then cleared
  // A link followed in the open window.
  const other = await say(hist, alice, 'a later one');
  await page.evaluate((href) => { location.href = href; }, link(other));
  await page.locator(`#timeline li.linked[data-event-id="${other}"]`).waitFor();
  await ctx.close();
});

test('"Enable desktop notifications" asks the node for its key and says plainly why it cannot subscribe here', async () => {
  const ctx = await env.chrome.newContext({ permissions: ['notifications'] });
  const page = await ctx.newPage();
  const pageReady = streamReady(page);
  await register(page, env.node.url, 'erin');
  await pageReady;
  await page.click('#edit-profile');
  await page.waitForSelector('#push-toggle:has-text("Enable desktop notifications")');
  assert.equal(await page.textContent('#push-state'), 'Off on this browser.');
  await page.click('#push-toggle');
  // A node without Web Push answers 404 for the key; with it, headless
  // Chromium reaches no push service: either way a sentence, not a code.
  await page.waitForFunction(() => document.getElementById('push-error').textContent !== '');
  assert.match(await page.textContent('#push-error'),
    /^(This server does not offer desktop notifications\.|The browser's push service refused the subscription \(.+\)\.)$/);
  assert.equal(await page.textContent('#push-toggle'), 'Enable desktop notifications');
  const r = await call(env.node, 'GET', '/me/pushers', undefined, await token(page));
  assert.deepEqual(r.body.pushers, []);
  await ctx.close();
});

test('120 mentions sent at once count 120 ("99+" on the badge) and the inbox shows the newest 50', async () => {
  const alice = await apiUser('burster');
  const busy = await group(alice, 'busy', 'Busy');
  const { ctx, page, tok } = await memberPage('frank', busy);
  const sent = await Promise.all(Array.from({ length: 120 }, (_, i) => say(busy, alice, `@frank:acme.test burst ${i}`)));
  assert.equal(new Set(sent).size, 120);
  await page.waitForFunction(() => document.title === '(120) GroupChat', null, { timeout: 60000 });
  assert.equal(await page.textContent('#bell-count'), '99+');
  assert.equal(await page.getAttribute('#bell', 'aria-label'), 'Notifications, 120 unread');
  await page.click('#bell');
  await page.waitForFunction(() => document.querySelectorAll('#inbox-list li.unread').length === 50);
  const previews = (await inboxEntries(page)).map((e) => e.preview);
  assert.equal(new Set(previews).size, 50);
  assert.ok(previews.every((p) => /^@frank:acme\.test burst \d+$/.test(p)));
  // "Mark all read" reads everything up to the newest entry, also the 70
  // older ones the panel does not show.
  await page.click('#inbox-read-all');
  await waitForUnread(page, 0);
  assert.equal((await call(env.node, 'GET', '/me/notifications?limit=1', undefined, tok)).body.unread, 0);
  await ctx.close();
});

test('40 plain messages sent at once are one unread entry of the group, "40 new messages"', async () => {
  const alice = await apiUser('chatter');
  const busy = await group(alice, 'chatty', 'Chatty');
  const { ctx, page, tok } = await memberPage('ivy', busy);
  const sent = await Promise.all(Array.from({ length: 40 }, (_, i) => say(busy, alice, `chat ${i}`)));
  assert.equal(new Set(sent).size, 40);
  // The client counts the group's first plain message and not the others.
  await page.waitForFunction(() => document.title === '(1) GroupChat', null, { timeout: 60000 });
  await until(async () => (await call(env.node, 'GET', '/me/notifications', undefined, tok)).body,
    (r) => r.notifications.length === 1 && r.notifications[0].count === 40 && r.unread === 1,
    'the 40 messages are one entry');
  await page.click('#bell');
  await page.waitForSelector('#inbox-list li.unread .entry-count:has-text("40 new messages")');
  assert.equal(await page.locator('#inbox-list li').count(), 1);
  assert.equal(await page.title(), '(1) GroupChat');
  await ctx.close();
});

test('a mention acknowledged just before the node is SIGKILLed reaches the bell after the restart', async () => {
  const alice = await apiUser('crasher');
  const g = await group(alice, 'crash', 'Crash');
  const { ctx, page, tok } = await memberPage('gina', g);
  const before = (await call(env.node, 'GET', '/me/notifications?limit=1', undefined, tok)).body.unread;
  await say(g, alice, '@gina:acme.test before the crash');
  await env.node.kill('SIGKILL');
  await env.node.start();
  // The page's stream reconnects; the inbox is read again at its `ready`.
  await waitForUnread(page, before + 1, 60000);  // after the database's crash recovery
  await page.click('#bell');
  await page.waitForSelector('#inbox-list li.unread .entry-preview:has-text("@gina:acme.test before the crash")');
  await ctx.close();
});

test('a group joined while a fresh account\'s stream is still opening shows up without a reload', async () => {
  const alice = await apiUser('early');
  const g = await group(alice, 'early', 'Early');
  const ctx = await env.chrome.newContext();
  const page = await ctx.newPage();
  // The client asks for its stream ticket after it has loaded its groups:
  // join right then, so the join falls between that load and the stream.
  await page.route('**/api/v1/stream/tickets', async (route) => {
    await join(g, route.request().headers().authorization.replace(/^Bearer /, ''));
    await route.continue();
  }, { times: 1 });
  await register(page, env.node.url, 'hank');
  await page.waitForSelector('#groups button[data-group="#early:acme.test"]');
  await ctx.close();
});
