// The sign-in page: log in, or create an account (with an invite token when
// the server asks for one).
import { api } from '../api.js';
import { $ } from '../dom.js';
import { saveToken } from '../store.js';

let registering = false;
function setAuthMode(reg) {
  registering = reg;
  $('tab-login').setAttribute('aria-selected', String(!reg));
  $('tab-register').setAttribute('aria-selected', String(reg));
  for (const el of document.querySelectorAll('.register-only')) el.hidden = !reg;
  $('auth-submit').textContent = reg ? 'Create account' : 'Log in';
  $('password').autocomplete = reg ? 'new-password' : 'current-password';
}

// Shows the sign-in page instead of the app, with `message` (may be empty).
export function showSignIn(message) {
  $('app').hidden = true;
  $('auth').hidden = false;
  $('auth-error').textContent = message || '';
  $('username').focus();
}

// Shows the app instead of the sign-in page.
export function showApp() {
  $('auth').hidden = true;
  $('app').hidden = false;
}

// `start()` opens the session once a token is stored; its failure is shown here.
export function mount({ start }) {
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
      saveToken(r.access_token);
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
}
