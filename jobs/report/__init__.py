"""`kairos report`: the outcome of experiments and bandits, from what a job wrote to Elasticsearch.

  stats.py   rates with Wilson intervals, differences with Newcombe's interval (pure arithmetic)
  data.py    reading contacts (detections) and conversions from Elasticsearch, attributing conversions
  render.py  tables, the Markdown summary, PNG plots and an HTML page (matplotlib)
"""
