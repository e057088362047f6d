"""Telling people how a run went: the notification mail (mail.py) and its templates
(template.py, the built-in default.mail)."""
