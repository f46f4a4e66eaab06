// The bell in the top bar: the unread count of the notification inbox on a
// badge, in the bell's accessible name and in the tab title ("(3)
// GroupChat"), and the inbox itself in a panel under it: one entry per
// mention, reply or invitation, and one per group for its plain messages
// while unread ("12 new messages"), newest first, unread ones marked;
// an entry opens its message (views/pwa.js), "Mark all read" reads them all.
// The inbox model, its stream frames and the count of plain messages from
// `event` frames are js/notifications.js.
//
// Keyboard: the bell toggles the panel (focus moves to the first entry once
// the newest page is read);
// Up/Down/Home/End move between entries, Escape closes and returns to the
// bell, as in a menu button's popup.
import { on } from '../bus.js';
import { $ } from '../dom.js';
import {
  applyMessageEvent, applyNotification, applyNotificationRead, clearInbox, inbox, markAllRead, markEntryRead, refresh,
  reload, reloadLevels,
} from '../notifications.js';
import { openAt } from './pwa.js';
import { alertStatus } from './status.js';

const TITLE = 'GroupChat';
const KIND = {
  mention: { icon: '@', label: 'Mention' },
  reply: { icon: '↩', label: 'Reply' },
  message: { icon: '#', label: 'Message' },
  invite: { icon: '✉', label: 'Invitation' },
};

let panel;
let list;

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function when(ts) {
  const d = new Date(ts);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function entryView(n) {
  const li = el('li', n.read ? 'entry' : 'entry unread');
  const b = el('button', 'entry-open');
  b.type = 'button';
  b.dataset.notification = n.notification_id;
  const kind = KIND[n.kind] || { icon: '•', label: n.kind };
  const icon = el('span', 'kind', kind.icon);
  icon.setAttribute('aria-hidden', 'true');
  const head = el('span', 'entry-head');
  head.append(el('span', 'visually-hidden', `${n.read ? '' : 'Unread '}${kind.label} in `),
    el('strong', 'entry-group', n.group_title || n.group_id),
    el('span', 'visually-hidden', ' from '),
    el('span', 'entry-sender', n.sender_display_name || n.sender),
    el('time', 'entry-time', when(n.created_at)));
  head.lastChild.dateTime = new Date(n.created_at).toISOString();
  let preview = n.body_preview;
  if (n.withdrawn) preview = 'Message deleted';
  else if (n.kind === 'invite') preview = 'invited you to this group';
  const p = el('span', n.withdrawn ? 'entry-preview withdrawn' : 'entry-preview', preview);
  const text = el('span', 'entry-text');
  text.append(head, p);
  // A group's plain messages are one entry while unread (the latest shown).
  if (n.count > 1 && !n.withdrawn) text.append(el('span', 'entry-count', `${n.count} new messages`));
  b.append(icon, text);
  if (!n.read) {
    const dot = el('span', 'unread-dot');
    dot.setAttribute('aria-hidden', 'true');
    b.append(dot);
  }
  b.onclick = () => open(n);
  li.append(b);
  return li;
}

function render() {
  const n = inbox.unread;
  const count = $('bell-count');
  count.hidden = n === 0;
  count.textContent = n > 99 ? '99+' : String(n);
  $('bell').setAttribute('aria-label', n ? `Notifications, ${n} unread` : 'Notifications, none unread');
  document.title = n ? `(${n}) ${TITLE}` : TITLE;
  if (!panel || panel.hidden) return;
  const focused = document.activeElement && document.activeElement.dataset.notification;
  list.replaceChildren(...inbox.entries.map(entryView));
  $('inbox-empty').hidden = inbox.entries.length > 0;
  if (focused) {
    const again = list.querySelector(`[data-notification="${focused}"]`);
    if (again) again.focus();
  }
}

async function open(n) {
  close(false);
  markEntryRead(n).catch(() => { /* the group's read marker clears it */ });
  await openAt(n.group_id, n.kind === 'invite' || n.withdrawn ? null : n.event_id);
}

function close(refocus) {
  if (!panel || panel.hidden) return;
  panel.hidden = true;
  $('bell').setAttribute('aria-expanded', 'false');
  if (refocus) $('bell').focus();
}

// Opens the panel at once with the entries known, reads the newest page, and
// only then moves the focus to the first entry: entries counted from `event`
// frames are not in the list yet, and a focus set before the read would stay
// on an entry that the read moves down the list.
async function toggle() {
  if (!panel.hidden) { close(true); return; }
  panel.hidden = false;
  $('bell').setAttribute('aria-expanded', 'true');
  render();
  try {
    await reload();
  } catch (e) {
    alertStatus(`Could not load notifications: ${e.message}`);
  }
  if (panel.hidden || panel.contains(document.activeElement)) return;
  (list.querySelector('button') || $('inbox-read-all')).focus();
}

function onKey(e) {
  if (e.key === 'Escape') { e.preventDefault(); close(true); return; }
  const items = [...list.querySelectorAll('button')];
  const i = items.indexOf(document.activeElement);
  let next = null;
  if (e.key === 'ArrowDown') next = items[Math.min(i + 1, items.length - 1)];
  else if (e.key === 'ArrowUp') next = i <= 0 ? items[0] : items[i - 1];
  else if (e.key === 'Home') next = items[0];
  else if (e.key === 'End') next = items[items.length - 1];
  if (next) { e.preventDefault(); next.focus(); }
}

function buildPanel() {
  panel = el('section', 'inbox');
  panel.id = 'inbox';
  panel.hidden = true;
  panel.setAttribute('aria-labelledby', 'inbox-title');
  const head = el('div', 'row inbox-head');
  const h = el('h2', '', 'Notifications');
  h.id = 'inbox-title';
  const all = el('button', '', 'Mark all read');
  all.type = 'button';
  all.id = 'inbox-read-all';
  all.onclick = () => markAllRead().catch((e) => alertStatus(`Could not mark as read: ${e.message}`));
  head.append(h, all);
  list = el('ul', 'inbox-list');
  list.id = 'inbox-list';
  list.setAttribute('aria-labelledby', 'inbox-title');
  const empty = el('p', 'inbox-empty', 'No notifications yet. Mentions, replies and invitations show up here.');
  empty.id = 'inbox-empty';
  panel.append(head, list, empty);
  panel.addEventListener('keydown', onKey);
  // Escape also closes it when the focus has left it (e.g. to the page).
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !panel.hidden && !panel.contains(e.target)) close(true); });
  $('app').append(panel);
}

export function mount() {
  buildPanel();
  $('bell').onclick = toggle;
  document.addEventListener('click', (e) => {
    if (!panel.hidden && !panel.contains(e.target) && !$('bell').contains(e.target)) close(false);
  });
  on('notifications-changed', render);
  on('frame:ready', () => {
    reload().catch(() => { /* shown again at the next ready */ });
    reloadLevels().catch(() => { /* counted with the last levels known */ });
  });
  on('notify-settings-changed', () => reloadLevels().catch(() => { /* read again at the next ready */ }));
  on('frame:event', (f) => {
    applyMessageEvent(f);
    if (!panel.hidden) refresh().catch(() => { /* the entries shown stay until the next change */ });
  });
  on('frame:notification', applyNotification);
  on('frame:notification.read', applyNotificationRead);
  on('session-ended', () => { close(false); clearInbox(); });
}
