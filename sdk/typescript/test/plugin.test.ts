import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import { configProblems, Plugin, PluginError } from "../src/index";

const plugin = new Plugin({ id: "greeter", name: "Greeter", version: "1.2.3" });
plugin.action(
  "hello",
  {
    description: "Say hello",
    schema: { type: "object", properties: { name: { type: "string" }, times: { type: "integer" } }, required: ["name"] },
  },
  (config: { name: string; times?: number }, ctx) => {
    ctx.log(`greeting ${config.name} in ${ctx.flowId}`);
    return { greeting: `Hello, ${config.name}!`.repeat(config.times ?? 1), step: ctx.stepId };
  },
);
plugin.action("fail", {}, () => {
  throw new PluginError("NOPE", "failed on purpose", { why: "test" });
});
plugin.action("bug", {}, () => {
  throw new TypeError("boom");
});
plugin.auth(async (config: { user: string }) => ({ headers: { "X-User": config.user } }));

let base = "";

before(async () => {
  const port = await plugin.listen(0);
  base = `http://127.0.0.1:${port}`;
});
after(() => plugin.close());

async function call(path: string, body?: unknown): Promise<[number, any]> {
  const res = await fetch(base + path, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
  return [res.status, await res.json()];
}

test("health says healthy with the version", async () => {
  const [status, data] = await call("/health");
  assert.equal(status, 200);
  assert.equal(data.status, "healthy");
  assert.equal(data.version, "1.2.3");
});

test("info lists step actions with their schemas, not the reserved ones", async () => {
  const [, data] = await call("/info");
  assert.deepEqual(
    data.actions.map((a: { id: string }) => a.id),
    ["greeter.hello", "greeter.fail", "greeter.bug"],
  );
  assert.deepEqual(data.actions[0].schema.required, ["name"]);
});

test("execute runs the handler with config and context", async () => {
  const [status, data] = await call("/execute", {
    action: "greeter.hello",
    config: { name: "Ada", times: 2 },
    context: { flow_id: "f1", step_id: "s1", execution_id: "r1", variables: {}, step_outputs: {} },
  });
  assert.equal(status, 200);
  assert.equal(data.success, true);
  assert.equal(data.output.greeting, "Hello, Ada!Hello, Ada!");
  assert.equal(data.output.step, "s1");
  assert.equal(data.logs[0].message, "greeting Ada in f1");
  assert.equal(typeof data.metrics.duration_ms, "number");
});

test("invalid config is refused before the handler", async () => {
  const [, data] = await call("/execute", { action: "greeter.hello", config: { times: "x" } });
  assert.equal(data.success, false);
  assert.equal(data.error.code, "INVALID_CONFIG");
  assert.match(data.error.message, /name: the field is required/);
  assert.match(data.error.message, /times: expected integer, got string/);
});

test("PluginError becomes success false with its code and details", async () => {
  const [, data] = await call("/execute", { action: "greeter.fail", config: {} });
  assert.deepEqual(data.error, { code: "NOPE", message: "failed on purpose", details: { why: "test" } });
});

test("a bug in a handler is INTERNAL_ERROR, and the server keeps serving", async () => {
  const [, data] = await call("/execute", { action: "greeter.bug", config: {} });
  assert.equal(data.error.code, "INTERNAL_ERROR");
  assert.match(data.error.message, /TypeError: boom/);
  const [status] = await call("/health");
  assert.equal(status, 200);
});

test("unknown actions get 400 UNKNOWN_ACTION naming the known ones", async () => {
  const [status, data] = await call("/execute", { action: "greeter.nope", config: {} });
  assert.equal(status, 400);
  assert.equal(data.error.code, "UNKNOWN_ACTION");
  assert.match(data.error.message, /greeter\.hello/);
});

test("auth handler answers the reserved authenticate action", async () => {
  const [, data] = await call("/execute", { action: "authenticate", config: { user: "bob" } });
  assert.deepEqual(data.output, { headers: { "X-User": "bob" } });
});

test("configProblems honours additionalProperties false", () => {
  assert.deepEqual(configProblems({ type: "object", additionalProperties: false }, { x: 1 }), ["x: unknown field"]);
  assert.deepEqual(configProblems({ type: "object" }, [1]), ["config must be an object"]);
});
