"""The admin dashboard: server-rendered pages behind a session cookie with CSRF protection."""
