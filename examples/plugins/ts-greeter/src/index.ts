/** Example action plugin written with @testflow/plugin-sdk: ts-greeter.greet and ts-greeter.sum. */
import { Plugin, PluginError } from "@testflow/plugin-sdk";

const plugin = new Plugin({ id: "ts-greeter", name: "TypeScript greeter", version: "1.0.0" });

plugin.action(
  "greet",
  {
    description: "Greet someone, in the language of the run's variables",
    schema: {
      type: "object",
      properties: { name: { type: "string" }, punctuation: { type: "string" } },
      required: ["name"],
      additionalProperties: false,
    },
  },
  (config: { name: string; punctuation?: string }, ctx) => {
    const hello = String(ctx.variables.hello ?? "Hello");
    ctx.log(`greeting ${config.name} for step ${ctx.stepId}`);
    return { greeting: `${hello}, ${config.name}${config.punctuation ?? "!"}`, run: ctx.executionId };
  },
);

plugin.action(
  "sum",
  {
    description: "Add numbers; fails with EMPTY on an empty list",
    schema: { type: "object", properties: { numbers: { type: "array", items: { type: "number" } } }, required: ["numbers"] },
  },
  (config: { numbers: number[] }) => {
    if (config.numbers.length === 0) throw new PluginError("EMPTY", "nothing to add");
    return { sum: config.numbers.reduce((a, b) => a + b, 0), count: config.numbers.length };
  },
);

plugin.serve();
