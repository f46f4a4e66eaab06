// HTTP routes of email notifications:
//   GET  /api/v1/email/unsubscribe?token=  a page with one button (no login;
//        a GET changes nothing, since mail scanners follow links)
//   POST /api/v1/email/unsubscribe?token=  turns the user's email off (the
//        page's button, or a mail client's RFC 8058 one-click POST)
//   GET, PUT /api/v1/me/email-notifications  {enabled} and what the node does
#pragma once

namespace gc {

class Router;
class EmailNotifier;

void AddEmailRoutes(Router& router, EmailNotifier& email);

}  // namespace gc
