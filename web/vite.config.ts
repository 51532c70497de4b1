/// <reference types="vitest/config" />
// Vite build of the testflow web UI. `npm run build` writes into the Python package
// (testflow/api/static, gitignored) so `pip install` ships the UI and `testflow serve` serves it.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const monacoEsm = fileURLToPath(new URL("./node_modules/monaco-editor/esm/vs/", import.meta.url));
const outDir = fileURLToPath(new URL("../testflow/api/static", import.meta.url));
// The dev server forwards /api to a running `testflow serve` (override with TESTFLOW_API).
const apiTarget = process.env.TESTFLOW_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  base: "/",
  resolve: {
    // monaco-editor 0.5x only exports `./*` -> `./esm/vs/*.js`; deep ESM paths (used by
    // monaco-yaml's worker and by our curated editor build) are mapped here.
    alias: [{ find: /^monaco-editor\/esm\/vs\/(.*)$/, replacement: `${monacoEsm}$1` }],
  },
  build: {
    outDir,
    emptyOutDir: true,
    // Monaco alone is ~3 MB minified; it is loaded lazily with the Builder screen only.
    chunkSizeWarningLimit: 4096,
    sourcemap: false,
  },
  worker: { format: "es" },
  server: {
    proxy: { "/api": { target: apiTarget, changeOrigin: false } },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
