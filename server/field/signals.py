"""What the field domain announces to the domains that build on it.

Field sits below enforcement: it does not call enforcement, it says what happened and the
domains above subscribe (blinker, the signal library Flask itself uses). Receivers run at once,
in the sender's transaction, so what they write commits or rolls back with the push.
"""

from blinker import Namespace

_signals = Namespace()

# An inspection was submitted and its violations stored. Sender: the Inspection; keyword
# arguments: `violations` (its live violations) and `actor` (the submitting user).
inspection_submitted = _signals.signal("inspection-submitted")

# The office is about to adopt another record of an assignment in place of its primary record,
# whose stored violations would then be removed (a record not adopted stores none). Sender: the
# primary Inspection; keyword arguments: `adopted` (the record to stand) and `violations` (the
# primary's stored violations, live or withdrawn). A domain that already acted on them refuses
# by raising a Problem (e.g. Conflict naming the case), and nothing is switched.
primary_record_replacing = _signals.signal("primary-record-replacing")
