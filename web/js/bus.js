// A small synchronous event bus: how the client's modules tell each other what
// happened without importing each other (which would make import cycles and
// tie every new screen into the old ones). emit() calls every handler at once,
// in the order they subscribed, before it returns, so an event is handled as
// if the emitter had called the handlers itself.
//
// The events, with the detail each carries:
//   session-ended    message shown on the sign-in page, or undefined: the
//                    session is over (401, logout, stream closed with 4002)
//   frame:<type>     a stream frame, after the cursor moved past it
//                    (frame:ready, frame:event, frame:typing, frame:presence,
//                    frame:read, frame:notification, frame:notification.read;
//                    a new frame type needs no change here)
//   stream:lost      the stream dropped and will reconnect
//   groups-changed   the group list in the store changed: render it again
//   group-opened     group_id: the group now on screen (state.current)
//   outbox-changed   {group_id} (undefined: any group): unsent messages changed
//   reply-to         the event the composer now answers
//   alert            a short message for the status line
//   notifications-changed  the inbox or its unread count changed (js/notifications.js)
//   notify-settings-changed  the user changed a notification level (views/notify_prefs.js)
const handlers = new Map();  // name -> [handler]

// Calls `fn(detail)` at every emit(name); returns a function that unsubscribes.
export function on(name, fn) {
  if (!handlers.has(name)) handlers.set(name, []);
  handlers.get(name).push(fn);
  return () => {
    const list = handlers.get(name);
    list.splice(list.indexOf(fn), 1);
  };
}

export function emit(name, detail) {
  for (const fn of [...(handlers.get(name) || [])]) fn(detail);
}
