"""Email: building messages, rendering templates, and transports (SMTP or .eml files)."""
