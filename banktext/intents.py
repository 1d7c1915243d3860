"""Groups of the NLU contract's intents (``../shared/spec/intents.yml``) that more than one part reads.

The Rasa server's guards, the action server's hand-over summary and the staff's quality report
each leave conversation control out of "what the customer asked"; they name it from here.
"""

from __future__ import annotations

#: The contract's conversation control: said, not asked (greetings, thanks, yes and no).
CONVERSATION_CONTROL = frozenset({"greet", "goodbye", "thank", "affirm", "deny"})
#: The NLU's "not understood" (Rasa's FallbackClassifier intent): the bot asks the customer to rephrase.
NOT_UNDERSTOOD = "nlu_fallback"
#: The customer's answer to a form's question (a place, a time, an amount): a reply, not a subject.
FORM_ANSWER = "inform"
#: Key of the NLU's parse that names the intent a whole-message rule decided (bot/nlu/intent_rules.py):
#: a yes the customer said in so many words, where the classifier's yes is a guess. A risk disclosure
#: is acknowledged only by a yes said plainly or by its button (actions/disclosure.py).
DECIDED_BY_RULE = "intent_rule"
#: Key of the NLU's parse, True when none of the message's words occurs in the training data
#: (bot/nlu/familiarity.py): a free-text answer to a form made only of them ("asdfgh") is not taken.
UNFAMILIAR_WORDS = "unfamiliar_words"
#: Value of ``DECIDED_BY_RULE`` when the customer says they did not follow the bot ("什么意思",
#: "没看懂", "能说清楚点吗"): not understood, and answered with an apology and a person to explain,
#: not with "please rephrase" (actions/quality.py). The classifier read these as a no, a complaint
#: or a product question.
DID_NOT_FOLLOW = "did_not_follow"
#: Value of ``DECIDED_BY_RULE`` when the customer says the bot misread their question ("我不是问这个",
#: "不是这个意思", "答非所问", "你没懂我的意思"): a no, answered with an apology and a request to ask again
#: in other words, the question before it kept for staff to label (actions/products.py, desk/review.py).
#: The classifier read these as a no ("好的，还有什么可以帮您") or as out of scope.
NOT_WHAT_I_ASKED = "not_what_i_asked"
#: Value of ``DECIDED_BY_RULE`` when the customer asks what to do now, and nothing more ("怎么办啊 急",
#: "那我现在该怎么办"): after a fraud or a lost card, the first step again and a person; otherwise what
#: happened is asked (actions/products.py). The classifier read these as an application.
WHAT_NOW = "what_now"
