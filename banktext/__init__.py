"""Text handling both services share: personal-number masking and Chinese script conversion.

The Rasa server (``bot/``, masking every incoming message at the channel
gateway) and the action server (``actions/``, masking what it stores and
normalising names for the knowledge base) need the same rules, and each runs
in its own environment (rasa 3.6 pins SQLAlchemy < 1.5, the action server uses
SQLAlchemy 2). So the rules live here, in a package that both import and that
imports neither: standard library only, plus ``opencc`` and ``cryptography`` (installed in
both environments) imported lazily by the script and sealing helpers.

* :mod:`banktext.masking`: :func:`redact`, :func:`find_phone`, :func:`mask_phone`;
* :mod:`banktext.script`: :func:`to_simplified`, :func:`to_traditional`, :func:`is_traditional`, :func:`script_of`;
* :mod:`banktext.cantonese`: :func:`~banktext.cantonese.to_mandarin`, written Cantonese in Mandarin words;
* :mod:`banktext.logs`: :class:`RedactingFilter` and :func:`install`, personal numbers kept out of logs;
* :mod:`banktext.intents`: :data:`~banktext.intents.CONVERSATION_CONTROL`, the contract's intents that
  are said, not asked;
* :mod:`banktext.wordlists`: :func:`~banktext.wordlists.read_word_list`, the hand-written word lists
  (other institutions, places) both services read;
* :mod:`banktext.sealing`: :func:`seal`, :func:`unseal`, a call-back number encrypted for staff
  (``cryptography``, installed in both environments, imported lazily).
"""

from banktext.logs import RedactingFilter, install
from banktext.masking import MASKED_PHONE, find_phone, mask_phone, phone_numbers, redact, redact_keeping_phones
from banktext.script import is_traditional, script_of, to_simplified, to_traditional
from banktext.sealing import seal, unseal

__all__ = [
    "MASKED_PHONE",
    "RedactingFilter",
    "find_phone",
    "install",
    "is_traditional",
    "mask_phone",
    "phone_numbers",
    "redact",
    "redact_keeping_phones",
    "script_of",
    "seal",
    "to_simplified",
    "to_traditional",
    "unseal",
]
