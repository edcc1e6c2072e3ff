"""glassnet's test suite; a package so its helpers import as tests.torch_parity and tests.mpi_workers.cases."""
