"""``gluon.contrib``: the Estimator (one-line ``fit``) and its event handlers."""
from . import estimator  # noqa: F401
