"""The fraud example in Flink SQL through PyFlink's Table API: an OVER window per card.

    JSON lines (Flink's JSON format, every column read as text) -> a rowtime with a 30 s watermark
      -> bad lines (no card, no time, a non-numeric amount)       -> dead letters
      -> late lines (rowtime at or before CURRENT_WATERMARK)       -> dead letters
      -> amount > 0 -> COUNT / SUM / COUNT(DISTINCT country) OVER (PARTITION BY card ORDER BY rowtime
         RANGE 9:59.999 PRECEDING) -> risk -> detections (JSON files), high risk -> actions (JSON files)

All three INSERTs run as one statement set (one job, the source read once). Thread mode is irrelevant here: no
Python runs per record. Semantics, and where they differ from the scenario:
* the window (t - 10 min, t] is `RANGE BETWEEN INTERVAL '9:59.999' PRECEDING AND CURRENT ROW` (millisecond
  times, so the same set);
* an OVER window sorts each card's rows by event time before evaluating them, so a transaction sees the card's
  out-of-order transactions with an earlier time even if they arrived after it, and every row with the same
  time; kairos (and the DataStream baseline) evaluate each transaction on arrival. The bench computes the
  difference exactly with a brute-force oracle over the input (bench/oracle.py) and checks both figures;
* late rows are those at or before Flink's watermark (CURRENT_WATERMARK), the documented SQL way to route
  late data; see bench/baselines/fraud_datastream.py for why that agrees with kairos on the bench input;
* timestamps are parsed as ISO-8601 UTC text (what the examples and the bench generator write);
* a line that is not JSON at all is skipped by Flink's JSON format (`json.ignore-parse-errors`; without it the
  job fails) where kairos dead-letters it: the bench generator's malformed lines are JSON objects with a wrong
  field, which both count. (Parsing the raw line with JSON_VALUE per column instead keeps every line but
  costs a JSON parse per column: ~3,000 rows/s here, slower than the Python jobs.)

    PYTHONPATH=. .venv/bin/python -m bench.baselines.fraud_sql INPUT.jsonl OUT_DIR
"""

from __future__ import annotations

import json
import os
import sys

from bench.baselines.common import environment, fresh, read_parts

SCENARIO = "card_fraud_velocity"


def _sink(name: str, path: str, columns: str) -> str:
    return (f"CREATE TEMPORARY TABLE {name} ({columns}) WITH ('connector' = 'filesystem', 'path' = '{path}', "
            "'format' = 'json')")


def statements(input_path: str, out_dir: str) -> list[str]:
    def out(kind: str) -> str:
        return os.path.join(out_dir, kind)

    return [
        # every column as text: Flink's JSON format turns a number into its text for a STRING column, and a
        # wrong type must become a dead letter here, not a parse error that drops the row
        f"""CREATE TEMPORARY TABLE lines (
              txn_id STRING, card_id STRING, customer_id STRING, amount STRING, merchant STRING,
              country STRING, ts STRING,
              amt AS TRY_CAST(amount AS DOUBLE),
              rt AS COALESCE(TO_TIMESTAMP(REPLACE(REPLACE(SUBSTR(ts, 1, 23), 'T', ' '), 'Z', '')),
                             TIMESTAMP '1970-01-01 00:00:00'),
              WATERMARK FOR rt AS rt - INTERVAL '30' SECOND
            ) WITH ('connector' = 'filesystem', 'path' = '{input_path}', 'format' = 'json',
                    'json.ignore-parse-errors' = 'true')""",
        """CREATE TEMPORARY VIEW classified AS
             SELECT *, CASE
               WHEN card_id IS NULL OR ts IS NULL OR (amt IS NULL AND amount IS NOT NULL) THEN 'bad'
               WHEN rt <= CURRENT_WATERMARK(rt) THEN 'late'
               ELSE 'ok' END AS status
             FROM lines""",
        """CREATE TEMPORARY VIEW velocity AS
             SELECT txn_id, card_id, customer_id, amt, merchant, country, rt,
               COUNT(*) OVER w AS txn_count, SUM(amt) OVER w AS spent,
               COUNT(DISTINCT country) OVER w AS countries
             FROM classified WHERE status = 'ok' AND amt > 0
             WINDOW w AS (PARTITION BY card_id ORDER BY rt
                          RANGE BETWEEN INTERVAL '9:59.999' MINUTE TO SECOND(3) PRECEDING AND CURRENT ROW)""",
        """CREATE TEMPORARY VIEW risk AS
             SELECT *, CASE WHEN txn_count > 3 AND countries > 1 THEN 'high'
                            WHEN txn_count > 3 OR spent > 2000 THEN 'medium' END AS risk,
               DATE_FORMAT(rt, 'yyyy-MM-dd''T''HH:mm:ss.SSS''Z''') AS time_text
             FROM velocity""",
        _sink("detected", out("detected"), "id STRING, scenario STRING, node STRING, kind STRING, `key` STRING, "
              "event_id STRING, `time` STRING, fields ROW<risk STRING, txn_count BIGINT, spent DOUBLE>"),
        _sink("actions", out("actions"), "id STRING, scenario STRING, node STRING, channel STRING, `to` STRING, "
              "event_id STRING, `time` STRING, payload ROW<card STRING, reason STRING, spent DOUBLE>"),
        _sink("dead_letter", out("dead_letter"), "scenario STRING, node STRING, error STRING, `raw` STRING"),
    ]


INSERTS = [
    f"""INSERT INTO detected SELECT '{SCENARIO}:record:' || txn_id, '{SCENARIO}', 'record', 'card_velocity',
          card_id, txn_id, time_text, ROW(risk, txn_count, ROUND(spent, 2)) FROM risk WHERE risk IS NOT NULL""",
    f"""INSERT INTO actions SELECT '{SCENARIO}:alert_fraud_team:' || txn_id, '{SCENARIO}', 'alert_fraud_team',
          'fraud_alert', customer_id, txn_id, time_text,
          ROW(card_id, 'velocity: ' || CAST(txn_count AS STRING) || ' transactions in 10 minutes', ROUND(spent, 2))
        FROM risk WHERE risk = 'high'""",
    f"""INSERT INTO dead_letter SELECT '{SCENARIO}', CASE status WHEN 'bad' THEN 'transactions' ELSE 'velocity' END,
          CASE status WHEN 'bad' THEN 'not a valid transaction' ELSE 'late event' END, txn_id
        FROM classified WHERE status <> 'ok' AND (status = 'bad' OR amt > 0)""",
]


def run(input_path: str, out_dir: str) -> dict:
    import time

    from pyflink.table import StreamTableEnvironment

    fresh(out_dir)
    t_env = StreamTableEnvironment.create(environment(parallelism=1))
    t_env.get_config().set("pipeline.name", "baseline/fraud-sql")
    for statement in statements(os.path.abspath(input_path), out_dir):
        t_env.execute_sql(statement)
    statement_set = t_env.create_statement_set()
    for insert in INSERTS:
        statement_set.add_insert_sql(insert)
    started = time.monotonic()
    statement_set.execute().wait()
    seconds = time.monotonic() - started
    return {"seconds": seconds, "outputs": {kind: read_parts(os.path.join(out_dir, kind))
                                            for kind in ("actions", "detected", "dead_letter")}}


if __name__ == "__main__":
    result = run(sys.argv[1], sys.argv[2])
    print(json.dumps({"seconds": round(result["seconds"], 2),
                      **{k: len(v) for k, v in result["outputs"].items()}}))
