"""Connected runs on real Kafka, Elasticsearch and Flink clusters: the runner, topics, index template, REST.

Settings, secrets and naming live in jobs/config (read by the Flink connectors too).
"""
