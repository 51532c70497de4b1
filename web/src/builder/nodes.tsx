// Canvas node renderers: a step card and a container frame (section, group, branch, poll, parallel).
import { Handle, type Node, type NodeProps, Position } from "@xyflow/react";
import { memo } from "react";
import type { NodeKind } from "../flow/types";

export interface NodeData extends Record<string, unknown> {
  kind: NodeKind;
  label: string;
  stepType?: string;
  description?: string;
  icon: string;
  color: string;
  errors: string[];
  warnings: string[];
  subflow?: string;
  horizontal: boolean;
  /** Execution view: the step's live status ("pending" before it starts). */
  status?: string;
}

export type StepFlowNode = Node<NodeData, "step">;
export type ContainerFlowNode = Node<NodeData, "container">;

function Problems({ errors, warnings }: { errors: string[]; warnings: string[] }) {
  if (errors.length === 0 && warnings.length === 0) return null;
  const cls = errors.length > 0 ? "badge error" : "badge warning";
  const list = [...errors, ...warnings];
  return (
    <span className={cls} title={list.join("\n")} aria-label={`${list.length} problem${list.length > 1 ? "s" : ""}: ${list.join("; ")}`}>
      {errors.length > 0 ? "✖" : "⚠"} {list.length}
    </span>
  );
}

export const StepNode = memo(function StepNode({ data, selected }: NodeProps<StepFlowNode>) {
  const target = data.horizontal ? Position.Left : Position.Top;
  const source = data.horizontal ? Position.Right : Position.Bottom;
  const cls = ["step-node", selected ? "selected" : "", data.errors.length > 0 ? "has-error" : "", data.status ? `run-${data.status}` : ""].join(" ");
  return (
    <div className={cls} style={{ ["--kind-color" as string]: data.color }}>
      <Handle type="target" position={target} />
      <span className="step-icon" aria-hidden="true">
        {data.icon}
      </span>
      <span className="step-text">
        <span className="step-label">{data.label}</span>
        <span className="step-type">
          {data.stepType ?? "?"}
          {data.subflow ? ` → ${data.subflow}` : ""}
        </span>
      </span>
      <Problems errors={data.errors} warnings={data.warnings} />
      {data.status ? <RunMark status={data.status} /> : null}
      <Handle type="source" position={source} />
    </div>
  );
});

const RUN_MARKS: Record<string, string> = { passed: "✔", failed: "✖", error: "✖", running: "◌", skipped: "–", cancelled: "⊘", pending: "" };

function RunMark({ status }: { status: string }) {
  return (
    <span className={`run-mark st-${status}`} data-status={status} title={status}>
      {RUN_MARKS[status] ?? ""}
    </span>
  );
}

export const ContainerNode = memo(function ContainerNode({ data, selected }: NodeProps<ContainerFlowNode>) {
  const target = data.horizontal ? Position.Left : Position.Top;
  const source = data.horizontal ? Position.Right : Position.Bottom;
  const cls = ["container-node", `container-${data.kind}`, selected ? "selected" : "", data.errors.length > 0 ? "has-error" : "", data.status ? `run-${data.status}` : ""].join(" ");
  return (
    <div className={cls} style={{ ["--kind-color" as string]: data.color }}>
      <Handle type="target" position={target} />
      <div className="container-header">
        <span aria-hidden="true">{data.icon}</span> <strong>{data.label}</strong>
        {data.stepType && data.kind !== "section" && data.kind !== "branch" ? <span className="muted"> {data.stepType}</span> : null}
        <Problems errors={data.errors} warnings={data.warnings} />
      </div>
      <Handle type="source" position={source} />
    </div>
  );
});

export const nodeTypes = { step: StepNode, container: ContainerNode };
