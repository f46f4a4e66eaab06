// "alice is typing…" under the timeline, from the stream's typing frames;
// each entry expires after the timeout the server gave.
import { on } from '../bus.js';
import { $ } from '../dom.js';
import { state } from '../store.js';

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

export function mount() {
  on('frame:typing', onTyping);
  setInterval(renderTyping, 1000);
}
