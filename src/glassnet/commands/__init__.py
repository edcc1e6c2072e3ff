"""Sub-commands of the ``glassnet`` command line (see :mod:`glassnet.cli`)."""
