"""kairos: real-time decisioning scenarios compiled into PyFlink DataStream jobs."""

__version__ = "0.1.0"
