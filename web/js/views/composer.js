// The composer: Enter sends, Shift+Enter adds a line; replies; typing
// notifications; `@` completes members' addresses (arrows, Tab or Enter).
// Sent messages go to the outbox (../outbox.js), which delivers them.
import { on } from '../bus.js';
import { $ } from '../dom.js';
import { enqueue } from '../outbox.js';
import { state } from '../store.js';
import * as stream from '../stream.js';
import { membersOf } from '../sync.js';

function autosize() {
  const t = $('message');
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight, 200) + 'px';
}

function setReply(ev) {
  state.replyTo = ev;
  $('replying').hidden = !ev;
  if (ev) $('replying').firstElementChild.textContent = `Replying to ${ev.sender}`;
}

// Tells the group we are typing, at most every 3 s.
let typingSent = 0;
function sendTyping() {
  if (!state.current || !stream.isOpen()) return;
  const now = Date.now();
  if (now - typingSent > 3000) {
    typingSent = now;
    stream.send({ type: 'typing', group_id: state.current, typing: true });
  }
}

// ------------------------------------------------------------------ mention completion

let suggestions = [];
let chosen = 0;

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

// True if the key was for the open suggestion list.
function mentionKey(e) {
  if (!suggestions.length || $('mentions').hidden) return false;
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    chosen = (chosen + (e.key === 'ArrowDown' ? 1 : suggestions.length - 1)) % suggestions.length;
    updateMentions();
    return true;
  }
  if (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey)) {
    e.preventDefault();
    completeMention();
    return true;
  }
  if (e.key === 'Escape') { hideMentions(); return true; }
  return false;
}

// ------------------------------------------------------------------ wiring

export function mount() {
  const message = $('message');
  message.addEventListener('input', () => { autosize(); sendTyping(); });
  message.addEventListener('input', () => { updateMentions(); });
  message.addEventListener('blur', () => setTimeout(hideMentions, 100));
  message.addEventListener('keydown', (e) => {
    if (mentionKey(e)) return;
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('cancel-reply').onclick = () => setReply(null);
  on('reply-to', (ev) => { setReply(ev); message.focus(); });
  on('group-opened', () => setReply(null));

  $('composer').onsubmit = (e) => {
    e.preventDefault();
    const body = message.value;
    if (!body.trim() || !state.current) return;
    const item = { txn: `web-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`, group_id: state.current, body, at: Date.now() };
    if (state.replyTo) item.reply_to = state.replyTo.event_id;
    message.value = '';
    autosize();
    setReply(null);
    enqueue(item);
  };
}
