"""The staff desk: a console where people take conversations over from the assistant.

``python -m desk serve`` runs it (``make run`` does); ``python -m desk user add`` makes staff
accounts. See docs/desk.md.
"""
