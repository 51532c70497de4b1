// Auto-layout of the flow graph with dagre, container by container.
//
// dagre does not lay out edges that cross cluster borders well, so containers (sections,
// groups, parallel branches, polls) are laid out bottom-up: first the children of the
// deepest containers, which gives each container its size, then their parents treating each
// container as one node. Positions are relative to the parent, as React Flow expects for
// child nodes. Edges between nodes of different containers are lifted to the ancestors that
// are siblings, so they still order the containers.

import dagre from "@dagrejs/dagre";
import type { FlowEdge, FlowNode } from "./types";

export type Direction = "TB" | "LR";

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const STEP_SIZE = { width: 220, height: 64 };
const PAD = { x: 16, top: 40, bottom: 16 };
const GAP = { node: 28, rank: 44 };

/** Positions (relative to the parent) and sizes of every node. */
export function layoutGraph(
  nodes: FlowNode[],
  edges: FlowEdge[],
  direction: Direction = "TB",
): Map<string, Box> {
  const children = new Map<string | undefined, FlowNode[]>();
  for (const n of nodes) children.set(n.parentId, [...(children.get(n.parentId) ?? []), n]);
  const parentOf = new Map(nodes.map((n) => [n.id, n.parentId]));
  const boxes = new Map<string, Box>();

  /** The ancestor of `id` (or itself) whose parent is `container`. */
  const liftTo = (id: string, container: string | undefined): string | undefined => {
    let cur: string | undefined = id;
    const seen = new Set<string>();
    while (cur !== undefined && !seen.has(cur)) {
      seen.add(cur);
      if (parentOf.get(cur) === container) return cur;
      cur = parentOf.get(cur);
    }
    return undefined;
  };

  const layoutLevel = (container: string | undefined): { width: number; height: number } => {
    const kids = children.get(container) ?? [];
    for (const k of kids) {
      if (children.has(k.id)) {
        const size = layoutLevel(k.id);
        boxes.set(k.id, { x: 0, y: 0, width: size.width, height: size.height });
      } else {
        const empty = k.kind !== "step" && k.kind !== "call";
        boxes.set(k.id, { x: 0, y: 0, width: STEP_SIZE.width, height: empty ? STEP_SIZE.height + PAD.top : STEP_SIZE.height });
      }
    }
    if (kids.length === 0) return { width: STEP_SIZE.width + 2 * PAD.x, height: PAD.top + PAD.bottom };
    const seen = new Set<string>();
    const levelEdges: [string, string][] = [];
    for (const e of edges) {
      const s = liftTo(e.source, container);
      const t = liftTo(e.target, container);
      if (s === undefined || t === undefined || s === t || seen.has(`${s}>${t}`)) continue;
      seen.add(`${s}>${t}`);
      levelEdges.push([s, t]);
    }
    const centres = chainCentres(kids, levelEdges, boxes, direction) ?? dagreCentres(kids, levelEdges, boxes, direction);
    let maxX = 0;
    let maxY = 0;
    const inset = container === undefined ? { x: 0, y: 0 } : { x: PAD.x, y: PAD.top };
    for (const k of kids) {
      const p = centres.get(k.id) ?? { x: 0, y: 0 };
      const b = boxes.get(k.id) as Box;
      b.x = p.x - b.width / 2 + inset.x;
      b.y = p.y - b.height / 2 + inset.y;
      maxX = Math.max(maxX, b.x + b.width);
      maxY = Math.max(maxY, b.y + b.height);
    }
    return { width: maxX + PAD.x, height: maxY + PAD.bottom };
  };

  layoutLevel(undefined);
  return boxes;
}

type Centres = Map<string, { x: number; y: number }>;

/**
 * A list whose edges are exactly `k[0] -> k[1] -> ...` (the common case: a sequential list)
 * is stacked in order, in linear time; dagre on a 500-step chain takes seconds.
 */
function chainCentres(kids: FlowNode[], edges: [string, string][], boxes: Map<string, Box>, direction: Direction): Centres | undefined {
  if (edges.length !== kids.length - 1) return undefined;
  const order = new Map(kids.map((k, i) => [k.id, i]));
  for (const [s, t] of edges) if ((order.get(t) ?? -1) !== (order.get(s) ?? -2) + 1) return undefined;
  const out: Centres = new Map();
  const across = Math.max(...kids.map((k) => (direction === "TB" ? boxes.get(k.id)?.width : boxes.get(k.id)?.height) ?? 0));
  let along = 0;
  for (const k of kids) {
    const b = boxes.get(k.id) as Box;
    const size = direction === "TB" ? b.height : b.width;
    out.set(k.id, direction === "TB" ? { x: across / 2, y: along + size / 2 } : { x: along + size / 2, y: across / 2 });
    along += size + GAP.rank;
  }
  return out;
}

function dagreCentres(kids: FlowNode[], edges: [string, string][], boxes: Map<string, Box>, direction: Direction): Centres {
  const g = new dagre.graphlib.Graph();
  // network-simplex ranks best but is slow on big graphs; longest-path is linear.
  g.setGraph({ rankdir: direction, nodesep: GAP.node, ranksep: GAP.rank, marginx: 0, marginy: 0, ranker: kids.length > 150 ? "longest-path" : "network-simplex" });
  g.setDefaultEdgeLabel(() => ({}));
  for (const k of kids) {
    const b = boxes.get(k.id) as Box;
    g.setNode(k.id, { width: b.width, height: b.height });
  }
  for (const [s, t] of edges) g.setEdge(s, t);
  dagre.layout(g);
  const out: Centres = new Map();
  for (const k of kids) {
    const p = g.node(k.id);
    out.set(k.id, { x: p.x, y: p.y });
  }
  return out;
}
