// The status line at the top: connection trouble, and short notices
// ("Invitation sent", errors) that clear themselves after 5 s.
import { on } from '../bus.js';
import { $ } from '../dom.js';

export function setStatus(text) {
  $('status').hidden = !text;
  $('status').textContent = text || '';
}

export function alertStatus(text) {
  setStatus(text);
  setTimeout(() => { if ($('status').textContent === text) setStatus(''); }, 5000);
}

export function mount() {
  on('stream:lost', () => setStatus('Connection lost — reconnecting…'));
  on('frame:ready', () => setStatus(''));
  on('alert', alertStatus);
}
