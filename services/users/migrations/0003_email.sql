-- The profile's email address (PATCH /api/v1/me), where missed mentions
-- and replies are mailed when notifications.email is configured. Private:
-- shown to the user and to admins only. NULL: none.
ALTER TABLE users ADD COLUMN email text CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254);
