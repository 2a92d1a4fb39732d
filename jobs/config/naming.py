"""Topic, index, consumer-group and transactional-id names (docs/decisions/0007-kafka-topics-and-delivery.md).

  inputs      source.topic (default: the source name)
  actions     <scenario>.actions.<channel>, keyed by the action's `to`
  dead letter <scenario>.dead_letter
  detections  Elasticsearch index kairos-detections-<scenario> (template kairos-detections), or without
              Elasticsearch the topic <scenario>.detections
  dry run     the same with `.dryrun` (topics) / `-dryrun` (index) appended; inputs unchanged
A prefix (`--prefix staging.`) is put in front of every topic, group and index name: several environments
(or tests) share one Kafka and one Elasticsearch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INDEX_PREFIX = "kairos-detections-"
TEMPLATE_NAME = "kairos-detections"


@dataclass(frozen=True)
class Naming:
    scenario: str
    prefix: str = ""
    dry_run: bool = False

    def source_topic(self, topic: str) -> str:
        return self.prefix + topic

    def actions_topic(self, channel: str) -> str:
        return self._shadow(f"{self.prefix}{self.scenario}.actions.{channel}")

    @property
    def dead_letter_topic(self) -> str:
        return self._shadow(f"{self.prefix}{self.scenario}.dead_letter")

    @property
    def detections_topic(self) -> str:
        return self._shadow(f"{self.prefix}{self.scenario}.detections")

    @property
    def index(self) -> str:
        name = re.sub(r"[^a-z0-9_.-]", "-", f"{self.prefix}{INDEX_PREFIX}{self.scenario}".lower()).lstrip("-_.")
        return f"{name}-dryrun" if self.dry_run else name

    @property
    def group_id(self) -> str:
        # a dry run must not move the production job's committed offsets
        return f"{self.prefix}kairos-{self.scenario}" + ("-dryrun" if self.dry_run else "")

    def transactional_prefix(self, what: str) -> str:
        return f"{self.group_id}-{what}"

    def _shadow(self, topic: str) -> str:
        return f"{topic}.dryrun" if self.dry_run else topic

    @property
    def index_pattern(self) -> str:
        return f"{self.prefix.lower()}{INDEX_PREFIX}*"
