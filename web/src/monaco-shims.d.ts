// The editor API module is reached through a Vite alias (see vite.config.ts); its types are
// the package's public ones.
declare module "monaco-editor/esm/vs/editor/editor.api.js" {
  export * from "monaco-editor";
}
declare module "monaco-editor/esm/vs/editor/editor.worker.js?worker" {
  const WorkerFactory: new () => Worker;
  export default WorkerFactory;
}
