"""A contact-centre simulator: the demo's traffic, the KPI reference test's ground truth, the benchmark's load.

- :mod:`coachline.sim.centre`: tenants, queues per channel, teams, intraday and weekly profiles.
- :mod:`coachline.sim.erlang`: Erlang C, which staffs each team per 15-minute interval.
- :mod:`coachline.sim.model`: the discrete-event model; :func:`simulate` is deterministic for a seed.
- :mod:`coachline.sim.truth`: every KPI per scope and window from the model's own records (file format there).
- :mod:`coachline.sim.output`: intake over HTTP or Kafka, paced in real time, scaled, or as fast as possible.
- :mod:`coachline.sim.cli`: ``coachline sim run|truth|staffing``.
"""

from coachline.sim.centre import Centre, QueueSpec, TenantSpec, standard_centre, standard_tenant
from coachline.sim.model import Outcome, SimEvent, simulate

__all__ = ["Centre", "Outcome", "QueueSpec", "SimEvent", "TenantSpec", "simulate", "standard_centre",
           "standard_tenant"]
