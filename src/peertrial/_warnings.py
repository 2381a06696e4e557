"""Warning classes raised by peertrial."""


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped without meeting its convergence criterion."""


class PeertrialWarning(UserWarning):
    """A documented, non-fatal handling of the user's data (dropped rows, corrections)."""
