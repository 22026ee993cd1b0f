"""Drawing a ticket's graph, and saving that graph as JSON for figure scripts.

``graph = ticket.to_networkx()`` (see :meth:`sltheory.Ticket.to_networkx`) is the data;
:func:`draw_ticket_graph` draws a small one with matplotlib (layered and deterministic: x = the
layer, y = the index within it); :func:`graph_to_json` / :func:`graph_from_json` save and
reload it losslessly, so a figure can be rebuilt from a run folder alone.

Edge colours say which target weight W_{t+1}[o, j] (the figure's 1-based layer numbering; the
graph's ``serves`` tuples ``(t, o, j)`` are 0-based) a kept edge carries.
"""

from __future__ import annotations

import json

from .._checks import strict_bool
from ..errors import InvalidArgumentError

#: Kept edges serving several target weights (a hidden unit used for several outputs).
SHARED_COLOR = "0.25"
#: Kept edges serving a target weight beyond the first ``max_paths``.
OTHER_COLOR = "0.6"
#: Pruned edges.
PRUNED_COLOR = "0.85"


def _networkx():
    try:
        import networkx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sltheory.plotting needs networkx: pip install 'networkx>=3'") from exc
    return networkx


def weight_label(served: tuple) -> str:
    """``(t, o, j)`` → ``"W{t+1}[o,j]"`` (the 1-based layer numbering of the paper's W_i)."""
    t, o, j = served
    return f"W{t + 1}[{o},{j}]"


def layered_positions(graph) -> dict:
    """Deterministic positions: x = node ``layer``; within a layer of w nodes, node ``index`` i
    at y = 1 − (2i + 1)/w (top to bottom, every layer spread over (−1, 1))."""
    nx = _networkx()
    if not isinstance(graph, nx.DiGraph):
        raise InvalidArgumentError(f"expected a networkx.DiGraph (Ticket.to_networkx()), got {type(graph).__name__}")
    widths: dict[int, int] = {}
    for node, data in graph.nodes(data=True):
        if not isinstance(data.get("layer"), int) or not isinstance(data.get("index"), int):
            raise InvalidArgumentError(f"node {node!r} has no integer 'layer' and 'index' (not a ticket graph)")
        widths[data["layer"]] = max(widths.get(data["layer"], 0), data["index"] + 1)
    return {node: (float(data["layer"]), 1.0 - (2 * data["index"] + 1) / widths[data["layer"]])
            for node, data in graph.nodes(data=True)}


def _palette(matplotlib) -> list:
    """18 distinct non-grey colours: tab10 without its grey, then tab20's light shades without grey."""
    tab10, tab20 = matplotlib.colormaps["tab10"], matplotlib.colormaps["tab20"]
    return [tab10(i) for i in range(10) if i != 7] + [tab20(2 * i + 1) for i in range(10) if i != 7]


def draw_ticket_graph(graph, ax=None, *, max_paths: int = 12, show_pruned: bool = True, legend: bool = True):
    """Draw a small ticket's graph (from :meth:`sltheory.Ticket.to_networkx`); returns the Axes.

    Layered layout (x = layer, see :func:`layered_positions`), no randomness. Kept edges that
    serve exactly one target weight are coloured by it: the first ``max_paths`` target weights
    in sorted (t, o, j) order get their own colour (18 distinct ones, then repeated) and legend
    entry ``W{t+1}[o,j]``, later ones are drawn in grey (``OTHER_COLOR``); kept edges serving
    several target weights (a hidden unit shared by several outputs) in dark grey
    (``SHARED_COLOR``); pruned edges thin and faint (``PRUNED_COLOR``), or not at all with
    ``show_pruned=False``. Neurons on no kept edge are drawn hollow; inputs and outputs larger,
    labelled x_j and y_o. Meant for tickets of up to a few thousand edges.
    """
    _networkx()
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 0:
        raise InvalidArgumentError(f"max_paths must be an int ≥ 0, got {max_paths!r}")
    show_pruned = strict_bool("show_pruned", show_pruned)
    legend = strict_bool("legend", legend)
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=(8, 5))
    pos = layered_positions(graph)
    served = sorted({s for _, _, d in graph.edges(data=True) if d["kept"] for s in d["serves"]})
    shown = served[:max_paths]
    palette = _palette(matplotlib)
    colors = {s: palette[i % len(palette)] for i, s in enumerate(shown)}

    pruned, shared, other = [], [], []
    by_weight: dict[tuple, list] = {s: [] for s in shown}
    active: set[tuple] = set()
    for u, v, d in graph.edges(data=True):
        seg = (pos[u], pos[v])
        if not d["kept"]:
            pruned.append(seg)
            continue
        active.update((u, v))
        if len(d["serves"]) == 1 and d["serves"][0] in colors:
            by_weight[d["serves"][0]].append(seg)
        elif len(d["serves"]) > 1:
            shared.append(seg)
        else:
            other.append(seg)
    if show_pruned and pruned:
        ax.add_collection(LineCollection(pruned, colors=PRUNED_COLOR, linewidths=0.3, zorder=0))
    if other:
        ax.add_collection(LineCollection(other, colors=OTHER_COLOR, linewidths=1.0, zorder=1))
    if shared:
        ax.add_collection(LineCollection(shared, colors=SHARED_COLOR, linewidths=1.2, zorder=2))
    for s in shown:
        if by_weight[s]:
            ax.add_collection(LineCollection(by_weight[s], colors=[colors[s]], linewidths=1.6, zorder=3))

    nodes = list(graph.nodes)
    xy = [pos[n] for n in nodes]
    io = [graph.nodes[n]["role"] != "hidden" for n in nodes]
    on = [n in active for n in nodes]
    for want_io, size in ((False, 12), (True, 40)):
        for want_on in (True, False):
            pts = [p for p, a, b in zip(xy, io, on) if a == want_io and b == want_on]
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=size, zorder=4, linewidths=0.6,
                           facecolors="k" if want_on else "white", edgecolors="k" if want_on else "0.5")
    for n in nodes:
        data = graph.nodes[n]
        if data["role"] == "input":
            ax.annotate(f"$x_{{{data['index']}}}$", pos[n], xytext=(-6, 0), textcoords="offset points",
                        ha="right", va="center", fontsize=8)
        elif data["role"] == "output":
            ax.annotate(f"$y_{{{data['index']}}}$", pos[n], xytext=(6, 0), textcoords="offset points",
                        ha="left", va="center", fontsize=8)

    layers = sorted({d["layer"] for _, d in graph.nodes(data=True)})
    ax.set_xticks(layers)
    ax.set_xlim(min(layers) - 0.3, max(layers) + 0.3)
    ax.set_ylim(-1.08, 1.08)
    ax.set_yticks([])
    ax.set_xlabel("layer of the random network")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if legend:
        handles = [Line2D([], [], color=colors[s], lw=1.6, label=weight_label(s)) for s in shown]
        if shared:
            handles.append(Line2D([], [], color=SHARED_COLOR, lw=1.2, label="several target weights"))
        if other:
            handles.append(Line2D([], [], color=OTHER_COLOR, lw=1.0, label=f"{len(served) - len(shown)} more"))
        if show_pruned and pruned:
            handles.append(Line2D([], [], color=PRUNED_COLOR, lw=0.6, label="pruned"))
        if handles:
            ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    return ax


def _tuples(value):
    """JSON arrays back to tuples, recursively (the graphs of to_networkx hold no lists)."""
    if type(value) is list:
        return tuple([_tuples(v) if type(v) in (list, dict) else v for v in value])
    if type(value) is dict:
        return {k: _tuples(v) if type(v) in (list, dict) else v for k, v in value.items()}
    return value


def graph_to_json(graph) -> str:
    """A ticket graph as JSON text: networkx's node-link layout with the key ``"edges"`` (the same
    document as ``json.dumps(networkx.node_link_data(graph, edges="edges"))``, without depending
    on that function's version-dependent defaults). Read it back with :func:`graph_from_json`
    (networkx's ``node_link_graph`` would leave the tuple keys as unhashable lists).
    Floats are written exactly (shortest round-tripping repr; an infinite bound as ``Infinity``,
    as Python's json does). Raises ``TypeError`` for attribute values JSON cannot hold
    (to_networkx writes only ints, floats, bools, strings, tuples and None)."""
    nx = _networkx()
    if not isinstance(graph, nx.DiGraph) or graph.is_multigraph():
        raise InvalidArgumentError(f"expected a networkx.DiGraph, got {type(graph).__name__}")
    data = {
        "directed": True,
        "multigraph": False,
        "graph": dict(graph.graph),
        "nodes": [{**attrs, "id": node} for node, attrs in graph.nodes(data=True)],
        "edges": [{**attrs, "source": u, "target": v} for u, v, attrs in graph.edges(data=True)],
    }
    return json.dumps(data)


def graph_from_json(text: str):
    """The graph :func:`graph_to_json` wrote, with node keys, ``serves``, ``target_neuron`` and
    the tuple-valued graph attributes turned back from JSON arrays into tuples (every JSON array
    becomes a tuple), nodes and edges in their saved order."""
    nx = _networkx()
    if not isinstance(text, (str, bytes, bytearray)):
        raise InvalidArgumentError(f"expected JSON text, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except ValueError as exc:   # JSONDecodeError, UnicodeDecodeError
        raise InvalidArgumentError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not data.get("directed", False) or data.get("multigraph", False) \
            or not isinstance(data.get("nodes"), list) or not isinstance(data.get("edges"), list):
        raise InvalidArgumentError("expected the JSON of a directed, non-multi graph with nodes and edges "
                                   "(graph_to_json)")
    g = nx.DiGraph()
    try:
        g.graph.update(_tuples(data.get("graph", {})))
        g.add_nodes_from((attrs.pop("id"), attrs) for attrs in map(_tuples, data["nodes"]))
        g.add_edges_from((attrs.pop("source"), attrs.pop("target"), attrs) for attrs in map(_tuples, data["edges"]))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InvalidArgumentError(f"malformed graph JSON (graph_to_json writes nodes with 'id', edges with "
                                   f"'source' and 'target'): {type(exc).__name__}: {exc}") from None
    return g
