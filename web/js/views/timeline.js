// The conversation on screen: opening and closing a group, its header, the
// timeline with day separators and unsent messages after it, older pages on
// scroll, and read markers.
import { api, enc } from '../api.js';
import { emit, on } from '../bus.js';
import { $ } from '../dom.js';
import { newTimeline, state } from '../store.js';
import { loadGroups, loadOlder } from '../sync.js';
import { renderEvent } from './message.js';
import { alertStatus } from './status.js';

export async function openGroup(id) {
  state.current = id;
  emit('group-opened', id);
  $('sidebar').classList.remove('open');
  const g = state.groups.get(id);
  $('empty').hidden = true;
  $('room-header').hidden = false;
  $('timeline').hidden = false;
  $('composer').hidden = false;
  if (g && g.membership === 'invite') {
    try { await api('POST', `/groups/${enc(id)}/join`, {}); await loadGroups(); } catch (err) { alertStatus(err.message); }
  }
  emit('groups-changed');
  renderHeader();
  if (!state.timelines.has(id)) {
    state.timelines.set(id, newTimeline());
    await loadOlder(id);
  }
  renderTimeline(true);
  markRead();
  $('message').focus();
}

export function closeGroup() {
  state.current = null;
  $('empty').hidden = false;
  $('room-header').hidden = true;
  $('timeline').hidden = true;
  $('composer').hidden = true;
}

export function renderHeader() {
  const g = state.groups.get(state.current);
  if (!g) return;
  $('room-title').textContent = g.title || g.group_id;
  $('room-topic').textContent = g.topic ? g.topic : g.group_id;
  const admin = g.role === 'owner' || g.role === 'admin';
  $('settings').hidden = !admin;
}

function dayOf(ts) { return new Date(ts).toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }); }

// Renders the current group's timeline; scrolls to the newest message when
// `stickToBottom` or when the reader was at the bottom already.
export function renderTimeline(stickToBottom) {
  const el = $('timeline');
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
  const tl = state.timelines.get(state.current);
  el.replaceChildren();
  if (!tl) return;
  let day = null;
  for (const ev of tl.seqs) {
    const d = dayOf(ev.origin_ts);
    if (d !== day) {
      day = d;
      const sep = document.createElement('li');
      sep.className = 'day';
      sep.textContent = d;
      el.append(sep);
    }
    el.append(renderEvent(ev, tl));
  }
  for (const p of state.outbox.filter((o) => o.group_id === state.current && !state.echoed.has(o.txn))) {
    el.append(renderEvent({ event_id: p.txn, type: 'message', sender: state.me.user_id, origin_ts: p.at,
      content: { body: p.body, media_id: p.media_id }, pending: true, unsent: true }, tl));
  }
  // New messages scroll into view when the reader is at the bottom (or asked).
  if (stickToBottom || atBottom) el.scrollTop = el.scrollHeight;
}

// Marks the current group read up to its newest event, shortly after it is
// shown (and never while the page is hidden).
let readTimer = null;
export function markRead() {
  clearTimeout(readTimer);
  readTimer = setTimeout(async () => {
    const tl = state.timelines.get(state.current);
    const g = state.groups.get(state.current);
    if (!tl || !g || document.hidden) return;
    const last = tl.seqs.reduce((max, ev) => (ev.pending ? max : Math.max(max, ev.seq)), 0);
    const seq = Math.max(last, g.last_event ? g.last_event.seq : 0);
    if (!seq) return;
    g.unread_count = 0;
    g.mention_count = 0;
    emit('groups-changed');
    try { await api('POST', `/groups/${enc(g.group_id)}/read`, { seq }); } catch (_) { /* next time */ }
  }, 300);
}

export function mount() {
  $('timeline').addEventListener('scroll', async () => {
    const el = $('timeline');
    if (el.scrollTop < 40 && state.current) {
      const before = el.scrollHeight;
      await loadOlder(state.current);
      renderTimeline(false);
      el.scrollTop = el.scrollHeight - before;
    }
  });
  // Unsent messages are shown after the timeline.
  on('outbox-changed', ({ group_id: id }) => { if (!id || id === state.current) renderTimeline(true); });
}
