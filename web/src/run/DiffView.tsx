// Expected vs actual of an assertion: the server's unified diff when it made one, else a line
// diff of the two values.
import { useMemo } from "react";
import type { AssertionOutcome } from "../api/typed";
import { type DiffLine, lineDiff, parseUnified } from "./diff";

const SIGN: Record<DiffLine["op"], string> = { same: " ", del: "-", add: "+", meta: " " };

export function DiffView({ assertion }: { assertion: AssertionOutcome }) {
  const lines = useMemo(
    () => (assertion.diff ? parseUnified(assertion.diff) : lineDiff(assertion.expected, assertion.actual)),
    [assertion],
  );
  return (
    <div className="diff" role="figure" aria-label={`diff of ${assertion.path}: expected (-) vs actual (+)`}>
      <div className="diff-legend">
        <span className="diff-del">− expected</span> <span className="diff-add">+ actual</span>
      </div>
      <pre>
        {lines.map((l, i) => (
          <div key={i} className={`diff-${l.op}`}>
            <span className="diff-sign" aria-hidden="true">
              {SIGN[l.op]}
            </span>
            {l.text || " "}
          </div>
        ))}
      </pre>
    </div>
  );
}
