"""Job runners beside the local worker: batch jobs cut into shards (batch.py, kinds.py) and Ray (ray_runner.py).

engine.jobs.get_runner() picks the runner from CROSSTALK_JOB_RUNNER (local | ray); ray is imported only then.
"""
