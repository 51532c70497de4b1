// The React Flow canvas: laid-out nodes, drop of palette kinds, drag to reorder or move a step
// into another container, connect to add a depends_on, delete a depends_on edge.
import {
  Background,
  type Connection,
  Controls,
  type Edge,
  MarkerType,
  MiniMap,
  type Node,
  type NodeChange,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { type DragEvent, useCallback, useEffect, useMemo, useState } from "react";
import type { StepKindInfo } from "../api/client";
import { nodeForDiagnostic } from "../flow/graph";
import { type Direction, layoutGraph } from "../flow/layout";
import type { Diagnostic, FlowGraph, FlowNode } from "../flow/types";
import { kindColorVar, kindIcon } from "./kinds";
import type { LiveStatus } from "../run/state";
import { type NodeData, nodeTypes } from "./nodes";

export const KIND_MIME = "application/x-testflow-kind";

export type Positions = Record<string, { x: number; y: number }>;
type Size = { width: number; height: number };

export interface CanvasProps {
  graph: FlowGraph;
  kinds: Map<string, StepKindInfo>;
  diagnostics: Diagnostic[];
  selectedId: string | undefined;
  onSelect: (id: string | undefined) => void;
  direction: Direction;
  positions: Positions;
  onPositions: (p: Positions) => void;
  /** Drop of a palette kind: onto a step (insert after it), a container (append) or nowhere. */
  onDropKind: (kind: string, target: FlowNode | undefined) => void;
  /** A step dragged onto another step (after it) or into a container. */
  onMoveNode: (node: FlowNode, target: FlowNode) => void;
  onConnectDep: (source: FlowNode, target: FlowNode) => void;
  onRemoveDep: (source: FlowNode, target: FlowNode) => void;
  /** The execution view: no dragging, dropping or connecting. */
  readOnly?: boolean;
  /** Live status of nodes (the execution view colours them). */
  statuses?: Map<string, LiveStatus>;
}

const isContainer = (n: FlowNode): boolean => n.kind !== "step" && n.kind !== "call";

function CanvasInner(props: CanvasProps) {
  const { graph, kinds, diagnostics, selectedId, direction, positions, readOnly, statuses } = props;
  const flow = useReactFlow();
  const byId = useMemo(() => new Map(graph.nodes.map((n) => [n.id, n])), [graph]);

  // Re-layout only when the structure changes, not on every keystroke in a field.
  const structureKey = useMemo(
    () => JSON.stringify([direction, graph.nodes.map((n) => [n.id, n.parentId]), graph.edges.map((e) => e.id)]),
    [graph, direction],
  );
  // biome-ignore lint: the key captures what the layout depends on
  const boxes = useMemo(() => layoutGraph(graph.nodes, graph.edges, direction), [structureKey]);

  const problems = useMemo(() => {
    const map = new Map<string, { errors: string[]; warnings: string[] }>();
    for (const d of diagnostics) {
      const n = nodeForDiagnostic(graph, d);
      if (!n) continue;
      const entry = map.get(n.id) ?? { errors: [], warnings: [] };
      const where = d.line ? `line ${d.line}: ` : "";
      (d.severity === "error" ? entry.errors : entry.warnings).push(`${where}${d.message}`);
      map.set(n.id, entry);
    }
    return map;
  }, [diagnostics, graph]);

  // The sizes React Flow measured, carried into every node object we hand it (the controlled-flow
  // contract). A node object without `measured` is hidden until React Flow measures it again; when
  // a live status change and that measurement landed in the same render, the node stayed hidden
  // for good (the run screen's flaky "locator resolved to hidden" under load).
  const [measured, setMeasured] = useState<ReadonlyMap<string, Size>>(() => new Map());

  // Node objects stay the same across selection changes (only the selected ones are copied):
  // React Flow skips nodes whose object did not change, which keeps a click on a 500-step
  // canvas cheap.
  const baseNodes: Node<NodeData>[] = useMemo(
    () =>
      graph.nodes.map((n) => {
        const box = boxes.get(n.id) ?? { x: 0, y: 0, width: 220, height: 64 };
        const container = isContainer(n);
        const p = problems.get(n.id);
        return {
          id: n.id,
          type: container ? "container" : "step",
          position: positions[n.id] ?? { x: box.x, y: box.y },
          measured: measured.get(n.id),
          parentId: n.parentId,
          extent: n.parentId ? ("parent" as const) : undefined,
          draggable: !readOnly && n.kind !== "section" && n.kind !== "branch",
          connectable: !readOnly && (!container || n.kind === "group" || n.kind === "parallel" || n.kind === "poll"),
          ariaLabel: `${n.kind === "section" ? "section" : "step"} ${n.label}${n.stepType ? `, ${n.stepType}` : ""}${statuses ? `: ${statuses.get(n.id) ?? "not started"}` : ""}`,
          style: container ? { width: box.width, height: box.height } : { width: box.width },
          data: {
            kind: n.kind,
            label: n.label,
            stepType: n.stepType,
            description: n.description,
            icon: n.kind === "section" ? "§" : n.kind === "branch" ? "↳" : kindIcon(n.stepType, kinds),
            color: kindColorVar(n.stepType, kinds),
            errors: p?.errors ?? [],
            warnings: p?.warnings ?? [],
            subflow: n.subflow,
            horizontal: direction === "LR",
            status: statuses ? (statuses.get(n.id) ?? "pending") : undefined,
          },
        };
      }),
    [graph, boxes, problems, positions, kinds, direction, readOnly, statuses, measured],
  );
  const nodes = useMemo(
    () => (selectedId === undefined ? baseNodes : baseNodes.map((n) => (n.id === selectedId ? { ...n, selected: true } : n))),
    [baseNodes, selectedId],
  );

  const edges: Edge[] = useMemo(
    () =>
      graph.edges.map((e) => ({
        id: e.id,
        source: e.source,
        target: e.target,
        type: "smoothstep",
        className: `edge-${e.kind}`,
        deletable: !readOnly && e.kind === "depends_on",
        markerEnd: { type: MarkerType.ArrowClosed },
        ariaLabel: `${e.kind === "depends_on" ? "depends on" : "then"}: ${e.source} to ${e.target}`,
      })),
    [graph, readOnly],
  );

  // Open on the start of the flow at a readable zoom: a 500-step flow fitted whole is unreadable.
  const fitOptions = useMemo(
    () => ({ maxZoom: 1, minZoom: 0.4, nodes: graph.nodes.filter((n) => n.parentId === "section:steps").slice(0, 6).map((n) => ({ id: n.id })) }),
    // Only the first layout decides the initial view.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [],
  );

  // Marks for measuring "flow text in hand -> nodes on screen" (the browser tests read them).
  useEffect(() => {
    if (nodes.length > 0) performance.mark("tf:canvas-rendered");
  }, [nodes.length]);

  const onNodesChange = useCallback(
    (changes: NodeChange[]) => {
      let moved: Positions | undefined;
      const sizes: [string, Size][] = [];
      for (const c of changes) {
        if (c.type === "dimensions" && c.dimensions) sizes.push([c.id, c.dimensions]);
        if (c.type === "select" && c.selected) props.onSelect(c.id);
        if (c.type === "position" && c.position && c.dragging) {
          moved = { ...(moved ?? positions), [c.id]: c.position };
        }
      }
      if (moved) props.onPositions(moved);
      if (sizes.length > 0) {
        setMeasured((prev) => {
          const next = new Map(prev);
          for (const [id, size] of sizes) next.set(id, size);
          return next;
        });
      }
    },
    [props, positions],
  );

  /** The most specific graph node under a flow-space point: a step, else the smallest container. */
  const nodeAt = useCallback(
    (x: number, y: number, exclude?: (id: string) => boolean): FlowNode | undefined => {
      const hits = flow
        .getIntersectingNodes({ x, y, width: 1, height: 1 }, true)
        .map((n) => byId.get(n.id))
        .filter((n): n is FlowNode => n !== undefined && !(exclude?.(n.id) ?? false));
      const area = (n: FlowNode) => {
        const b = boxes.get(n.id);
        return b ? b.width * b.height : Infinity;
      };
      const steps = hits.filter((n) => !isContainer(n));
      const pool = steps.length > 0 ? steps : hits;
      return pool.sort((a, b) => area(a) - area(b))[0];
    },
    [flow, byId, boxes],
  );

  const onDrop = useCallback(
    (event: DragEvent) => {
      const kind = event.dataTransfer.getData(KIND_MIME);
      if (!kind) return;
      event.preventDefault();
      const p = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      props.onDropKind(kind, nodeAt(p.x, p.y));
    },
    [flow, nodeAt, props],
  );

  const onNodeDragStop = useCallback(
    (_e: unknown, node: Node) => {
      const dragged = byId.get(node.id);
      if (!dragged || dragged.listPath === undefined) return;
      const internal = flow.getInternalNode(node.id);
      const abs = internal?.internals.positionAbsolute ?? node.position;
      const w = internal?.measured.width ?? 220;
      const h = internal?.measured.height ?? 64;
      // Descendants of the dragged node cannot be targets.
      const inside = (id: string): boolean => {
        for (let cur = byId.get(id); cur; cur = cur.parentId ? byId.get(cur.parentId) : undefined) {
          if (cur.id === dragged.id) return true;
        }
        return false;
      };
      const target = nodeAt(abs.x + w / 2, abs.y + h / 2, inside);
      if (!target || target.id === dragged.parentId) return; // a plain reposition: keep it as layout
      props.onMoveNode(dragged, target);
    },
    [byId, flow, nodeAt, props],
  );

  const onConnect = useCallback(
    (c: Connection) => {
      const s = byId.get(c.source);
      const t = byId.get(c.target);
      if (s && t) props.onConnectDep(s, t);
    },
    [byId, props],
  );

  const onEdgesDelete = useCallback(
    (deleted: Edge[]) => {
      for (const e of deleted) {
        const s = byId.get(e.source);
        const t = byId.get(e.target);
        if (s && t && e.id.startsWith("dep:")) props.onRemoveDep(s, t);
      }
    },
    [byId, props],
  );

  return (
    <div className={readOnly ? "canvas read-only" : "canvas"} onDragOver={readOnly ? undefined : (e) => e.preventDefault()} onDrop={readOnly ? undefined : onDrop}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onNodeDragStop={onNodeDragStop}
        onConnect={readOnly ? undefined : onConnect}
        nodesConnectable={!readOnly}
        onEdgesDelete={onEdgesDelete}
        onPaneClick={() => props.onSelect(undefined)}
        deleteKeyCode={null}
        // Space would be swallowed in the YAML editor (Monaco's input is not an <input>).
        panActivationKeyCode={null}
        onlyRenderVisibleElements
        minZoom={0.1}
        fitView
        fitViewOptions={fitOptions}
        proOptions={{ hideAttribution: true }}
        aria-label="Flow graph"
      >
        <Background />
        <Controls />
        {readOnly ? null : <MiniMap pannable zoomable ariaLabel="Minimap" nodeClassName={(n) => (n.type === "container" ? "minimap-container" : "minimap-step")} />}
      </ReactFlow>
    </div>
  );
}

export function Canvas(props: CanvasProps) {
  return (
    <ReactFlowProvider>
      <CanvasInner {...props} />
    </ReactFlowProvider>
  );
}
