"""What draws announce to the domains above them (blinker, shipped with Flask).

`draw_formed` is sent once a draw's contribution is in and its assignments exist (or it was
cancelled because the completed seed could not staff it): a re-inspection waits for its draw's
assignment without draws knowing about rectification (server/enforcement/reinspection.py).
"""

from blinker import Namespace

_signals = Namespace()

# sender: the Draw; keyword `actor`: who entered the contribution.
draw_formed = _signals.signal("draw-formed")
