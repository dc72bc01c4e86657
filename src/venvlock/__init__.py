"""venvlock: lock Python environments around their implicit sync.

Importing this package is cheap on purpose: the command-line fast path of
``pip-locked`` must not pay for anything it does not use.  The public API
lives in :mod:`venvlock.core`; the plugin contract in :mod:`venvlock.hookspec`.
"""

__version__ = "0.1.0"
