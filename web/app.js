// GroupChat web client: the entry module (index.html loads it with
// <script type="module">) and the client's composition root. Build-free ES
// modules, one concern each:
//
//   js/bus.js       the synchronous event bus between modules (event list there)
//   js/store.js     client state, what survives a reload, the timeline model
//   js/api.js       the HTTP API client (token, errors)
//   js/stream.js    the WebSocket stream: tickets, reconnect, resume with since
//   js/sync.js      loads from the API into the store; applies stream frames
//   js/outbox.js    messages waiting to be sent, resent until the node has them
//   js/media.js     uploads, media metadata, the blob URLs images and players show
//   js/notifications.js  the notification inbox and its unread count
//   js/push.js      desktop notifications: Web Push subscription and pusher
//   sw.js           the service worker (shows pushed notifications)
//   js/views/*.js   one per part of the screen; each exports mount()
//
// Dependencies point one way: views -> sync, outbox, stream -> api -> store,
// bus. Core modules never import a view; they emit bus events that views
// subscribe to. A new screen (attachments, notifications) is a module in
// js/views/ added to `views` below; a new stream frame type is a bus event
// `frame:<type>` it can subscribe to.
//
// Message bodies and every other piece of user text go into the page with
// textContent only (never as HTML); links are made with createElement and
// only for http(s) URLs (js/views/message.js).
import { api } from './js/api.js';
import { emit, on } from './js/bus.js';
import { $ } from './js/dom.js';
import { flushOutbox } from './js/outbox.js';
import { clearSession, state } from './js/store.js';
import * as stream from './js/stream.js';
import { applyEvent, applyPresence, applyRead, bootstrapCursor, loadGroups } from './js/sync.js';
import * as attachments from './js/views/attachments.js';
import * as auth from './js/views/auth.js';
import * as avatars from './js/views/avatars.js';
import * as bell from './js/views/bell.js';
import * as composer from './js/views/composer.js';
import * as groups from './js/views/groups.js';
import * as notifyPrefs from './js/views/notify_prefs.js';
import * as profile from './js/views/profile.js';
import * as pwa from './js/views/pwa.js';
import * as room from './js/views/room.js';
import * as status from './js/views/status.js';
import * as timeline from './js/views/timeline.js';
import * as typing from './js/views/typing.js';
import * as upload from './js/views/upload.js';

// Every view, mounted once at load with the session's entry points. Views
// subscribe to bus events in mount(), in this order.
const views = [status, auth, groups, timeline, composer, typing, room, profile, attachments, avatars, upload, bell,
  notifyPrefs, pwa];

// Opens the session of the stored token: profile, groups, stream, outbox,
// and the group the address links to (views/pwa.js) or else the first
// group. Throws if the token is refused.
async function start() {
  state.me = await api('GET', '/me');
  profile.showMe();
  auth.showApp();
  await loadGroups();
  bootstrapCursor();  // a fresh session's stream starts after what was just loaded
  if (!state.cursor) {
    // No group, so no cursor: the stream opens without since and misses what
    // happens before its ready (a join, an invitation): read the groups again then.
    const off = on('frame:ready', () => { off(); loadGroups().catch(() => {}); });
  }
  stream.connect();
  flushOutbox();
  if (pwa.openLinkedMessage()) return;  // the address links to a message
  const first = [...state.groups.values()].find((g) => g.membership === 'join');
  if (first && !state.current) timeline.openGroup(first.group_id);
}

function signedOut(message) {
  stream.disconnect();
  clearSession();
  auth.showSignIn(message);
}

// A group event from the stream: the store takes it, then the screen follows.
function onEvent(ev) {
  const outcome = applyEvent(ev);
  if (outcome === 'unknown') { loadGroups(); return; }
  if (outcome === 'ignored') return;
  if (outcome === 'gone' && state.current === ev.group_id) timeline.closeGroup();
  emit('groups-changed');
  if (outcome === 'gone' || state.current !== ev.group_id) return;
  if (outcome === 'shown') { timeline.renderTimeline(true); timeline.markRead(); }
  if (ev.type === 'group.settings') timeline.renderHeader();
}

for (const view of views) view.mount({ start });
on('session-ended', signedOut);
on('frame:ready', () => flushOutbox());
on('frame:event', (f) => onEvent(f.event));
on('frame:presence', applyPresence);
on('frame:read', applyRead);
window.addEventListener('online', flushOutbox);

if (state.token) {
  start().catch(() => signedOut());
} else {
  $('auth').hidden = false;
}
