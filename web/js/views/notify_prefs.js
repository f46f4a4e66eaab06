// Notification preferences: the level of the current group (its header's
// "Notifications" button: all messages, mentions and replies, nothing, or the
// default), and in the profile dialog the default level, do-not-disturb
// (for an hour, for 8 hours, until tomorrow 8:00, or off), email for missed
// mentions and replies (address and switch) and desktop notifications on
// this browser (js/push.js). Levels and do-not-disturb are
// the node's (/me/notification-settings, /groups/{g}/notification-level):
// they hold on every device.
import { api, enc } from '../api.js';
import { emit, on } from '../bus.js';
import { $ } from '../dom.js';
import { disablePush, enablePush, pushState } from '../push.js';
import { state } from '../store.js';
import { ask } from './dialog.js';
import { alertStatus } from './status.js';

const LEVELS = [
  { value: 'all', label: 'All messages' },
  { value: 'mentions', label: 'Mentions and replies' },
  { value: 'none', label: 'Nothing' },
];
const levelLabel = (v) => (LEVELS.find((l) => l.value === v) || { label: v }).label;

// The group header's button says the level when the group has its own.
function showGroupLevel(level, isDefault) {
  const b = $('group-notify');
  b.textContent = isDefault ? 'Notifications' : `Notifications: ${levelLabel(level).toLowerCase()}`;
}

async function refreshGroupButton(groupId) {
  showGroupLevel('', true);
  try {
    const r = await api('GET', `/groups/${enc(groupId)}/notification-level`);
    if (state.current === groupId) showGroupLevel(r.level, r.default);
  } catch (_) { /* the button works without it */ }
}

async function editGroupLevel() {
  const id = state.current;
  let cur;
  try { cur = await api('GET', `/groups/${enc(id)}/notification-level`); } catch (e) { alertStatus(e.message); return; }
  const g = state.groups.get(id);
  const r = await ask(`Notifications for ${g ? g.title || id : id}`, [{
    id: 'gl-level',
    label: 'Notify me about',
    value: cur.default ? 'default' : cur.level,
    options: [{ value: 'default', label: `Default (${levelLabel(cur.default ? cur.level : '') || 'as in your profile'})` }, ...LEVELS],
  }]);
  if (!r) return;
  try {
    const after = await api('PUT', `/groups/${enc(id)}/notification-level`, { level: r['gl-level'] });
    emit('notify-settings-changed');
    if (state.current === id) showGroupLevel(after.level, after.default);
  } catch (e) { alertStatus(e.message); }
}

// Email for missed mentions and replies, as fields of the profile dialog
// (only when the node sends mail): the address (a profile field, PATCH /me)
// and the switch an unsubscribe link turns off (/me/email-notifications).
let mail = null;
async function emailFields() {
  try { mail = await api('GET', '/me/email-notifications'); } catch (_) { mail = null; }
  if (!mail || !mail.configured) return [];
  const after = mail.delay_s >= 120 ? `${Math.round(mail.delay_s / 60)} minutes` : `${mail.delay_s} seconds`;
  return [
    { id: 'pf-email', label: 'Email address (never shown to others)', value: mail.email || '', type: 'email', autocomplete: 'email' },
    {
      id: 'pf-email-on',
      label: `Email me mentions and replies still unread after ${after}`,
      value: mail.enabled ? 'on' : 'off',
      options: [{ value: 'on', label: 'On' }, { value: 'off', label: 'Off' }],
    },
  ];
}

// Saves what emailFields() asked, if it changed; returns the new profile when
// the address changed.
async function saveEmailFields(r) {
  if (!mail || !mail.configured || r['pf-email'] === undefined) return null;
  let me = null;
  const address = r['pf-email'].trim();
  if (address !== (mail.email || '')) me = await api('PATCH', '/me', { email: address || null });
  const on = r['pf-email-on'] === 'on';
  if (on !== mail.enabled) await api('PUT', '/me/email-notifications', { enabled: on });
  return me;
}

// The default level and do-not-disturb, and email, as fields of the
// profile dialog. Returns [] when the settings cannot be read (the dialog
// still opens).
let settings = null;
export async function profileFields() {
  const email = await emailFields();
  try { settings = await api('GET', '/me/notification-settings'); } catch (_) { settings = null; return email; }
  const dnd = [{ value: 'off', label: 'Off' }, { value: '1h', label: 'For 1 hour' }, { value: '8h', label: 'For 8 hours' },
    { value: 'tomorrow', label: 'Until tomorrow, 8:00' }];
  const active = settings.dnd_until && settings.dnd_until > Date.now();
  if (active) {
    const until = new Date(settings.dnd_until).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
    dnd.unshift({ value: 'keep', label: `On until ${until}` });
  }
  return [
    { id: 'pf-level', label: 'Notify me in groups about (the default)', value: settings.default_level, options: LEVELS },
    { id: 'pf-dnd', label: 'Do not disturb (nothing is pushed; the inbox still fills)', value: active ? 'keep' : 'off', options: dnd },
    ...email,
  ];
}

// The end of do-not-disturb chosen in the profile (ms), null for off,
// undefined for unchanged.
function dndUntil(choice) {
  const now = new Date();
  if (choice === '1h') return now.getTime() + 3600e3;
  if (choice === '8h') return now.getTime() + 8 * 3600e3;
  if (choice === 'tomorrow') {
    const t = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 8, 0, 0);
    return t.getTime();
  }
  if (choice === 'off') return settings && settings.dnd_until && settings.dnd_until > now.getTime() ? null : undefined;
  return undefined;
}

// Saves what profileFields() asked, if any of it changed. Returns the new
// profile when the email address changed, else null.
export async function saveProfileFields(r) {
  const me = await saveEmailFields(r);
  if (!settings || !r['pf-level']) return me;
  const change = {};
  if (r['pf-level'] !== settings.default_level) change.default_level = r['pf-level'];
  const until = dndUntil(r['pf-dnd']);
  if (until !== undefined) change.dnd_until = until;
  if (Object.keys(change).length) {
    settings = await api('PATCH', '/me/notification-settings', change);
    emit('notify-settings-changed');
  }
  return me;
}

// "Desktop notifications" with its Enable/Disable button, for the profile
// dialog; nothing when the browser cannot do them.
export function desktopSection() {
  const box = document.createElement('fieldset');
  box.className = 'desktop-notify';
  box.hidden = true;
  const legend = document.createElement('legend');
  legend.textContent = 'Desktop notifications';
  const says = document.createElement('p');
  says.id = 'push-state';
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'push-toggle';
  const error = document.createElement('p');
  error.className = 'error';
  error.id = 'push-error';
  error.setAttribute('role', 'alert');
  box.append(legend, says, button, error);

  const show = (s) => {
    box.hidden = s === 'unsupported';
    says.textContent = {
      on: 'On: this browser shows a notification when you are mentioned or messaged, even when GroupChat is closed.',
      off: 'Off on this browser.',
      blocked: 'Blocked: allow notifications for this site in the browser\'s settings first.',
    }[s] || '';
    button.textContent = s === 'on' ? 'Disable desktop notifications' : 'Enable desktop notifications';
    button.disabled = s === 'blocked';
    button.dataset.state = s;
  };
  pushState().then(show, () => show('off'));
  button.onclick = async () => {
    error.textContent = '';
    button.disabled = true;
    try {
      if (button.dataset.state === 'on') await disablePush(); else await enablePush();
    } catch (e) {
      error.textContent = e.message;
    }
    show(await pushState().catch(() => 'off'));
  };
  return box;
}

export function mount() {
  $('group-notify').onclick = editGroupLevel;
  on('group-opened', refreshGroupButton);
}
