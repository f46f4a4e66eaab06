// The outbox: messages typed by the user, kept in localStorage until the node
// has them, so that nothing typed offline or during a restart is lost.
//
// Sends queued messages in order; a failed send stays queued and is retried
// with the same client_txn_id, so the server stores it once. A 202 answer
// ({pending: true, seq: 0}: the group's home node is away) means the node
// has it and will deliver it: it leaves the outbox, is not sent again, and
// is shown as pending until the stream brings the event with its real seq.
import { api, enc } from './api.js';
import { emit } from './bus.js';
import { apply, saveOutbox, state } from './store.js';

// Queues a message ({txn, group_id, body, at, reply_to?, media_id?}) and starts sending.
export function enqueue(item) {
  state.outbox.push(item);
  saveOutbox();
  emit('outbox-changed', { group_id: item.group_id });
  flushOutbox();
}

let flushing = false;
export async function flushOutbox() {
  if (flushing || !state.token) return;
  flushing = true;
  try {
    while (state.outbox.length) {
      const item = state.outbox[0];
      state.sending = item;
      try {
        const body = { body: item.body, client_txn_id: item.txn };
        if (item.reply_to) body.reply_to = item.reply_to;
        if (item.media_id) body.media_id = item.media_id;
        const ev = await api('POST', `/groups/${enc(item.group_id)}/messages`, body);
        state.sending = null;
        state.echoed.delete(item.txn);
        state.outbox.shift();
        saveOutbox();
        const tl = state.timelines.get(item.group_id);
        if (tl) apply(tl, ev);
        emit('outbox-changed', { group_id: item.group_id });
      } catch (err) {
        state.sending = null;
        if (err.status && err.status >= 400 && err.status < 500 && err.status !== 429) {
          state.echoed.delete(item.txn);
          state.outbox.shift();  // refused for good: say so, do not retry
          saveOutbox();
          emit('alert', `Message not sent: ${err.message}`);
          emit('outbox-changed', {});
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
