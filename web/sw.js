// The web client's service worker, served at /sw.js so that its scope is the
// whole client (/). It does one thing: desktop notifications. It does not
// intercept fetches (the client is always loaded from the node) and keeps
// no caches.
//
// A push (Web Push, sent by the node to the browser's push service: the
// notification service's webpush pusher) carries one inbox entry as JSON, the
// `Notification` schema of spec/openapi.yaml. It is shown with the group as
// title and "sender: preview" as body, tagged with its notification_id so a
// repeat (delivery is at least once) replaces it instead of adding one, and
// so does a newer message of a coalesced `message` entry (same id, `count`
// grown: "(3 new messages)", alerting again); an entry with
// `withdrawn: true` (the message was deleted) closes it.
// Clicking it focuses an open window of the client and tells it to open the
// message, or opens a new one at the message's link,
// /#/g/<group_id>/e/<event_id> (both percent-encoded; spec/web-client.md
// section 1), which the client honours at load (js/views/pwa.js).

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));

const KINDS = { mention: 'mentioned you', reply: 'replied to you', invite: 'invited you to this group' };

// The link to a message (or to a group, without event).
function linkTo(groupId, eventId) {
  let link = `/#/g/${encodeURIComponent(groupId)}`;
  if (eventId) link += `/e/${encodeURIComponent(eventId)}`;
  return link;
}

async function onPush(data) {
  let n = null;
  try { n = data ? data.json() : null; } catch (_) { n = null; }
  if (!n || typeof n !== 'object' || n.notification_id === undefined || !n.group_id) {
    // Not an inbox entry. A subscription with userVisibleOnly must show
    // something for every push, so say that something happened.
    await self.registration.showNotification('GroupChat', { body: 'You have new notifications.', tag: 'groupchat' });
    return;
  }
  const tag = `n${n.notification_id}`;
  if (n.withdrawn) {
    for (const shown of await self.registration.getNotifications({ tag })) shown.close();
    return;
  }
  const who = n.sender_display_name || n.sender || 'Someone';
  let body;
  const count = Number(n.count) || 1;
  if (n.kind === 'invite') body = `${who} ${KINDS.invite}`;
  else body = `${who}: ${n.body_preview || ''}${count > 1 ? ` (${count} new messages)` : ''}`;
  await self.registration.showNotification(n.group_title || n.group_id, {
    body,
    tag,
    renotify: count > 1,
    icon: '/icons/icon-192.png',
    timestamp: n.created_at,
    data: { group_id: n.group_id, event_id: n.kind === 'invite' ? null : n.event_id, notification_id: n.notification_id },
  });
}

// Pushes are handled one after the other: a withdrawal that arrives right
// after a repeat of its entry must not close it before the repeat shows it.
// It also keeps a withdrawal's getNotifications() from running while
// another push's showNotification() is under way: Chromium's
// getNotifications() forgets a notification that is stored but not yet on
// screen (it stays shown, but is never listed again), and a later
// withdrawal of it could then not close it.
let pushes = Promise.resolve();
self.addEventListener('push', (e) => {
  const job = pushes.then(() => onPush(e.data));
  pushes = job.catch(() => {});
  e.waitUntil(job);
});

async function onClick(notification) {
  const d = notification.data || {};
  notification.close();
  if (!d.group_id) return self.clients.openWindow('/');
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
  if (open) {
    open.postMessage({ type: 'open', group_id: d.group_id, event_id: d.event_id || null });
    await open.focus().catch(() => { /* the browser may refuse; the message is open all the same */ });
    return undefined;
  }
  return self.clients.openWindow(linkTo(d.group_id, d.event_id));
}

self.addEventListener('notificationclick', (e) => e.waitUntil(onClick(e.notification)));
