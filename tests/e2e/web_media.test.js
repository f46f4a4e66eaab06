// Attachments in the web client and the console's Media page, in a real
// browser against a real node: alice attaches an image with the Attach
// button and both users see its thumbnail (bob opens it full size and
// downloads it); a pasted screenshot and a dropped file are uploaded; a slow
// upload shows its progress and, cancelled, leaves no message; a file over
// the node's limit and a broken image give readable errors; a sound and a
// video play inline, streamed from signed links (Range, 206); an avatar set in the profile shows next to messages and in the
// member list; and an admin finds the upload on the Media page and
// quarantines it, after which bob's client can no longer load it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startNode, launchBrowser, register, shot, call, cli, axeViolations } from './harness.js';

const LIMIT = 2000000;  // limits.max_upload_bytes of this node
const QUOTA = 1900000;  // media.quota_bytes_per_user
let node;
let chrome;
let alice;
let bob;
const errors = [];

before(async () => {
  node = await startNode({ extraYaml: `limits:\n  max_upload_bytes: ${LIMIT}\nmedia:\n  quota_bytes_per_user: ${QUOTA}\n` });
  chrome = await launchBrowser();
  cli(node, ['admin', 'create-user', '--username', 'root', '--password-file', '-', '--admin'], 'rootpassword\n');
});

after(async () => {
  if (chrome) await chrome.close();
  if (node) await node.stop();
});

// A real image of w x h pixels, drawn and encoded by the browser.
async function makeImage(page, w, h, type = 'image/png') {
  const b64 = await page.evaluate(async ([w, h, type]) => {
    const c = new OffscreenCanvas(w, h);
    const g = c.getContext('2d');
    g.fillStyle = '#2f5bd3';
    g.fillRect(0, 0, w, h);
    g.fillStyle = '#f5c518';
    g.fillRect(w / 4, h / 4, w / 2, h / 2);
    const bytes = new Uint8Array(await (await c.convertToBlob({ type })).arrayBuffer());
    let s = '';
    for (const x of bytes) s += String.fromCharCode(x);
    return btoa(s);
  }, [w, h, type]);
  return Buffer.from(b64, 'base64');
}

// A second of a 440 Hz tone as 8 kHz 8-bit mono WAV.
function makeWav() {
  const n = 8000;
  const b = Buffer.alloc(44 + n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + n, 4); b.write('WAVE', 8); b.write('fmt ', 12);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(8000, 28); b.writeUInt16LE(1, 32); b.writeUInt16LE(8, 34); b.write('data', 36); b.writeUInt32LE(n, 40);
  for (let i = 0; i < n; i++) b[44 + i] = 128 + Math.round(100 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  return b;
}

const tokenOf = (page) => page.evaluate(() => localStorage.getItem('gc.token'));

// The attachment box of the message carrying the file named `name`.
const attachmentSel = (name) => `#timeline .attachment:has(img[alt="${name}"]), #timeline .attachment:has(.file-name:text-is("${name}"))`;

async function waitForThumbnail(page, name) {
  await page.waitForFunction((n) => {
    const img = [...document.querySelectorAll('#timeline .attachment img')].find((i) => i.alt === n);
    return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
  }, name, { timeout: 15000 });
}

async function attachByButton(page, file) {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('#attach')]);
  await chooser.setFiles(file);
}

// The group's messages that carry media, through the API.
async function mediaMessages(page) {
  const r = await call(node, 'GET', `/groups/${encodeURIComponent('#media:acme.test')}/messages?limit=100`, undefined, await tokenOf(page));
  assert.equal(r.status, 200);
  return r.body.events.filter((e) => e.type === 'message' && e.content.media_id);
}

test('an image attached with the button shows as a thumbnail for both users and opens full size', async () => {
  alice = await (await chrome.newContext({ acceptDownloads: true })).newPage();
  bob = await (await chrome.newContext({ acceptDownloads: true })).newPage();
  for (const p of [alice, bob]) p.on('pageerror', (e) => errors.push(e.message));
  await register(alice, node.url, 'alice');
  await alice.click('#new-group');
  await alice.fill('#ng-name', 'media');
  await alice.fill('#ng-title', 'Media');
  await alice.click('#dialog-ok');
  await alice.waitForSelector('#room-title:has-text("Media")');
  await register(bob, node.url, 'bob');
  await bob.fill('#join-address', '#media:acme.test');
  await bob.click('#join-form button');
  await bob.waitForSelector('#room-title:has-text("Media")');

  const png = await makeImage(alice, 640, 480);
  await attachByButton(alice, { name: 'photo.png', mimeType: 'image/png', buffer: png });
  for (const p of [alice, bob]) await waitForThumbnail(p, 'photo.png');

  // The preview's box is reserved at the image's proportions (640x480 fits 320x240).
  const img = await bob.$('#timeline .attachment img[alt="photo.png"]');
  assert.deepEqual(await img.evaluate((i) => [i.getAttribute('width'), i.getAttribute('height'), i.naturalWidth]), ['320', '240', 320]);
  const [msg] = await mediaMessages(alice);
  assert.equal(msg.content.body, '');
  assert.equal(msg.sender, '@alice:acme.test');

  // Full size in the lightbox, by keyboard; Download saves it under its name.
  await bob.focus('#timeline .attachment button.thumb');
  await bob.keyboard.press('Enter');
  await bob.waitForFunction(() => {
    const i = document.querySelector('#lightbox[open] #lightbox-image');
    return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth === 640;
  });
  assert.equal(await bob.getAttribute('#lightbox-image', 'alt'), 'photo.png');
  await shot(bob, 'web-media-lightbox');
  const [download] = await Promise.all([bob.waitForEvent('download'), bob.click('#lightbox-download')]);
  assert.equal(download.suggestedFilename(), 'photo.png');
  const saved = fs.readFileSync(await download.path());
  assert.deepEqual([...saved.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);  // a PNG (re-encoded by the node)
  const original = await bob.getAttribute('#lightbox-image', 'src');
  await bob.keyboard.press('Escape');
  await bob.waitForSelector('#lightbox', { state: 'hidden' });

  // Once the grace time has passed, the original nothing shows any more is
  // revoked; the thumbnail still on screen is kept.
  const cache = await bob.evaluate(async (src) => {
    const media = await import('/js/media.js');  // the client's own instance
    const alive = (url) => new Promise((resolve) => {  // (connect-src does not take blob: URLs; img-src does)
      const img = new Image();
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
      img.src = url;
    });
    const thumb = document.querySelector('#timeline .attachment img[alt="photo.png"]').src;
    const before = [await alive(src), await alive(thumb)];
    media.sweep(Date.now() + 61000);
    return { before, after: [await alive(src), await alive(thumb)] };
  }, original);
  assert.deepEqual(cache, { before: [true, true], after: [false, true] });
});

test('a pasted screenshot is uploaded and shown', async () => {
  const png = (await makeImage(alice, 300, 200)).toString('base64');
  await alice.focus('#message');
  const prevented = await alice.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
    const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
    document.getElementById('message').dispatchEvent(ev);
    return ev.defaultPrevented;
  }, png);
  assert.equal(prevented, true);
  const name = await alice.waitForFunction(() => {
    const img = [...document.querySelectorAll('#timeline .attachment img')].find((i) => i.alt.startsWith('Pasted image'));
    return img && img.src.startsWith('blob:') && img.complete && img.naturalWidth === 300 ? img.alt : null;
  }, null, { timeout: 15000 });
  await waitForThumbnail(bob, await name.jsonValue());
  // Pasting text still pastes text.
  assert.equal(await alice.evaluate(() => {
    const dt = new DataTransfer();
    dt.setData('text/plain', 'hello');
    const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
    document.getElementById('message').dispatchEvent(ev);
    return ev.defaultPrevented;
  }), false);
});

test('files dropped on the conversation become file cards that download', async () => {
  const text = 'minutes of the meeting\n'.repeat(40);
  const accepted = await alice.evaluate((t) => {
    const dt = new DataTransfer();  // three at once: uploaded side by side, each its own message
    dt.items.add(new File([t], 'notes.txt', { type: 'text/plain' }));
    dt.items.add(new File(['one'], 'one.txt', { type: 'text/plain' }));
    dt.items.add(new File(['two'], 'two.txt', { type: 'text/plain' }));
    const target = document.getElementById('timeline');
    const fire = (type) => {
      const ev = new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true });
      target.dispatchEvent(ev);
      return ev.defaultPrevented;
    };
    // Dropped beside the conversation, a file is refused (not opened in place of the page).
    const sidebar = new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true });
    document.getElementById('sidebar').dispatchEvent(sidebar);
    if (!sidebar.defaultPrevented || !document.getElementById('uploads').hidden) return false;
    const over = fire('dragenter') && fire('dragover');
    const highlighted = document.getElementById('room').classList.contains('dropping');
    return over && highlighted && fire('drop') && !document.getElementById('room').classList.contains('dropping');
  }, text);
  assert.equal(accepted, true);
  for (const p of [alice, bob]) {
    for (const name of ['notes.txt', 'one.txt', 'two.txt']) await p.waitForSelector(attachmentSel(name), { timeout: 15000 });
  }
  const card = await bob.textContent(`${attachmentSel('notes.txt')} .file-meta`);
  assert.match(card, /text\/plain · 920 B/);
  const [download] = await Promise.all([bob.waitForEvent('download'),
    bob.click(`${attachmentSel('notes.txt')} button[aria-label="Download notes.txt"]`)]);
  assert.equal(download.suggestedFilename(), 'notes.txt');
  assert.equal(fs.readFileSync(await download.path(), 'utf8'), text);
});

test('a sound plays inline', async () => {
  await attachByButton(alice, { name: 'tone.wav', mimeType: 'audio/wav', buffer: makeWav() });
  const sel = attachmentSel('tone.wav');
  await bob.waitForSelector(`${sel} button[aria-label="Play tone.wav"]`, { timeout: 15000 });
  await bob.click(`${sel} button[aria-label="Play tone.wav"]`);
  await bob.waitForFunction(() => {
    const a = document.querySelector('#timeline .attachment audio[aria-label="tone.wav"]');
    return a && a.src.includes('/signed?') && a.readyState >= 1 && Math.abs(a.duration - 1) < 0.01;
  });
});

test('a video plays inline', async () => {
  // A short WebM clip, recorded by the browser from a canvas; a recording
  // that the browser cannot play back itself (no frame made it in) is made again.
  const b64 = await alice.evaluate(async () => {
    const record = async () => {
      const c = document.createElement('canvas');
      c.width = 160;
      c.height = 120;
      const g = c.getContext('2d');
      const rec = new MediaRecorder(c.captureStream(25), { mimeType: 'video/webm' });
      const chunks = [];
      rec.ondataavailable = (e) => chunks.push(e.data);
      let started = false;  // onstart comes once frames flow, not at start()
      rec.onstart = () => { started = true; };
      const stopped = new Promise((r) => { rec.onstop = r; });
      rec.start();
      let recorded = 0;  // frames drawn while recording (bounded: 500 in all)
      for (let i = 0; i < 500 && recorded < 20; i++) {
        g.fillStyle = `hsl(${i * 18}, 80%, 50%)`;
        g.fillRect(0, 0, 160, 120);
        await new Promise((r) => requestAnimationFrame(r));
        if (started) recorded++;
      }
      rec.stop();
      await stopped;
      return new Blob(chunks, { type: 'video/webm' });
    };
    const playable = (blob) => new Promise((resolve) => {
      const v = document.createElement('video');
      v.onloadedmetadata = () => resolve(v.videoWidth === 160);
      v.onerror = () => resolve(false);
      setTimeout(() => resolve(false), 10000);  // a deadline: neither event came
      v.src = URL.createObjectURL(blob);
    });
    for (let attempt = 0; attempt < 5; attempt++) {
      const blob = await record();
      if (!(await playable(blob))) continue;
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (const x of bytes) s += String.fromCharCode(x);
      return btoa(s);
    }
    throw new Error('the browser recorded no playable clip in 5 attempts');
  });
  await attachByButton(alice, { name: 'clip.webm', mimeType: 'video/webm', buffer: Buffer.from(b64, 'base64') });
  await bob.waitForSelector('#timeline .attachment button[aria-label="Play clip.webm"]', { timeout: 15000 });
  assert.match(await bob.textContent(`${attachmentSel('clip.webm')} .file-meta`), /^video\/webm · /);
  // The player streams from a signed link (no token in a header), with
  // Range requests that the node answers 206.
  const streamed = [];
  const seen = (r) => { if (r.url().includes('/signed?')) streamed.push(r.status()); };
  bob.on('response', seen);
  await bob.click('#timeline .attachment button[aria-label="Play clip.webm"]');
  await bob.waitForFunction(() => {
    const v = document.querySelector('#timeline .attachment video[aria-label="clip.webm"]');
    return v && /\/api\/v1\/media\/.+\/signed\?u=.+&exp=\d+&sig=/.test(v.src) && v.readyState >= 1 && v.videoWidth === 160;
  });
  bob.off('response', seen);
  assert.ok(streamed.includes(206), `the signed link's answers: ${streamed.join(', ')}`);
  assert.ok(streamed.every((s) => s === 200 || s === 206), `the signed link's answers: ${streamed.join(', ')}`);
  // A new message re-renders the timeline; the player is the same element.
  await bob.evaluate(() => { window.player = document.querySelector('#timeline video'); });
  await alice.fill('#message', 'nice clip');
  await alice.press('#message', 'Enter');
  await bob.waitForFunction(() => [...document.querySelectorAll('#timeline .msg .body')].some((b) => b.textContent === 'nice clip'));
  assert.equal(await bob.evaluate(() => document.querySelector('#timeline video') === window.player && window.player.isConnected), true);
});

test('an upload acknowledged before the node is killed is sent once it is back', async () => {
  // Alice's sends fail for now, so only the upload reaches the node.
  const hold = (route) => (route.request().method() === 'POST' ? route.abort() : route.continue());
  await alice.route('**/api/v1/groups/*/messages', hold);
  await attachByButton(alice, { name: 'survivor.txt', mimeType: 'text/plain', buffer: Buffer.from('still here') });
  await alice.waitForFunction(() => JSON.parse(localStorage.getItem('gc.outbox') || '[]').some((m) => m.media_id));
  await node.kill('SIGKILL');
  await node.start();
  await alice.unroute('**/api/v1/groups/*/messages', hold);
  for (const p of [alice, bob]) await p.waitForSelector(attachmentSel('survivor.txt'), { timeout: 30000 });
  assert.equal((await mediaMessages(alice)).filter((m) => m.content.body === '').length >= 1, true);
  await alice.waitForFunction(() => JSON.parse(localStorage.getItem('gc.outbox') || '[]').length === 0);
});

test('an upload shows its progress and, cancelled, sends nothing', async () => {
  const before = (await mediaMessages(alice)).length;
  // Slow alice's uploads down so that the upload is still going when cancelled.
  const cdp = await alice.context().newCDPSession(alice);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 64 * 1024 });
  try {
    await attachByButton(alice, { name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1500000, 7) });
    const bar = '#uploads progress[aria-label="Uploading big.bin"]';
    await alice.waitForFunction((s) => { const p = document.querySelector(s); return p && p.value > 0 && p.value < 100; }, bar, { timeout: 15000 });
    await shot(alice, 'web-media-progress');
    await alice.click('#uploads button[aria-label="Cancel upload of big.bin"]');
    await alice.waitForSelector(bar, { state: 'detached' });
    assert.equal(await alice.isHidden('#uploads'), true);
  } finally {
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  }
  // A message after the cancel arrives, and nothing came before it.
  await alice.fill('#message', 'after the cancel');
  await alice.press('#message', 'Enter');
  await bob.waitForFunction(() => [...document.querySelectorAll('#timeline .msg .body')].some((b) => b.textContent === 'after the cancel'));
  assert.equal((await mediaMessages(alice)).length, before);
  assert.equal(await bob.$(attachmentSel('big.bin')), null);
});

test('a file over the limit, over the quota, and a broken image give readable errors', async () => {
  await attachByButton(alice, { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(LIMIT + 500000, 1) });
  const err = await alice.waitForSelector('#uploads .upload.failed [role="alert"]', { timeout: 15000 });
  assert.match(await err.textContent(), /^“huge\.bin” is too large to upload \(2\.4 MB\): .*over the limit/);
  await shot(alice, 'web-media-too-large');
  await alice.click('#uploads button[aria-label="Dismiss the error about huge.bin"]');
  assert.equal(await alice.isHidden('#uploads'), true);

  await attachByButton(alice, { name: 'hoard.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(QUOTA, 2) });
  const quota = await alice.waitForSelector('#uploads .upload.failed [role="alert"]', { timeout: 15000 });
  assert.match(await quota.textContent(), /^“hoard\.bin” would take you over your storage quota: .*quota of 1900000 bytes/);
  await alice.click('#uploads button[aria-label="Dismiss the error about hoard.bin"]');

  const png = await makeImage(alice, 200, 200);
  await attachByButton(alice, { name: 'broken.png', mimeType: 'image/png', buffer: png.subarray(0, 120) });
  const bad = await alice.waitForSelector('#uploads .upload.failed [role="alert"]', { timeout: 15000 });
  assert.match(await bad.textContent(), /“broken\.png” could not be read as an image/);
  await alice.click('#uploads button[aria-label="Dismiss the error about broken.png"]');
  assert.equal((await fetch(node.url + '/healthz')).status, 200);
});

test('the conversation with attachments passes an accessibility audit', async () => {
  assert.deepEqual(await axeViolations(bob), []);
  await shot(bob, 'web-media-timeline');
});

test('an avatar set in the profile shows next to messages and in the member list', async () => {
  await alice.click('#edit-profile');
  const png = await makeImage(alice, 200, 200, 'image/jpeg');
  const [chooser] = await Promise.all([alice.waitForEvent('filechooser'), alice.click('#avatar-upload')]);
  await chooser.setFiles({ name: 'me.jpg', mimeType: 'image/jpeg', buffer: png });
  await alice.waitForSelector('.avatar-status:text-is("Picture saved.")', { timeout: 15000 });
  await alice.waitForSelector('.avatar-current .avatar img[src^="blob:"]');
  await alice.click('#dialog button[value="cancel"]');
  const me = await call(node, 'GET', '/me', undefined, await tokenOf(alice));
  assert.match(me.body.avatar_media_id, /^acme\.test\//);
  await alice.waitForSelector('#timeline .msg .who .avatar[data-user="@alice:acme.test"] img[src^="blob:"]');

  // Bob's client learns profiles at load (or after a few minutes).
  await bob.reload();
  await bob.waitForSelector('#timeline .msg .who .avatar[data-user="@alice:acme.test"] img[src^="blob:"]', { timeout: 15000 });
  assert.equal(await bob.$('#timeline .msg .who .avatar[data-user="@bob:acme.test"] img'), null);  // bob has none: an initial
  await bob.click('#members');
  await bob.waitForSelector('#dialog-body li .avatar[data-user="@alice:acme.test"] img[src^="blob:"]');
  await shot(bob, 'web-media-members');
  await bob.keyboard.press('Escape');
});

test('the console lists the upload; quarantine makes it fail to load for others', async () => {
  const ctx = await chrome.newContext();
  const admin = await ctx.newPage();
  admin.on('pageerror', (e) => errors.push(e.message));
  admin.on('dialog', (d) => d.accept());
  await admin.goto(node.url + '/admin/');
  await admin.fill('#username', 'root');
  await admin.fill('#password', 'rootpassword');
  await admin.click('#login-form button[type=submit]');
  await admin.waitForSelector('#console:not([hidden])');
  await admin.click('.tabs button[data-tab="media"]');
  await admin.waitForSelector('#uploader-rows tr[data-user="@alice:acme.test"]');
  const row = '#media-rows tr:has(td:text-is("photo.png"))';
  await admin.waitForSelector(row);
  assert.match(await admin.textContent(row), /image\/png.*@alice:acme\.test.*available/);
  assert.deepEqual(await axeViolations(admin), []);

  // Filters: images of alice only; files over 1 MB: none.
  await admin.selectOption('#media-type', 'image/');
  await admin.fill('#media-uploader', '@alice:acme.test');
  await admin.click('#media-filter button[type=submit]');
  await admin.waitForFunction(() => [...document.querySelectorAll('#media-rows tr')].every((r) => r.children[1].textContent.startsWith('image/')));
  assert.equal(await admin.$('#media-rows tr:has(td:text-is("notes.txt"))'), null);
  await admin.fill('#media-min', '1');
  await admin.click('#media-filter button[type=submit]');
  await admin.waitForSelector('#media-empty:not([hidden])');
  await admin.click('#media-filter button[type=reset]');
  await admin.waitForSelector('#media-rows tr:has(td:text-is("notes.txt"))');
  await shot(admin, 'admin-media');

  await admin.click(`${row} button[aria-label="Quarantine photo.png"]`);
  await admin.waitForSelector(`${row} .pill.off:text-is("quarantined")`);
  const [item] = await mediaMessages(alice);
  const r = await fetch(`${node.url}/api/v1/media/${item.content.media_id}/thumbnail?size=320`, { headers: { Authorization: `Bearer ${await tokenOf(bob)}` } });
  assert.equal(r.status, 404);
  const audit = await call(node, 'GET', '/admin/audit?limit=10', undefined,
    (await call(node, 'POST', '/auth/login', { username: 'root', password: 'rootpassword' })).body.access_token);
  assert.ok(audit.body.entries.some((e) => e.action === 'media.quarantine' && e.target === item.content.media_id));

  // Bob's client had the picture (and the browser's cache has it); after a
  // reload it asks the node again and shows it as unavailable.
  await bob.reload();
  await bob.waitForSelector('#timeline .attachment.unavailable', { timeout: 15000 });
  assert.equal(await bob.$('#timeline .attachment img[alt="photo.png"]'), null);

  // Released, it shows again.
  await admin.click(`${row} button[aria-label="Release photo.png"]`);
  await admin.waitForSelector(`${row} .pill:text-is("available")`);
  await bob.reload();
  await waitForThumbnail(bob, 'photo.png');
  await ctx.close();
  assert.deepEqual(errors, []);
  assert.deepEqual(chrome.outside, []);
});
