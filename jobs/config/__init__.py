"""Connection settings, secrets and the naming of topics / indices / groups: plain configuration.

Below both jobs/flink (whose Kafka and Elasticsearch connectors read it) and jobs/connect (which builds and
administers connected runs); it imports nothing else of `jobs`.
"""
