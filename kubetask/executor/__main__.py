"""`python -m kubetask.executor` runs the executor runtime."""

from kubetask.executor.runtime import main

main()
