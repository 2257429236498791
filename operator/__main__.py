"""`python -m kubetask.operator` runs the operator."""

from kubetask.operator.main import main

main()
