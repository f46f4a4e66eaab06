// GroupChat web client: a build-free ES module. Message bodies and every other
// piece of user text go into the page with textContent only (never as HTML);
// links are made with createElement and only for http(s) URLs.

const API = '/api/v1';
const $ = (id) => document.getElementById(id);

const state = {
  token: localStorage.getItem('gc.token'),
  me: null,
  groups: new Map(),     // group_id -> group (from GET /groups)
  current: null,         // group_id on screen
  timelines: new Map(),  // group_id -> {events: Map(event_id -> event), seqs: [], oldest, hasMore}
  cursor: Number(localStorage.getItem('gc.cursor') || 0),
  ws: null,
  wsBackoff: 500,
  outbox: JSON.parse(localStorage.getItem('gc.outbox') || '[]'),  // unsent messages
  typing: new Map(),     // group_id -> Map(user -> expiry)
  replyTo: null,
  presence: new Map(),
  sending: null,         // the outbox item whose POST is in flight
  echoed: new Set(),     // txns of outbox items already seen on the stream
};

// ------------------------------------------------------------------ HTTP

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (res.status === 401 && state.token && !path.startsWith('/auth/')) {
    signedOut('Your session ended. Please log in again.');
  }
  if (!res.ok) {
    const err = new Error(data.error ? data.error.message : `HTTP ${res.status}`);
    err.status = res.status;
    err.reason = data.error && data.error.reason;
    throw err;
  }
  return data;
}

const enc = (id) => encodeURIComponent(id);

// ------------------------------------------------------------------ auth

let registering = false;
function setAuthMode(reg) {
  registering = reg;
  $('tab-login').setAttribute('aria-selected', String(!reg));
  $('tab-register').setAttribute('aria-selected', String(reg));
  for (const el of document.querySelectorAll('.register-only')) el.hidden = !reg;
  $('auth-submit').textContent = reg ? 'Create account' : 'Log in';
  $('password').autocomplete = reg ? 'new-password' : 'current-password';
}
$('tab-login').onclick = () => setAuthMode(false);
$('tab-register').onclick = () => setAuthMode(true);

$('auth-form').onsubmit = async (e) => {
  e.preventDefault();
  $('auth-error').textContent = '';
  const body = { username: $('username').value.trim(), password: $('password').value };
  try {
    let r;
    if (registering) {
      if ($('display-name').value) body.display_name = $('display-name').value;
      if ($('invite-token').value) body.invite_token = $('invite-token').value.trim();
      r = await api('POST', '/auth/register', body);
    } else {
      r = await api('POST', '/auth/login', body);
    }
    state.token = r.access_token;
    localStorage.setItem('gc.token', r.access_token);
    $('password').value = '';
    await start();
  } catch (err) {
    if (err.reason === 'invite_required' || err.reason === 'invite_invalid') {
      setAuthMode(true);
      $('invite-token').focus();
    }
    $('auth-error').textContent = err.message;
  }
};

function signedOut(message) {
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  state.token = null;
  state.me = null;
  localStorage.removeItem('gc.token');
  localStorage.removeItem('gc.cursor');
  state.cursor = 0;
  state.groups.clear();
  state.timelines.clear();
  state.current = null;
  $('app').hidden = true;
  $('auth').hidden = false;
  $('auth-error').textContent = message || '';
  $('username').focus();
}

$('logout').onclick = async () => {
  try { await api('POST', '/auth/logout'); } catch (_) { /* signed out anyway */ }
  signedOut();
};

// ------------------------------------------------------------------ start

async function start() {
  state.me = await api('GET', '/me');
  $('me').textContent = state.me.display_name ? `${state.me.display_name} (${state.me.user_id})` : state.me.user_id;
  $('auth').hidden = true;
  $('app').hidden = false;
  await loadGroups();
  if (!state.cursor) {
    // Bootstrap the stream cursor from what we have just loaded.
    for (const g of state.groups.values()) {
      if (g.last_event) state.cursor = Math.max(state.cursor, g.last_event.stream_pos);
    }
  }
  connect();
  flushOutbox();
  const first = [...state.groups.values()].find((g) => g.membership === 'join');
  if (first && !state.current) openGroup(first.group_id);
}

async function loadGroups() {
  const r = await api('GET', '/groups');
  state.groups.clear();
  for (const g of r.groups) state.groups.set(g.group_id, g);
  renderGroups();
}

function renderGroups() {
  const ul = $('groups');
  ul.replaceChildren();
  const list = [...state.groups.values()].sort((a, b) => b.last_event_at - a.last_event_at);
  for (const g of list) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.group = g.group_id;
    if (g.group_id === state.current) b.setAttribute('aria-current', 'true');
    const name = document.createElement('span');
    name.textContent = (g.membership === 'invite' ? '✉ ' : '') + (g.title || g.group_id);
    b.append(name);
    const reading = g.group_id === state.current && !document.hidden;  // marked read in a moment
    if (reading) {
      // no badge
    } else if (g.mention_count > 0) {
      const m = document.createElement('span');
      m.className = 'badge mention';
      m.textContent = '@' + g.mention_count;
      m.setAttribute('aria-label', `${g.mention_count} mentions`);
      b.append(m);
    } else if (g.unread_count > 0) {
      const u = document.createElement('span');
      u.className = 'badge';
      u.textContent = g.unread_count;
      u.setAttribute('aria-label', `${g.unread_count} unread`);
      b.append(u);
    }
    b.onclick = () => openGroup(g.group_id);
    li.append(b);
    ul.append(li);
  }
}

// ------------------------------------------------------------------ stream

function setStatus(text) {
  $('status').hidden = !text;
  $('status').textContent = text || '';
}

function reconnectLater() {
  setStatus('Connection lost — reconnecting…');
  setTimeout(connect, state.wsBackoff);
  state.wsBackoff = Math.min(state.wsBackoff * 2, 15000);
}

// The stream is opened with a one-time ticket, never with the access token
// in the URL (where proxies log it and the browser keeps it in history).
async function connect() {
  if (!state.token || state.ws || state.connecting) return;
  state.connecting = true;
  let ticket;
  try {
    ticket = (await api('POST', '/stream/tickets')).ticket;
  } catch (e) {
    state.connecting = false;
    if (state.token && e.status !== 401) reconnectLater();
    return;
  }
  state.connecting = false;
  if (!state.token || state.ws) return;
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const since = state.cursor ? `&since=${state.cursor}` : '';
  const ws = new WebSocket(`${proto}://${location.host}${API}/stream?ticket=${enc(ticket)}${since}`);
  state.ws = ws;
  ws.onopen = () => { state.wsBackoff = 500; };
  ws.onmessage = (m) => onFrame(JSON.parse(m.data));
  ws.onclose = (e) => {
    state.ws = null;
    if (!state.token) return;
    if (e.code === 4002) { signedOut('Your session ended. Please log in again.'); return; }
    reconnectLater();
  };
}

function advance(pos) {
  if (pos > state.cursor) {
    state.cursor = pos;
    localStorage.setItem('gc.cursor', String(pos));
  }
}

function onFrame(f) {
  if (f.type === 'ready') {
    setStatus('');
    advance(f.stream_pos);
    flushOutbox();
  } else if (f.type === 'event') {
    advance(f.event.stream_pos);
    onEvent(f.event);
  } else if (f.type === 'typing') {
    onTyping(f);
  } else if (f.type === 'presence') {
    state.presence.set(f.user_id, f.presence);
  } else if (f.type === 'read') {
    const g = state.groups.get(f.group_id);
    if (g) { g.unread_count = 0; g.mention_count = 0; renderGroups(); }
  }
}

function onEvent(ev) {
  if (ev.type === 'member') memberCache.delete(ev.group_id);
  let g = state.groups.get(ev.group_id);
  if (ev.type === 'member' && ev.content.user_id === state.me.user_id) {
    if (ev.content.membership === 'leave' || ev.content.membership === 'ban') {
      state.groups.delete(ev.group_id);
      state.timelines.delete(ev.group_id);
      if (state.current === ev.group_id) closeGroup();
      renderGroups();
      return;
    }
    if (!g) { loadGroups(); return; }
  }
  if (ev.type === 'group.delete') {
    state.groups.delete(ev.group_id);
    if (state.current === ev.group_id) closeGroup();
    renderGroups();
    return;
  }
  if (!g) return;
  // Our own message that is being sent right now, back on the stream before
  // the POST answered: the outbox copy is no longer shown.
  const sending = state.sending;
  if (sending && ev.type === 'message' && ev.sender === state.me.user_id && ev.group_id === sending.group_id &&
      ev.content.body === sending.body) {
    state.echoed.add(sending.txn);
  }
  g.last_event_at = ev.origin_ts;
  g.last_event = ev;
  if (ev.type === 'group.settings') Object.assign(g, ev.content);
  if (ev.type === 'message' && ev.sender !== state.me.user_id && state.current !== ev.group_id) {
    g.unread_count = (g.unread_count || 0) + 1;
    if ((ev.content.mentions || []).includes(state.me.user_id)) g.mention_count = (g.mention_count || 0) + 1;
  }
  renderGroups();
  const tl = state.timelines.get(ev.group_id);
  if (tl) {
    apply(tl, ev);
    if (state.current === ev.group_id) { renderTimeline(true); markRead(); }
  }
  if (state.current === ev.group_id && ev.type === 'group.settings') renderHeader();
}

// Timeline order: sequenced events by seq; after them, messages the node
// accepted but the group's home has not sequenced yet (seq 0), oldest first.
const isPending = (ev) => Boolean(ev.pending) || !(ev.seq > 0);
function timelineOrder(a, b) {
  const pa = isPending(a);
  const pb = isPending(b);
  if (pa !== pb) return pa ? 1 : -1;
  return pa ? a.origin_ts - b.origin_ts : a.seq - b.seq;
}

// Puts a shown event into a timeline once. A pending copy (202 from a send to
// a remote group whose home is away) is replaced by the sequenced event with
// the same event_id when the stream delivers it.
function place(tl, ev) {
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
function apply(tl, ev) {
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

// ------------------------------------------------------------------ typing

let typingSent = 0;
$('message').addEventListener('input', () => {
  autosize();
  if (!state.current || !state.ws || state.ws.readyState !== 1) return;
  const now = Date.now();
  if (now - typingSent > 3000) {
    typingSent = now;
    state.ws.send(JSON.stringify({ type: 'typing', group_id: state.current, typing: true }));
  }
});

function onTyping(f) {
  let m = state.typing.get(f.group_id);
  if (!m) { m = new Map(); state.typing.set(f.group_id, m); }
  if (f.typing) m.set(f.user_id, Date.now() + (f.timeout_ms || 5000)); else m.delete(f.user_id);
  renderTyping();
}

function renderTyping() {
  const m = state.typing.get(state.current);
  const now = Date.now();
  const who = m ? [...m.entries()].filter(([, t]) => t > now).map(([u]) => u) : [];
  $('typing').textContent = who.length ? `${who.join(', ')} ${who.length > 1 ? 'are' : 'is'} typing…` : '';
}
setInterval(renderTyping, 1000);

// ------------------------------------------------------------------ group view

async function openGroup(id) {
  state.current = id;
  state.replyTo = null;
  $('replying').hidden = true;
  $('sidebar').classList.remove('open');
  const g = state.groups.get(id);
  $('empty').hidden = true;
  $('room-header').hidden = false;
  $('timeline').hidden = false;
  $('composer').hidden = false;
  if (g && g.membership === 'invite') {
    try { await api('POST', `/groups/${enc(id)}/join`, {}); await loadGroups(); } catch (err) { alertStatus(err.message); }
  }
  renderGroups();
  renderHeader();
  if (!state.timelines.has(id)) {
    state.timelines.set(id, { events: new Map(), seqs: [], oldest: null, hasMore: true });
    await loadOlder(id);
  }
  renderTimeline(true);
  markRead();
  $('message').focus();
}

function closeGroup() {
  state.current = null;
  $('empty').hidden = false;
  $('room-header').hidden = true;
  $('timeline').hidden = true;
  $('composer').hidden = true;
}

function renderHeader() {
  const g = state.groups.get(state.current);
  if (!g) return;
  $('room-title').textContent = g.title || g.group_id;
  $('room-topic').textContent = g.topic ? g.topic : g.group_id;
  const admin = g.role === 'owner' || g.role === 'admin';
  $('settings').hidden = !admin;
}

async function loadOlder(id) {
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

$('timeline').addEventListener('scroll', async () => {
  const el = $('timeline');
  if (el.scrollTop < 40 && state.current) {
    const before = el.scrollHeight;
    await loadOlder(state.current);
    renderTimeline(false);
    el.scrollTop = el.scrollHeight - before;
  }
});

function dayOf(ts) { return new Date(ts).toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }); }

// Appends text to `parent`, turning http(s) links into anchors and
// highlighting @user:server mentions. Never interprets HTML.
function richText(parent, text) {
  const re = /(https?:\/\/[^\s<>"']+)|(@[a-z0-9._-]+:[a-z0-9.-]+(?::\d+)?)/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
    if (m[1]) {
      const a = document.createElement('a');
      a.href = m[1];
      a.textContent = m[1];
      a.rel = 'noopener noreferrer nofollow';
      a.target = '_blank';
      parent.append(a);
    } else {
      const s = document.createElement('span');
      s.className = 'mention-chip';
      s.textContent = m[2];
      parent.append(s);
    }
    last = re.lastIndex;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

function renderTimeline(stickToBottom) {
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
      content: { body: p.body }, pending: true, unsent: true }, tl));
  }
  // New messages scroll into view when the reader is at the bottom (or asked).
  if (stickToBottom || atBottom) el.scrollTop = el.scrollHeight;
}

function renderEvent(ev, tl) {
  const li = document.createElement('li');
  if (ev.type !== 'message') {
    li.className = 'notice';
    if (ev.type === 'member') li.textContent = `${ev.content.user_id} ${({ join: 'joined', leave: 'left', invite: 'was invited', ban: 'was banned' })[ev.content.membership] || ev.content.membership}`;
    else if (ev.type === 'group.create') li.textContent = `${ev.sender} created the group`;
    else if (ev.type === 'group.settings') li.textContent = `${ev.sender} changed the group settings`;
    else li.textContent = ev.type;
    return li;
  }
  li.className = 'msg';
  li.dataset.eventId = ev.event_id;
  if (ev.pending) li.classList.add('pending');
  if (ev.deleted) li.classList.add('deleted');
  if ((ev.content.mentions || []).includes(state.me.user_id)) li.classList.add('mentioned');
  if (ev.content.reply_to) {
    const target = tl.events.get(ev.content.reply_to);
    const r = document.createElement('div');
    r.className = 'reply-to';
    r.textContent = target ? `↪ ${target.sender}: ${(target.content.body || '').slice(0, 80)}` : '↪ reply';
    li.append(r);
  }
  const who = document.createElement('span');
  who.className = 'who';
  const dot = document.createElement('span');
  dot.className = 'presence' + (state.presence.get(ev.sender) === 'online' ? ' online' : '');
  who.append(dot, document.createTextNode(ev.sender));
  const when = document.createElement('time');
  when.className = 'when';
  when.dateTime = new Date(ev.origin_ts).toISOString();
  when.textContent = new Date(ev.origin_ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const body = document.createElement('div');
  body.className = 'body';
  if (ev.deleted) body.textContent = 'Message deleted';
  else richText(body, ev.content.body || '');
  li.append(who, when);
  if (ev.edited) {
    const e = document.createElement('span');
    e.className = 'edited';
    e.textContent = ' (edited)';
    li.append(e);
  }
  if (ev.pending) {
    // Not in the group's log yet: unsent (still in the outbox), or accepted
    // by this node while the group's home node is away.
    const note = document.createElement('span');
    note.className = 'state';
    note.textContent = ev.unsent ? ' sending…' : ' sent, waiting for the group’s server';
    li.append(note);
  }
  if (!ev.pending && !ev.deleted) li.append(tools(ev));
  li.append(body);
  if (ev.reactions && Object.keys(ev.reactions).length) {
    const rx = document.createElement('div');
    rx.className = 'reactions';
    for (const [key, users] of Object.entries(ev.reactions)) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = `${key} ${users.length}`;
      b.setAttribute('aria-pressed', String(users.includes(state.me.user_id)));
      b.onclick = () => react(ev, key, !users.includes(state.me.user_id));
      rx.append(b);
    }
    li.append(rx);
  }
  return li;
}

function tools(ev) {
  const span = document.createElement('span');
  span.className = 'tools';
  const add = (label, fn) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.onclick = fn;
    span.append(b);
  };
  add('Reply', () => { state.replyTo = ev; $('replying').hidden = false; $('replying').firstElementChild.textContent = `Replying to ${ev.sender}`; $('message').focus(); });
  add('👍', () => react(ev, '👍', true));
  if (ev.sender === state.me.user_id) {
    add('Edit', async () => {
      const text = await ask('Edit message', [{ id: 'edit-body', label: 'Message', value: ev.content.body, multiline: true }]);
      if (text) await api('PATCH', `/groups/${enc(state.current)}/messages/${enc(ev.event_id)}`, { body: text['edit-body'] }).catch((e) => alertStatus(e.message));
    });
  }
  const g = state.groups.get(state.current);
  if (ev.sender === state.me.user_id || (g && (g.role === 'owner' || g.role === 'admin'))) {
    add('Delete', async () => {
      if (confirm('Delete this message?')) await api('DELETE', `/groups/${enc(state.current)}/messages/${enc(ev.event_id)}`).catch((e) => alertStatus(e.message));
    });
  }
  return span;
}

async function react(ev, key, add) {
  const base = `/groups/${enc(state.current)}/messages/${enc(ev.event_id)}/reactions`;
  try {
    if (add) await api('POST', base, { key }); else await api('DELETE', `${base}/${enc(key)}`);
  } catch (e) { alertStatus(e.message); }
}

let readTimer = null;
function markRead() {
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
    renderGroups();
    try { await api('POST', `/groups/${enc(g.group_id)}/read`, { seq }); } catch (_) { /* next time */ }
  }, 300);
}

// ------------------------------------------------------------------ sending

function autosize() {
  const t = $('message');
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight, 200) + 'px';
}

// ------------------------------------------------------------------ mention completion

const memberCache = new Map();  // group_id -> [user ids]
let suggestions = [];
let chosen = 0;

async function membersOf(groupId) {
  if (!memberCache.has(groupId)) {
    const r = await api('GET', `/groups/${enc(groupId)}/members?limit=500`);
    memberCache.set(groupId, r.members.filter((m) => m.membership === 'join').map((m) => m.user_id));
  }
  return memberCache.get(groupId);
}

// The "@partial" just before the cursor, if any.
function mentionPrefix() {
  const t = $('message');
  const before = t.value.slice(0, t.selectionStart);
  const m = /(^|\s)(@[a-z0-9._:-]*)$/.exec(before);
  return m ? m[2] : null;
}

async function updateMentions() {
  const prefix = mentionPrefix();
  if (!prefix || !state.current) return hideMentions();
  const members = await membersOf(state.current).catch(() => []);
  suggestions = members.filter((u) => u.startsWith(prefix) && u !== state.me.user_id).slice(0, 8);
  if (!suggestions.length) return hideMentions();
  chosen = Math.min(chosen, suggestions.length - 1);
  const ul = $('mentions');
  ul.replaceChildren(...suggestions.map((u, i) => {
    const li = document.createElement('li');
    li.role = 'option';
    li.id = `mention-${i}`;
    li.textContent = u;
    li.setAttribute('aria-selected', String(i === chosen));
    li.onmousedown = (e) => { e.preventDefault(); chosen = i; completeMention(); };
    return li;
  }));
  ul.hidden = false;
  $('message').setAttribute('aria-activedescendant', `mention-${chosen}`);
}

function hideMentions() {
  suggestions = [];
  chosen = 0;
  $('mentions').hidden = true;
  $('message').removeAttribute('aria-activedescendant');
}

function completeMention() {
  const t = $('message');
  const prefix = mentionPrefix();
  if (!prefix || !suggestions[chosen]) return hideMentions();
  const start = t.selectionStart - prefix.length;
  t.value = t.value.slice(0, start) + suggestions[chosen] + ' ' + t.value.slice(t.selectionStart);
  const pos = start + suggestions[chosen].length + 1;
  t.setSelectionRange(pos, pos);
  hideMentions();
}

$('message').addEventListener('input', () => { updateMentions(); });
$('message').addEventListener('blur', () => setTimeout(hideMentions, 100));

$('message').addEventListener('keydown', (e) => {
  if (suggestions.length && !$('mentions').hidden) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      chosen = (chosen + (e.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length;
      updateMentions();
      return;
    }
    if (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey)) {
      e.preventDefault();
      completeMention();
      return;
    }
    if (e.key === 'Escape') { hideMentions(); return; }
  }
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});
$('cancel-reply').onclick = () => { state.replyTo = null; $('replying').hidden = true; };

$('composer').onsubmit = (e) => {
  e.preventDefault();
  const body = $('message').value;
  if (!body.trim() || !state.current) return;
  const item = { txn: `web-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`, group_id: state.current, body, at: Date.now() };
  if (state.replyTo) item.reply_to = state.replyTo.event_id;
  state.outbox.push(item);
  saveOutbox();
  $('message').value = '';
  autosize();
  state.replyTo = null;
  $('replying').hidden = true;
  renderTimeline(true);
  flushOutbox();
};

function saveOutbox() { localStorage.setItem('gc.outbox', JSON.stringify(state.outbox)); }

// Sends queued messages in order; a failed send stays queued and is retried
// with the same client_txn_id, so the server stores it once. A 202 answer
// ({pending: true, seq: 0}: the group's home node is away) means the node
// has it and will deliver it: it leaves the outbox, is not sent again, and
// is shown as pending until the stream brings the event with its real seq.
let flushing = false;
async function flushOutbox() {
  if (flushing || !state.token) return;
  flushing = true;
  try {
    while (state.outbox.length) {
      const item = state.outbox[0];
      state.sending = item;
      try {
        const body = { body: item.body, client_txn_id: item.txn };
        if (item.reply_to) body.reply_to = item.reply_to;
        const ev = await api('POST', `/groups/${enc(item.group_id)}/messages`, body);
        state.sending = null;
        state.echoed.delete(item.txn);
        state.outbox.shift();
        saveOutbox();
        const tl = state.timelines.get(item.group_id);
        if (tl) apply(tl, ev);
        if (item.group_id === state.current) renderTimeline(true);
      } catch (err) {
        state.sending = null;
        if (err.status && err.status >= 400 && err.status < 500 && err.status !== 429) {
          state.echoed.delete(item.txn);
          state.outbox.shift();  // refused for good: say so, do not retry
          saveOutbox();
          alertStatus(`Message not sent: ${err.message}`);
          renderTimeline(true);
          continue;
        }
        setTimeout(flushOutbox, 2000);  // offline or server trouble: retry
        break;
      }
    }
  } finally {
    flushing = false;
  }
}
window.addEventListener('online', flushOutbox);

function alertStatus(text) {
  setStatus(text);
  setTimeout(() => { if ($('status').textContent === text) setStatus(''); }, 5000);
}

// ------------------------------------------------------------------ dialogs

function ask(title, fields) {
  return new Promise((resolve) => {
    $('dialog-title').textContent = title;
    $('dialog-error').textContent = '';
    const body = $('dialog-body');
    body.replaceChildren();
    for (const f of fields) {
      const label = document.createElement('label');
      label.textContent = f.label;
      let input;
      if (f.options) {
        input = document.createElement('select');
        for (const o of f.options) { const opt = document.createElement('option'); opt.value = o; opt.textContent = o; input.append(opt); }
      } else {
        input = document.createElement(f.multiline ? 'textarea' : 'input');
      }
      input.id = f.id;
      if (f.value !== undefined || !f.options) input.value = f.value || '';
      label.append(input);
      body.append(label);
    }
    const d = $('dialog');
    d.onclose = () => {
      if (d.returnValue !== 'ok') return resolve(null);
      const out = {};
      for (const f of fields) out[f.id] = $(f.id).value;
      resolve(out);
    };
    d.returnValue = '';
    d.showModal();
    if (fields.length) $(fields[0].id).focus();
  });
}

function show(title, nodes) {
  $('dialog-title').textContent = title;
  $('dialog-error').textContent = '';
  $('dialog-body').replaceChildren(...nodes);
  $('dialog').onclose = null;
  $('dialog').showModal();
}

$('new-group').onclick = async () => {
  const r = await ask('New group', [
    { id: 'ng-name', label: 'Name (a-z, 0-9, . _ -)' },
    { id: 'ng-title', label: 'Title' },
    { id: 'ng-vis', label: 'Visibility', options: ['public', 'private'] },
  ]);
  if (!r) return;
  try {
    const g = await api('POST', '/groups', { name: r['ng-name'].trim(), title: r['ng-title'] || undefined, visibility: r['ng-vis'] });
    await loadGroups();
    openGroup(g.group_id);
  } catch (e) { alertStatus(e.message); }
};

$('join-form').onsubmit = async (e) => {
  e.preventDefault();
  const addr = $('join-address').value.trim();
  if (!addr) return;
  try {
    const g = await api('POST', `/groups/${enc(addr)}/join`, {});
    $('join-address').value = '';
    await loadGroups();
    openGroup(g.group_id);
  } catch (err) { alertStatus(err.message); }
};

$('browse').onclick = () => browse('');

async function browse(q) {
  const r = await api('GET', `/directory?limit=50&q=${enc(q)}`);
  const form = document.createElement('div');
  form.className = 'row';
  const label = document.createElement('label');
  label.className = 'visually-hidden';
  label.htmlFor = 'dir-q';
  label.textContent = 'Search public groups';
  const input = document.createElement('input');
  input.id = 'dir-q';
  input.placeholder = 'Search public groups';
  input.value = q;
  const go = document.createElement('button');
  go.type = 'button';
  go.textContent = 'Search';
  go.onclick = () => { $('dialog').close(); browse(input.value); };
  input.onkeydown = (e) => { if (e.key === 'Enter') { e.preventDefault(); go.click(); } };
  form.append(label, input, go);
  const ul = document.createElement('ul');
  for (const g of r.groups) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${g.title} (${g.group_id}, ${g.member_count} members)`;
    b.onclick = async () => {
      $('dialog').close();
      try { await api('POST', `/groups/${enc(g.group_id)}/join`, {}); await loadGroups(); openGroup(g.group_id); } catch (e) { alertStatus(e.message); }
    };
    li.append(b);
    ul.append(li);
  }
  if (!r.groups.length) ul.textContent = q ? 'No public group matches.' : 'No public groups yet.';
  show('Public groups', [form, ul]);
  input.focus();
}

$('invite').onclick = async () => {
  const r = await ask('Invite someone', [{ id: 'inv-user', label: 'User address (@name:server)' }]);
  if (!r) return;
  try { await api('POST', `/groups/${enc(state.current)}/invites`, { user_id: r['inv-user'].trim() }); alertStatus('Invitation sent'); } catch (e) { alertStatus(e.message); }
};

$('members').onclick = async () => {
  const r = await api('GET', `/groups/${enc(state.current)}/members?limit=500`);
  const ul = document.createElement('ul');
  for (const m of r.members) {
    const li = document.createElement('li');
    li.textContent = `${m.user_id} — ${m.membership === 'invite' ? 'invited' : m.role}`;
    ul.append(li);
  }
  show('Members', [ul]);
};

$('settings').onclick = async () => {
  const g = state.groups.get(state.current);
  const r = await ask('Group settings', [
    { id: 'st-title', label: 'Title', value: g.title },
    { id: 'st-topic', label: 'Topic', value: g.topic, multiline: true },
    { id: 'st-vis', label: 'Visibility', options: [g.visibility, g.visibility === 'public' ? 'private' : 'public'] },
    { id: 'st-join', label: 'Who can join', options: [g.join_rule, g.join_rule === 'open' ? 'invite' : 'open'] },
  ]);
  if (!r) return;
  try {
    await api('PATCH', `/groups/${enc(state.current)}`, { title: r['st-title'], topic: r['st-topic'], visibility: r['st-vis'], join_rule: r['st-join'] });
  } catch (e) { alertStatus(e.message); }
};

$('leave').onclick = async () => {
  if (!confirm('Leave this group?')) return;
  try { await api('POST', `/groups/${enc(state.current)}/leave`, {}); } catch (e) { alertStatus(e.message); }
};

$('edit-profile').onclick = async () => {
  const r = await ask('Profile', [{ id: 'pf-name', label: 'Display name', value: state.me.display_name }]);
  if (!r) return;
  try { state.me = await api('PATCH', '/me', { display_name: r['pf-name'] }); $('me').textContent = `${state.me.display_name} (${state.me.user_id})`; } catch (e) { alertStatus(e.message); }
};

$('toggle-sidebar').onclick = () => $('sidebar').classList.toggle('open');

// ------------------------------------------------------------------ boot

if (state.token) {
  start().catch(() => signedOut());
} else {
  $('auth').hidden = false;
}
