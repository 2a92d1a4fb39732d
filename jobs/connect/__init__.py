"""Connections to real Kafka, Elasticsearch and Flink clusters: settings and secrets, naming, index template, REST."""
