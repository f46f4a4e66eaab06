// The notification inbox in the client: the newest page of
// GET /api/v1/me/notifications and the unread count, kept in step with the
// stream. No DOM: after every change it emits `notifications-changed` and the
// bell (views/bell.js) renders.
//
// The `notification` and `notification.read` frames are ephemeral (spec/
// stream.md 3.5.1): what happened while the stream was down is read again
// from the API at every `ready`. A `notification` frame replaces the entry
// with the same notification_id (a withdrawal comes that way) and carries
// the new unread count; `notification.read` carries only the count, so the
// read marks of the entries shown are fetched again unless it is 0.
//
// A plain `message` entry (a group at level `all`) has no frame: its message
// comes as an `event`, and applyMessageEvent counts it by the same rule as
// the node, with the levels of /me/notification-settings. The node keeps one
// unread `message` entry per group and adds later plain messages to it
// (spec/notifications.md 1.1), so a message counts only in a group with no
// unread entry known here (`openGroups`). The entries shown are then stale
// and are read again when the inbox is opened (refresh()).
import { api } from './api.js';
import { emit } from './bus.js';
import { state } from './store.js';

export const inbox = {
  entries: [],    // newest first, at most PAGE
  unread: 0,
  loaded: false,
  stale: false,   // entries were made that `entries` does not hold
};
let levels = { default_level: 'all', groups: {} };
// Groups with an unread `message` entry, as far as this client knows.
const openGroups = new Set();

function rememberOpen(entries) {
  openGroups.clear();
  for (const e of entries) if (e.kind === 'message' && !e.read && !e.withdrawn) openGroups.add(e.group_id);
}

const PAGE = 50;

function changed() { emit('notifications-changed'); }

// Reads the newest page and the count again. Calls that arrive while one is
// in flight make one more read after it, never several.
let loading = null;
let again = false;
export async function reload() {
  if (loading) { again = true; return loading; }
  loading = (async () => {
    do {
      again = false;
      inbox.stale = false;
      const r = await api('GET', `/me/notifications?limit=${PAGE}`);
      inbox.entries = r.notifications;
      inbox.unread = r.unread;
      rememberOpen(r.notifications);
      inbox.loaded = true;
      changed();
    } while (again);
  })();
  try { await loading; } finally { loading = null; }
}

// Reads the levels again (at every ready, and after the user changed one).
export async function reloadLevels() {
  const r = await api('GET', '/me/notification-settings');
  levels = { default_level: r.default_level, groups: r.groups || {} };
}

// Reads the entries again if some were made that no frame brought (the
// inbox is being shown).
export function refresh() {
  return inbox.stale ? reload() : Promise.resolve();
}

// An `event` frame: a message that makes a plain `message` entry on the node
// adds one to the count. Mentions and replies to the user are left to their
// frames; a reply is recognised when the message it answers is in the
// timeline (otherwise the frame's count corrects it).
export function applyMessageEvent(f) {
  const ev = f.event;
  if (!ev || ev.type !== 'message' || !state.me || ev.sender === state.me.user_id) return;
  const me = state.me.user_id;
  if ((levels.groups[ev.group_id] || levels.default_level) !== 'all') return;
  if ((ev.content.mentions || []).includes(me)) return;
  const tl = state.timelines.get(ev.group_id);
  const answered = ev.content.reply_to && tl && tl.events.get(ev.content.reply_to);
  if (answered && answered.sender === me) return;
  if (loading) again = true;  // the count being read may or may not hold it
  if (!openGroups.has(ev.group_id)) {
    openGroups.add(ev.group_id);
    inbox.unread += 1;  // a new entry; otherwise the message joins the group's unread one
  }
  inbox.stale = true;
  changed();
}

// Drops the inbox (signing out).
export function clearInbox() {
  inbox.entries = [];
  inbox.unread = 0;
  inbox.loaded = false;
  inbox.stale = false;
  openGroups.clear();
  levels = { default_level: 'all', groups: {} };
  changed();
}

// A `notification` frame: the entry goes to the top, or replaces its old self.
export function applyNotification(f) {
  const n = f.notification;
  if (!n) return;
  const i = inbox.entries.findIndex((e) => e.notification_id === n.notification_id);
  if (i >= 0) inbox.entries[i] = n;
  else {
    inbox.entries.push(n);
    inbox.entries.sort((a, b) => b.notification_id - a.notification_id);
    if (inbox.entries.length > PAGE) inbox.entries.length = PAGE;
  }
  if (typeof f.unread === 'number') inbox.unread = f.unread;
  else if (i < 0 && !n.read) inbox.unread += 1;
  changed();
}

// A `notification.read` frame (this device or another one read something).
export function applyNotificationRead(f) {
  if (typeof f.unread !== 'number') return;
  inbox.unread = f.unread;
  if (f.unread === 0) {
    for (const e of inbox.entries) e.read = true;
    openGroups.clear();
  }
  changed();
  if (f.unread > 0) reload().catch(() => { /* the next ready reads it */ });
}

// Marks every entry up to the newest one known read ("mark all read").
export async function markAllRead() {
  if (inbox.stale) await reload();
  const newest = inbox.entries.reduce((m, e) => Math.max(m, e.notification_id), 0);
  if (!newest) return;
  for (const e of inbox.entries) e.read = true;
  openGroups.clear();
  const r = await api('POST', '/me/notifications/read', { up_to: newest });
  inbox.unread = r.unread;
  changed();
}

// Marks one entry read (the user opened it from the inbox). On the server
// only when no other entry below it is unread, since up_to marks everything
// below it; otherwise the group's read marker clears it there.
export async function markEntryRead(entry) {
  if (entry.read) return;
  const unreadShown = inbox.entries.filter((e) => !e.read).length;
  const olderUnread = inbox.unread > unreadShown ||
    inbox.entries.some((e) => e.notification_id < entry.notification_id && !e.read);
  entry.read = true;
  changed();
  if (olderUnread) return;
  const r = await api('POST', '/me/notifications/read', { up_to: entry.notification_id });
  inbox.unread = r.unread;
  changed();
}
