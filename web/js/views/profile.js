// The top bar: who is signed in, the profile dialog (display name, picture;
// the notification settings of views/notify_prefs.js), log out,
// and the button that shows the group list on narrow screens.
import { api } from '../api.js';
import { emit } from '../bus.js';
import { $ } from '../dom.js';
import { state } from '../store.js';
import { avatarPicker } from './avatars.js';
import { ask } from './dialog.js';
import { desktopSection, profileFields, saveProfileFields } from './notify_prefs.js';
import { disablePush } from '../push.js';
import { alertStatus } from './status.js';

// Shows the signed-in user (state.me) in the top bar.
export function showMe() {
  $('me').textContent = state.me.display_name ? `${state.me.display_name} (${state.me.user_id})` : state.me.user_id;
}

export function mount() {
  $('logout').onclick = async () => {
    try { await disablePush(); } catch (_) { /* sign out all the same */ }
    try { await api('POST', '/auth/logout'); } catch (_) { /* signed out anyway */ }
    emit('session-ended');
  };

  $('edit-profile').onclick = async () => {
    const notify = await profileFields();
    const asked = ask('Profile', [{ id: 'pf-name', label: 'Display name', value: state.me.display_name },
      { node: avatarPicker() }, ...notify]);
    $('dialog-body').append(desktopSection());
    const r = await asked;
    if (!r) return;
    try { state.me = await api('PATCH', '/me', { display_name: r['pf-name'] }); $('me').textContent = `${state.me.display_name} (${state.me.user_id})`; } catch (e) { alertStatus(e.message); }
    try {
      const me = await saveProfileFields(r);
      if (me) state.me = me;
    } catch (e) { alertStatus(`Notification settings not saved: ${e.message}`); }
  };

  $('toggle-sidebar').onclick = () => $('sidebar').classList.toggle('open');
}
