// Loads the example flows under src/flow/__fixtures__ for the tests.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../__fixtures__", import.meta.url));

export interface Fixture {
  name: string;
  text: string;
}

export const fixtures: Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(dir, name), "utf8") }));

export function fixture(name: string): string {
  const found = fixtures.find((f) => f.name.startsWith(name));
  if (!found) throw new Error(`no fixture ${name}`);
  return found.text;
}

/** The text of each `# comment` in the source, in order (the `#` part of each line). */
export function comments(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /(^|\s)(#.*)$/.exec(line);
    if (m?.[2] && !/["']/.test(line.slice(0, m.index))) out.push(m[2].trim());
  }
  return out;
}
