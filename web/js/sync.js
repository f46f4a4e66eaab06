// Keeps the store in step with the server: loads groups, history pages and
// member lists through the API, and applies what the stream says (events,
// read markers, presence) to the store. No DOM: after a change it says so on
// the bus (groups-changed) or tells its caller what changed, and views render.
import { api, enc } from './api.js';
import { emit } from './bus.js';
import { apply, place, state } from './store.js';

export async function loadGroups() {
  const r = await api('GET', '/groups');
  state.groups.clear();
  for (const g of r.groups) state.groups.set(g.group_id, g);
  emit('groups-changed');
}

// The stream cursor of a fresh session: the newest event of the groups just loaded.
export function bootstrapCursor() {
  if (state.cursor) return;
  for (const g of state.groups.values()) {
    if (g.last_event) state.cursor = Math.max(state.cursor, g.last_event.stream_pos);
  }
}

// Loads the page of history before the oldest one shown (one at a time).
export async function loadOlder(id) {
  const tl = state.timelines.get(id);
  if (!tl || !tl.hasMore || tl.loading) return;
  tl.loading = true;
  try {
    const q = tl.oldest ? `?limit=50&before=${tl.oldest}` : '?limit=50';
    const r = await api('GET', `/groups/${enc(id)}/messages${q}`);
    for (const ev of r.events) {
      if (ev.type === 'message' || ev.type === 'member' || ev.type === 'group.create' || ev.type === 'group.settings') {
        place(tl, ev);
      }
    }
    if (r.first_seq !== null) tl.oldest = r.first_seq;
    tl.hasMore = r.has_more;
  } finally {
    tl.loading = false;
  }
}

const memberCache = new Map();  // group_id -> [user ids of joined members]

export async function membersOf(groupId) {
  if (!memberCache.has(groupId)) {
    const r = await api('GET', `/groups/${enc(groupId)}/members?limit=500`);
    memberCache.set(groupId, r.members.filter((m) => m.membership === 'join').map((m) => m.user_id));
  }
  return memberCache.get(groupId);
}

// Applies a stream event to the store. Returns what the views must do:
//   'gone'     the group left the list (we left, were banned, it was deleted)
//   'unknown'  we joined a group the store does not have: load the groups
//   'ignored'  an event of a group we do not show
//   'listed'   the group list changed (no timeline of it is loaded)
//   'shown'    the group list and the group's loaded timeline changed
export function applyEvent(ev) {
  if (ev.type === 'member') memberCache.delete(ev.group_id);
  const g = state.groups.get(ev.group_id);
  if (ev.type === 'member' && ev.content.user_id === state.me.user_id) {
    if (ev.content.membership === 'leave' || ev.content.membership === 'ban') {
      state.groups.delete(ev.group_id);
      state.timelines.delete(ev.group_id);
      return 'gone';
    }
    if (!g) return 'unknown';
  }
  if (ev.type === 'group.delete') {
    state.groups.delete(ev.group_id);
    return 'gone';
  }
  if (!g) return 'ignored';
  // Our own message that is being sent right now, back on the stream before
  // the POST answered: the outbox copy is no longer shown.
  const sending = state.sending;
  if (sending && ev.type === 'message' && ev.sender === state.me.user_id && ev.group_id === sending.group_id &&
      ev.content.body === sending.body && ev.content.media_id === sending.media_id) {
    state.echoed.add(sending.txn);
  }
  g.last_event_at = ev.origin_ts;
  g.last_event = ev;
  if (ev.type === 'group.settings') Object.assign(g, ev.content);
  if (ev.type === 'message' && ev.sender !== state.me.user_id && state.current !== ev.group_id) {
    g.unread_count = (g.unread_count || 0) + 1;
    if ((ev.content.mentions || []).includes(state.me.user_id)) g.mention_count = (g.mention_count || 0) + 1;
  }
  const tl = state.timelines.get(ev.group_id);
  if (!tl) return 'listed';
  apply(tl, ev);
  return 'shown';
}

// A read marker of ours (from any of our devices): the group has nothing unread.
export function applyRead(f) {
  const g = state.groups.get(f.group_id);
  if (g) { g.unread_count = 0; g.mention_count = 0; emit('groups-changed'); }
}

export function applyPresence(f) {
  state.presence.set(f.user_id, f.presence);
}
