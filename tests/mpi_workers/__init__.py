"""Programs run by mpirun in the multi-rank tests, and the cases they share with the one-process tests."""
