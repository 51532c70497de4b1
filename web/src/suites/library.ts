// The flow library as the Suites screen shows it: a folder tree (folders are slash paths),
// tags with counts, and the filter of folder + tags + search.
import type { FlowSummary } from "../api/typed";

export interface FolderNode {
  path: string;
  name: string;
  /** Flows in this folder and below. */
  count: number;
  children: FolderNode[];
}

const clean = (folder: string | null | undefined): string =>
  (folder ?? "")
    .split("/")
    .map((s) => s.trim())
    .filter(Boolean)
    .join("/");

/** Folders as a tree; flows without a folder count only at the root. */
export function folderTree(flows: Pick<FlowSummary, "folder">[]): FolderNode {
  const root: FolderNode = { path: "", name: "All flows", count: 0, children: [] };
  for (const f of flows) {
    root.count++;
    let node = root;
    const parts = clean(f.folder).split("/").filter(Boolean);
    parts.forEach((part, i) => {
      const path = parts.slice(0, i + 1).join("/");
      let child = node.children.find((c) => c.path === path);
      if (!child) {
        child = { path, name: part, count: 0, children: [] };
        node.children.push(child);
        node.children.sort((a, b) => a.name.localeCompare(b.name));
      }
      child.count++;
      node = child;
    });
  }
  return root;
}

/** Tags with how many flows carry each, most used first. */
export function tagCounts(flows: Pick<FlowSummary, "tags">[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const f of flows) for (const t of new Set(f.tags)) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export interface LibraryFilter {
  /** A folder path: its flows and its subfolders' ("" = all). */
  folder: string;
  /** Every one of these tags. */
  tags: string[];
  /** Part of the name, a tag or the folder, any case. */
  q: string;
}

export function filterFlows<T extends Pick<FlowSummary, "name" | "folder" | "tags">>(flows: T[], f: LibraryFilter): T[] {
  const q = f.q.trim().toLowerCase();
  return flows.filter((flow) => {
    const folder = clean(flow.folder);
    if (f.folder && folder !== f.folder && !folder.startsWith(`${f.folder}/`)) return false;
    if (!f.tags.every((t) => flow.tags.includes(t))) return false;
    if (!q) return true;
    return flow.name.toLowerCase().includes(q) || folder.toLowerCase().includes(q) || flow.tags.some((t) => t.toLowerCase().includes(q));
  });
}
