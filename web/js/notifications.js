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
import { api } from './api.js';
import { emit } from './bus.js';

export const inbox = {
  entries: [],    // newest first, at most PAGE
  unread: 0,
  loaded: false,
};

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
      const r = await api('GET', `/me/notifications?limit=${PAGE}`);
      inbox.entries = r.notifications;
      inbox.unread = r.unread;
      inbox.loaded = true;
      changed();
    } while (again);
  })();
  try { await loading; } finally { loading = null; }
}

// Drops the inbox (signing out).
export function clearInbox() {
  inbox.entries = [];
  inbox.unread = 0;
  inbox.loaded = false;
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
  if (f.unread === 0) for (const e of inbox.entries) e.read = true;
  changed();
  if (f.unread > 0) reload().catch(() => { /* the next ready reads it */ });
}

// Marks every entry up to the newest one known read ("mark all read").
export async function markAllRead() {
  const newest = inbox.entries.reduce((m, e) => Math.max(m, e.notification_id), 0);
  if (!newest) return;
  for (const e of inbox.entries) e.read = true;
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
