// The installable app: registers the service worker (web/sw.js, scope /,
// which shows pushed notifications) and opens messages from links.
//
// A link to a message is /#/g/<group_id>/e/<event_id>, a link to a group
// /#/g/<group_id> (ids percent-encoded; spec/web-client.md section 1). The
// service worker opens a new window at such a link when a notification is
// clicked and no window is open, or posts {type:'open', group_id, event_id}
// to an open one; the inbox (views/bell.js) opens its entries the same way.
import { $ } from '../dom.js';
import { state } from '../store.js';
import { loadGroups, loadOlder } from '../sync.js';
import { alertStatus } from './status.js';
import { openGroup, renderTimeline } from './timeline.js';

export function linkTo(groupId, eventId) {
  let link = `#/g/${encodeURIComponent(groupId)}`;
  if (eventId) link += `/e/${encodeURIComponent(eventId)}`;
  return link;
}

// {group_id, event_id|null} of a link's hash, or null when it is none.
export function parseLink(hash) {
  const m = /^#\/g\/([^/]+)(?:\/e\/([^/]+))?\/?$/.exec(hash);
  if (!m) return null;
  try {
    return { group_id: decodeURIComponent(m[1]), event_id: m[2] ? decodeURIComponent(m[2]) : null };
  } catch (_) {
    return null;  // bad percent-encoding
  }
}

const MAX_PAGES = 20;  // how far back a linked message is looked for (pages of 50)
const HIGHLIGHT_MS = 4000;

const shownEvent = (eventId) => [...$('timeline').querySelectorAll('li[data-event-id]')]
  .find((el) => el.dataset.eventId === eventId);

// The linked message stays marked for a moment, also across the timeline's
// re-renders (a new message, an older page), which rebuild its <li>.
let highlighted = null;
let highlightTimer = null;
const keepHighlight = new MutationObserver(() => {
  const li = highlighted && shownEvent(highlighted);
  if (li && !li.classList.contains('linked')) li.classList.add('linked');
});

function highlight(li) {
  clearTimeout(highlightTimer);
  highlighted = li.dataset.eventId;
  li.classList.add('linked');
  highlightTimer = setTimeout(() => {
    const now = shownEvent(highlighted);
    if (now) now.classList.remove('linked');
    highlighted = null;
  }, HIGHLIGHT_MS);
}

// Scrolls the current timeline to the event, loading older pages until it
// is there (or the group's start, or MAX_PAGES); marks it for a moment.
async function reveal(groupId, eventId) {
  for (let page = 0; page <= MAX_PAGES && state.current === groupId; page++) {
    const li = shownEvent(eventId);
    if (li) {
      highlight(li);
      li.tabIndex = -1;
      li.scrollIntoView({ block: 'center' });
      li.focus({ preventScroll: true });
      return true;
    }
    const tl = state.timelines.get(groupId);
    if (!tl || !tl.hasMore) break;
    await loadOlder(groupId);
    renderTimeline(false);
  }
  return false;
}

// Opens a group and, with eventId, scrolls to that message.
export async function openAt(groupId, eventId) {
  if (!state.groups.has(groupId)) await loadGroups();  // joined a moment ago, maybe elsewhere
  if (!state.groups.has(groupId)) {
    alertStatus(`You are not in ${groupId}.`);
    return;
  }
  await openGroup(groupId);
  if (eventId && !(await reveal(groupId, eventId))) alertStatus('That message is no longer in the conversation.');
}

// Opens the message the address bar links to, if it does, and clears the
// link (so that the same link followed again is a change). Returns whether
// there is one.
export function openLinkedMessage() {
  const link = parseLink(location.hash);
  if (!link || !state.me) return Boolean(link);  // signed out: kept for after sign-in
  history.replaceState(null, '', location.pathname + location.search);
  openAt(link.group_id, link.event_id);
  return true;
}

export function mount() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => console.warn('service worker:', e.message));
    navigator.serviceWorker.addEventListener('message', (e) => {
      const d = e.data || {};
      if (d.type === 'open' && typeof d.group_id === 'string' && state.me) openAt(d.group_id, d.event_id || null);
    });
  }
  window.addEventListener('hashchange', openLinkedMessage);
  keepHighlight.observe($('timeline'), { childList: true });
}
