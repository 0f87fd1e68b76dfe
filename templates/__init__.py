"""Jinja2 templates of pages and emails, installed as package data of `syndicate.templates`."""
