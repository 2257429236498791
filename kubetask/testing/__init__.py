"""Helpers shared by the test suite and the benchmarks: the local cluster, the operator process, a
throwaway PostgreSQL. They drive real processes from a checkout (scripts/cluster/cluster.sh), so they
live in the package rather than under tests/, which bench/ must not import. Product code never imports
this package (an import contract says so)."""
