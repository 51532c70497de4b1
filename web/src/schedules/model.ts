// The schedule form's state and the POST /schedules body it makes: a schedule runs a flow or
// a suite (never both: the API answers 422 otherwise), on cron expressions or an interval.
import type { Schemas } from "../api/typed";

export type ScheduleIn = Schemas["ScheduleIn"];
export type ScheduleOut = Schemas["ScheduleOut"];
export type Overlap = ScheduleIn["overlap"];

export interface ScheduleForm {
  name: string;
  target: "flow" | "suite";
  targetId: string;
  timing: "cron" | "interval";
  cron: string;
  interval: string;
  timezone: string;
  environment: string;
  overlap: Overlap;
  paused: boolean;
}

export const emptyForm: ScheduleForm = {
  name: "",
  target: "flow",
  targetId: "",
  timing: "cron",
  cron: "",
  interval: "",
  timezone: "",
  environment: "",
  overlap: "skip",
  paused: false,
};

/** The request body, or what is missing (the API checks the rest: cron syntax, interval). */
export function scheduleBody(form: ScheduleForm): { body: ScheduleIn } | { error: string } {
  if (!form.name.trim()) return { error: "give the schedule a name" };
  if (!form.targetId) return { error: form.target === "suite" ? "pick a suite" : "pick a flow" };
  const cron = form.cron
    .split("\n")
    .map((c) => c.trim())
    .filter(Boolean);
  if (form.timing === "cron" && cron.length === 0) return { error: "give at least one cron expression" };
  if (form.timing === "interval" && !form.interval.trim()) return { error: "give an interval (30s, 5m, 1h)" };
  const body: ScheduleIn = {
    name: form.name.trim(),
    ...(form.target === "suite" ? { suite_id: form.targetId } : { flow_id: form.targetId }),
    ...(form.timing === "cron" ? { cron } : { interval: form.interval.trim() }),
    timezone: form.timezone.trim() || null,
    environment: form.environment || null,
    overlap: form.overlap,
    paused: form.paused,
  };
  return { body };
}

/** What a listed schedule runs, by name when the flow or suite is still known. */
export function targetLabel(s: ScheduleOut, flows: Map<string, string>, suites: Map<string, string>): string {
  if (s.suite_id) return `suite ${suites.get(s.suite_id) ?? s.suite_id}`;
  if (s.flow_id) return `flow ${flows.get(s.flow_id) ?? s.flow_id}`;
  return "—";
}

/** How often it fires, as the API stores it. */
export function timingLabel(s: ScheduleOut): string {
  if (s.cron.length > 0) return `cron ${s.cron.join(" | ")}${s.timezone ? ` (${s.timezone})` : ""}`;
  if (s.interval_s) return `every ${s.interval_s}s`;
  return "—";
}
