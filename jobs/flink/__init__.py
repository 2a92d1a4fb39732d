"""PyFlink: the operators, the job builder and the input/output adapters."""
