// The client's state, what of it survives a reload (localStorage), and the
// timeline model: how events are ordered and how edits, deletes and
// reactions change the messages they refer to. No DOM here: views read the
// state and render it.

export const state = {
  token: localStorage.getItem('gc.token'),
  me: null,
  groups: new Map(),     // group_id -> group (from GET /groups)
  current: null,         // group_id on screen
  timelines: new Map(),  // group_id -> {events: Map(event_id -> event), seqs: [], oldest, hasMore}
  cursor: Number(localStorage.getItem('gc.cursor') || 0),
  outbox: JSON.parse(localStorage.getItem('gc.outbox') || '[]'),  // unsent messages
  typing: new Map(),     // group_id -> Map(user -> expiry)
  replyTo: null,
  presence: new Map(),
  sending: null,         // the outbox item whose POST is in flight
  echoed: new Set(),     // txns of outbox items already seen on the stream
};

export function saveToken(token) {
  state.token = token;
  localStorage.setItem('gc.token', token);
}

export function saveOutbox() { localStorage.setItem('gc.outbox', JSON.stringify(state.outbox)); }

// Moves the stream cursor forward (never back) and keeps it for the next load.
export function advance(pos) {
  if (pos > state.cursor) {
    state.cursor = pos;
    localStorage.setItem('gc.cursor', String(pos));
  }
}

// Forgets the session: token, cursor, groups and timelines (the outbox stays).
export function clearSession() {
  state.token = null;
  state.me = null;
  localStorage.removeItem('gc.token');
  localStorage.removeItem('gc.cursor');
  state.cursor = 0;
  state.groups.clear();
  state.timelines.clear();
  state.current = null;
}

export function newTimeline() {
  return { events: new Map(), seqs: [], oldest: null, hasMore: true };
}

// Timeline order: sequenced events by seq; after them, messages the node
// accepted but the group's home has not sequenced yet (seq 0), oldest first.
export const isPending = (ev) => Boolean(ev.pending) || !(ev.seq > 0);
function timelineOrder(a, b) {
  const pa = isPending(a);
  const pb = isPending(b);
  if (pa !== pb) return pa ? 1 : -1;
  return pa ? a.origin_ts - b.origin_ts : a.seq - b.seq;
}

// Puts a shown event into a timeline once. A pending copy (202 from a send to
// a remote group whose home is away) is replaced by the sequenced event with
// the same event_id when the stream delivers it.
export function place(tl, ev) {
  if (isPending(ev)) ev.pending = true;
  const had = tl.events.get(ev.event_id);
  if (had) {
    if (!had.pending || ev.pending) return;
    tl.seqs.splice(tl.seqs.indexOf(had), 1);
  }
  tl.events.set(ev.event_id, ev);
  tl.seqs.push(ev);
  tl.seqs.sort(timelineOrder);
}

// Applies an event to a timeline: messages are shown; edits, deletes and
// reactions change the message they refer to.
export function apply(tl, ev) {
  const had = tl.events.get(ev.event_id);
  if (had && !(had.pending && !isPending(ev))) return;
  if (ev.type === 'message.edit') {
    const m = tl.events.get(ev.content.event_id);
    if (m && ev.content.body !== undefined) { m.content.body = ev.content.body; m.edited = true; }
    return;
  }
  if (ev.type === 'message.delete') {
    const m = tl.events.get(ev.content.event_id);
    if (m) { m.deleted = true; m.content = {}; }
    return;
  }
  if (ev.type === 'reaction') {
    const m = tl.events.get(ev.content.event_id);
    if (!m) return;
    m.reactions = m.reactions || {};
    const users = new Set(m.reactions[ev.content.key] || []);
    if (ev.content.removed) users.delete(ev.sender); else users.add(ev.sender);
    m.reactions[ev.content.key] = [...users];
    if (!users.size) delete m.reactions[ev.content.key];
    return;
  }
  place(tl, ev);
}
