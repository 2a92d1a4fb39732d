# Local Kafka / Elasticsearch / Flink services. Included by the main Makefile:
#   include services/services.mk
# Scripts: services/*.sh (each has --help). Decisions: docs/decisions/0004-local-services.md

SERVICES_DIR     ?= services
SERVICES_ENV_DIR ?= $(CURDIR)/.cache/services
export SERVICES_ENV_DIR

.PHONY: jars services-up services-down services-status

## jars: fetch connector jars, Kafka broker jars and the Elasticsearch zip into .cache/ (idempotent)
jars:
	$(SERVICES_DIR)/fetch-jars.sh

## services-up: start Kafka, Elasticsearch and the Flink session cluster; wait until ready
services-up: jars
	$(SERVICES_DIR)/kafka.sh start
	$(SERVICES_DIR)/elasticsearch.sh start
	$(SERVICES_DIR)/flink-cluster.sh start

## services-down: stop all services (reverse order); no leftover processes
services-down:
	-$(SERVICES_DIR)/flink-cluster.sh stop
	-$(SERVICES_DIR)/elasticsearch.sh stop
	-$(SERVICES_DIR)/kafka.sh stop

## services-status: exit 0 iff every service is up and answering
services-status:
	@rc=0; \
	$(SERVICES_DIR)/kafka.sh status || rc=1; \
	$(SERVICES_DIR)/elasticsearch.sh status || rc=1; \
	$(SERVICES_DIR)/flink-cluster.sh status || rc=1; \
	exit $$rc
