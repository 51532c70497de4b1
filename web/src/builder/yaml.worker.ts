// The monaco-yaml language worker, built by Vite as a separate worker bundle.
import "monaco-yaml/yaml.worker.js";
