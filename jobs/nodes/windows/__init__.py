"""Window strategies of the `aggregate` node: how each window kind assigns events, keeps state and closes.

The definition (parameters, checks, types) is jobs/nodes/aggregate.py; the processing is here, one module per
kind, sharing accumulate / emit (base.py), as Quix Streams separates a window's definition from its processing:
  tumbling.py  fixed windows back to back, closed by an event-time timer at their end
  session.py   windows that grow while events come closer than `gap`, merged when an event bridges two
  sliding.py   the last `size` before each event, in buckets evicted once the watermark has passed them
"""
