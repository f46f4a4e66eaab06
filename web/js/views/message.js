// One entry of the timeline: a message (sender with presence, time, reply
// quote, body as text with links and mentions, edited/pending marks, tools,
// reactions) or a notice (joins, leaves, settings).
//
// Message bodies and every other piece of user text go into the page with
// textContent only (never as HTML); links are made with createElement and
// only for http(s) URLs.
//
// addMessagePart() is where features that show more under a message's body
// (attachments, link previews) plug in, without changing this file;
// addSenderPart() likewise puts something before the sender's name (avatars).
import { api, enc } from '../api.js';
import { emit } from '../bus.js';
import { state } from '../store.js';
import { ask } from './dialog.js';
import { alertStatus } from './status.js';

const parts = [];  // (ev, tl) -> Node or null, in the order added
const senderParts = [];  // (ev) -> Node or null

// Registers `part(ev, tl)`, called for every shown message that is not
// deleted; a Node it returns is put after the body.
export function addMessagePart(part) { parts.push(part); }

// Registers `part(ev)`, called for every shown message; a Node it returns is
// put before the sender's name.
export function addSenderPart(part) { senderParts.push(part); }

// Appends text to `parent`, turning http(s) links into anchors and
// highlighting @user:server mentions. Never interprets HTML.
export function richText(parent, text) {
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

const membershipWords = { join: 'joined', leave: 'left', invite: 'was invited', ban: 'was banned' };

// The <li> for event `ev` of timeline `tl`.
export function renderEvent(ev, tl) {
  const li = document.createElement('li');
  if (ev.type !== 'message') {
    li.className = 'notice';
    if (ev.type === 'member') li.textContent = `${ev.content.user_id} ${membershipWords[ev.content.membership] || ev.content.membership}`;
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
  for (const part of senderParts) {
    const node = part(ev);
    if (node) who.prepend(node);
  }
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
  if (!ev.deleted) {
    for (const part of parts) {
      const node = part(ev, tl);
      if (node) li.append(node);
    }
  }
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
  add('Reply', () => emit('reply-to', ev));
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
