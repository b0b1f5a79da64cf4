"""Days that outgrow one machine: cut into regions, planned apart, merged.

:mod:`optimizer.scale.decompose` holds the rule (pure), :mod:`optimizer.scale.split`
how a node too big for a part is cut into sectors and shared between them,
:mod:`optimizer.scale.merge` puts the parts' plans together, :mod:`optimizer.scale.repair`
retries what the parts left unserved across the borders, and
:mod:`optimizer.scale.distributed` runs the parts as dask.distributed tasks (a local
cluster, or an existing one by address).
"""

from optimizer.scale.decompose import Decomposition, Part, ScaleParams, bisect, decompose
from optimizer.scale.merge import merge_plans

__all__ = ["Decomposition", "Part", "ScaleParams", "bisect", "decompose", "merge_plans"]
