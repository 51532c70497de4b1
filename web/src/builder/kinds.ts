// How step kinds look: an icon glyph per registry icon name and a colour token per category.
import type { StepKindInfo } from "../api/client";

// Glyphs from the Arrows, Math, Geometric Shapes and Dingbats blocks, which common fonts
// (DejaVu, the system UI fonts) all have: no emoji font and no icon font to fetch.
const ICONS: Record<string, string> = {
  globe: "⇄",
  http: "⇄",
  database: "▦",
  db: "▦",
  "file-database": "▥",
  message: "✉",
  mail: "✉",
  rabbitmq: "✉",
  queue: "✉",
  kafka: "≋",
  mqtt: "◉",
  nats: "ϟ",
  redis: "◆",
  clock: "◴",
  timer: "◴",
  webhook: "↯",
  log: "✎",
  logs: "≣",
  check: "✔",
  assert: "✔",
  code: "ƒ",
  transform: "ƒ",
  shuffle: "⇆",
  box: "▣",
  split: "⇶",
  parallel: "⇶",
  folder: "▭",
  group: "▭",
  external: "↪",
  call: "↪",
  repeat: "↻",
  poll: "↻",
  plugin: "✚",
  plug: "✚",
  cloud: "☁",
  chart: "△",
  graph: "◇",
  trace: "∿",
  bucket: "◫",
};

const CONTROL_ICONS: Record<string, string> = { parallel: "⇶", group: "▭", call: "↪", poll: "↻" };

export function kindIcon(type: string | undefined, kinds: Map<string, StepKindInfo>): string {
  if (type === undefined) return "?";
  const known = kinds.get(type);
  if (known) return ICONS[known.icon] ?? "▣";
  return CONTROL_ICONS[type] ?? "▣";
}

const CATEGORY_TOKENS: Record<string, string> = {
  http: "--kind-http",
  api: "--kind-http",
  database: "--kind-database",
  sql: "--kind-database",
  messaging: "--kind-messaging",
  wait: "--kind-wait",
  control: "--kind-control",
  utility: "--kind-utility",
  plugin: "--kind-plugin",
  cache: "--kind-cache",
  storage: "--kind-storage",
  observability: "--kind-observability",
};

/** The CSS variable holding the colour of a kind (by its registry category). */
export function kindColorVar(type: string | undefined, kinds: Map<string, StepKindInfo>): string {
  const known = type === undefined ? undefined : kinds.get(type);
  if (known) return `var(${CATEGORY_TOKENS[known.category] ?? (known.source === "builtin" ? "--kind-utility" : "--kind-plugin")})`;
  if (type && ["parallel", "group", "call", "poll"].includes(type)) return "var(--kind-control)";
  return "var(--kind-utility)";
}
