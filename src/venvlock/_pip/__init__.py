"""What venvlock knows of pip, read as pip 26.3 reads it, without importing pip.

- :mod:`~venvlock._pip.options`: pip's option tables, and what each option does to what counts as installed.
- :mod:`~venvlock._pip.config`: pip's configuration files and ``PIP_*`` variables.
- :mod:`~venvlock._pip.requirements`: install arguments and requirement files.
- :mod:`~venvlock._pip.redact`: credentials hidden as pip hides them.

Nothing here imports the core; the core's check and record read requests through it.
"""
