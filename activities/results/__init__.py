"""Results: PromQL metrics, the quality gate and verdict, summary.json, the report, cost, S3."""
