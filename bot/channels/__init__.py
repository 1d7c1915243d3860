"""Customer channels (website chat, WeChat, REST) and the gateway every message passes."""

# Every log line of the Rasa server is masked (card, ID and phone numbers), whatever logs it:
# the channels are imported when the server starts, before any customer message arrives.
from banktext.logs import install as _mask_logs

_mask_logs()

# one kept HTTP session per endpoint instead of a new connection for every action call
from bot.speed import install as _keep_sessions  # noqa: E402 - after the log masking, on purpose

_keep_sessions()

# a message that does not tell its script ("ok", a button) is answered in the script of the
# stored conversation, read from the tracker the turn loads anyway
from bot.channels.gateway import carry_script_into_turns as _carry_script  # noqa: E402

_carry_script()
