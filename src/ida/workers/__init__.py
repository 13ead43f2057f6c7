"""Where amplification's expand runs: right here (the default), in local worker processes, or in
Ray actors on a cluster.

Amplification is the expensive half of IDA and it is embarrassingly parallel across trees and
games, so its pure middle, ``expand`` (weights and roots to finished trees), can run anywhere,
while ``propose``, ``absorb``, distillation, evaluation and checkpoints stay in the one learner
process. ``Pool`` (``pool.py``) cuts each round into parts (the amplifier's ``split``), ships the
teacher's weights once per version, gathers the parts' trees, redoes the parts of a worker that
died, and hands the merged trees to ``absorb``. Each worker is a ``Replica`` (``replica.py``): a
copy of the run built from its config. ``local.py`` runs replicas as processes on this machine,
``on_ray.py`` as Ray actors (``pip install 'ida[ray]'``; Ray is imported only then).
"""

from ida.workers.pool import Pool, WorkerSettings, start_workers

__all__ = ["Pool", "WorkerSettings", "start_workers"]
