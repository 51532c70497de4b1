/**
 * testflow plugin SDK for TypeScript / Node.js (no runtime dependencies).
 *
 * A plugin is an HTTP server on 127.0.0.1:$PLUGIN_PORT speaking the TestMesh plugin
 * protocol: GET /health, GET /info, POST /execute, POST /shutdown. This SDK implements the
 * protocol; you register handlers:
 *
 *   const plugin = new Plugin({ id: "greeter", name: "Greeter", version: "1.0.0" });
 *   plugin.action("hello", { schema: { type: "object", properties: { name: { type: "string" } },
 *     required: ["name"] } }, (config, ctx) => {
 *     ctx.log(`greeting ${config.name}`);
 *     return { greeting: `Hello, ${config.name}!` };
 *   });
 *   plugin.serve();
 *
 * Action names without a dot are prefixed with the plugin id ("hello" -> "greeter.hello").
 * Config is checked against the schema's top level (required keys, property types, no
 * unknown keys when additionalProperties is false) before the handler runs; the host
 * validates the full schema before a run starts.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type JsonSchema = { [key: string]: unknown };
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const AUTH_ACTION = "authenticate";
export const IMPORT_ACTION = "import";
export const EXPORT_ACTION = "export";
export const REPORT_ACTION = "report";
const RESERVED = new Set([AUTH_ACTION, IMPORT_ACTION, EXPORT_ACTION, REPORT_ACTION]);

export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  timestamp: string;
}

/** The `context` of an /execute request, plus the handler's log. */
export class Context {
  readonly executionId: string;
  readonly flowId: string;
  readonly stepId: string;
  readonly variables: Record<string, unknown>;
  readonly stepOutputs: Record<string, unknown>;
  readonly raw: Record<string, unknown>;
  readonly logs: LogEntry[] = [];

  constructor(raw: unknown) {
    const data = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
    this.raw = data;
    this.executionId = String(data.execution_id ?? "");
    this.flowId = String(data.flow_id ?? "");
    this.stepId = String(data.step_id ?? "");
    this.variables = (data.variables as Record<string, unknown>) ?? {};
    this.stepOutputs = (data.step_outputs as Record<string, unknown>) ?? {};
  }

  /** Add a log line to the answer; testflow shows it in the step's report. */
  log(message: string, level: LogEntry["level"] = "info"): void {
    this.logs.push({ level, message, timestamp: new Date().toISOString() });
  }
}

/** Throw from a handler to answer `success: false` with this code and message. */
export class PluginError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "PluginError";
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler<C = any> = (config: C, ctx: Context) => unknown | Promise<unknown>;

export interface ActionOptions {
  schema?: JsonSchema;
  name?: string;
  description?: string;
}

interface Action {
  id: string;
  name: string;
  description: string;
  schema: JsonSchema;
  handler: Handler;
}

export interface PluginOptions {
  id: string;
  name: string;
  version?: string;
  description?: string;
}

export interface ExecuteAnswer {
  success: boolean;
  output: unknown;
  error?: { code: string; message: string; details: Record<string, unknown> };
  logs: LogEntry[];
  metrics?: Record<string, number>;
}

const TYPE_CHECKS: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  integer: (v) => typeof v === "number" && Number.isInteger(v),
  boolean: (v) => typeof v === "boolean",
  object: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  array: (v) => Array.isArray(v),
  null: (v) => v === null,
};

/** Top-level problems of `config` against `schema` (empty when it fits). */
export function configProblems(schema: JsonSchema, config: unknown): string[] {
  if (!TYPE_CHECKS.object(config)) return ["config must be an object"];
  const obj = config as Record<string, unknown>;
  const problems: string[] = [];
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const key of (schema.required as string[] | undefined) ?? []) {
    if (!(key in obj)) problems.push(`${key}: the field is required`);
  }
  for (const [key, value] of Object.entries(obj)) {
    const prop = props[key];
    if (prop === undefined) {
      if (schema.additionalProperties === false) problems.push(`${key}: unknown field`);
      continue;
    }
    const types = prop.type === undefined ? [] : ([] as unknown[]).concat(prop.type);
    if (types.length && !types.some((t) => TYPE_CHECKS[String(t)]?.(value) ?? true)) {
      problems.push(`${key}: expected ${types.join(" or ")}, got ${Array.isArray(value) ? "array" : typeof value}`);
    }
  }
  return problems;
}

function failure(code: string, message: string, details: Record<string, unknown> = {}, logs: LogEntry[] = []): ExecuteAnswer {
  return { success: false, output: {}, error: { code, message, details }, logs };
}

export class Plugin {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly description: string;
  private readonly actions = new Map<string, Action>();
  private readonly started = Date.now();
  private server?: http.Server;

  constructor(options: PluginOptions) {
    this.id = options.id;
    this.name = options.name;
    this.version = options.version ?? "1.0.0";
    this.description = options.description ?? "";
  }

  /** Register a step action. */
  action<C = Record<string, unknown>>(name: string, options: ActionOptions, handler: Handler<C>): this {
    const id = name.includes(".") || RESERVED.has(name) ? name : `${this.id}.${name}`;
    if (this.actions.has(id)) throw new Error(`action ${id} is registered twice`);
    this.actions.set(id, {
      id,
      name: options.name ?? id,
      description: options.description ?? "",
      schema: options.schema ?? { type: "object" },
      handler: handler as Handler,
    });
    return this;
  }

  /** Auth plugin: return `{ headers: {...}, expires_in? }`. */
  auth(handler: Handler): this {
    return this.action(AUTH_ACTION, {}, handler);
  }
  /** Importer: config `{filename, content, options}` -> `{ flows: [{filename, flow}] }`. */
  importer(handler: Handler): this {
    return this.action(IMPORT_ACTION, {}, handler);
  }
  /** Exporter: config `{flow, flow_text, filename, options}` -> `{ files: [{name, content}] }`. */
  exporter(handler: Handler): this {
    return this.action(EXPORT_ACTION, {}, handler);
  }
  /** Reporter: config `{result, options}` -> `{ files: [{name, content}] }`. */
  reporter(handler: Handler): this {
    return this.action(REPORT_ACTION, {}, handler);
  }

  health(): Record<string, unknown> {
    return { status: "healthy", version: this.version, uptime_seconds: Math.floor((Date.now() - this.started) / 1000) };
  }

  info(): Record<string, unknown> {
    const actions = [...this.actions.values()]
      .filter((a) => !RESERVED.has(a.id))
      .map((a) => ({ id: a.id, name: a.name, description: a.description, schema: a.schema }));
    return { id: this.id, name: this.name, version: this.version, description: this.description, actions };
  }

  /** Dispatch one /execute body; returns [HTTP status, answer]. */
  async execute(body: unknown): Promise<[number, ExecuteAnswer]> {
    if (!TYPE_CHECKS.object(body)) return [400, failure("BAD_REQUEST", "the body must be a JSON object")];
    const { action: name, config, context } = body as Record<string, unknown>;
    const action = typeof name === "string" ? this.actions.get(name) : undefined;
    if (action === undefined) {
      const known = [...this.actions.keys()].sort().join(", ") || "none";
      return [400, failure("UNKNOWN_ACTION", `Unknown action: ${String(name)} (this plugin has: ${known})`)];
    }
    const ctx = new Context(context);
    const cfg = config ?? {};
    const problems = configProblems(action.schema, cfg);
    if (problems.length) {
      return [200, failure("INVALID_CONFIG", `invalid config for ${action.id}: ${problems.join("; ")}`, { errors: problems })];
    }
    const started = process.hrtime.bigint();
    try {
      const output = await action.handler(cfg, ctx);
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      return [200, { success: true, output: output ?? {}, logs: ctx.logs, metrics: { duration_ms: durationMs } }];
    } catch (err) {
      if (err instanceof PluginError) return [200, failure(err.code, err.message, err.details, ctx.logs)];
      const e = err instanceof Error ? err : new Error(String(err));
      ctx.log(`${e.name}: ${e.message}`, "error");
      return [200, failure("INTERNAL_ERROR", `${e.name}: ${e.message}`, {}, ctx.logs)];
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (status: number, data: unknown) => {
      const body = JSON.stringify(data);
      res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method === "GET" && req.url === "/health") return send(200, this.health());
    if (req.method === "GET" && req.url === "/info") return send(200, this.info());
    if (req.method !== "POST") return send(404, { error: "not found" });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: unknown = {};
      try {
        const text = Buffer.concat(chunks).toString("utf8");
        body = text ? JSON.parse(text) : {};
      } catch (err) {
        return send(400, failure("BAD_REQUEST", `invalid JSON: ${(err as Error).message}`));
      }
      if (req.url === "/execute") {
        this.execute(body).then(([status, answer]) => send(status, answer));
      } else if (req.url === "/shutdown") {
        send(200, { message: "shutting down" });
        this.close().then(() => process.exit(0));
      } else {
        send(404, { error: "not found" });
      }
    });
  }

  /** Listen on 127.0.0.1 (only) at `port`, default $PLUGIN_PORT; resolves with the port. */
  listen(port?: number): Promise<number> {
    const chosen = port ?? parseInt(process.env.PLUGIN_PORT ?? "8080", 10);
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(chosen, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
    });
  }

  /** Serve until POST /shutdown; logs the port to stderr. */
  serve(port?: number): void {
    this.listen(port).then(
      (p) => console.error(`plugin ${this.id} listening on 127.0.0.1:${p}`),
      (err) => {
        console.error(`plugin ${this.id} cannot listen: ${err}`);
        process.exit(1);
      },
    );
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    });
  }
}
