import { describe, expect, it } from "vitest";
import { filterFlows, folderTree, tagCounts } from "./library";

const flows = [
  { name: "Create order", folder: "orders/acme", tags: ["orders", "smoke"] },
  { name: "Cancel order", folder: "orders", tags: ["orders"] },
  { name: "Invoice", folder: "billing/ ", tags: ["billing", "smoke"] },
  { name: "Loose", folder: null, tags: [] },
];

describe("flow library", () => {
  it("builds the folder tree with counts, ignoring stray slashes and spaces", () => {
    const t = folderTree(flows);
    expect(t.count).toBe(4);
    expect(t.children.map((c) => [c.path, c.count])).toEqual([
      ["billing", 1],
      ["orders", 2],
    ]);
    expect(t.children[1]?.children.map((c) => [c.path, c.count])).toEqual([["orders/acme", 1]]);
  });

  it("counts tags", () => {
    expect(tagCounts(flows)).toEqual([
      ["orders", 2],
      ["smoke", 2],
      ["billing", 1],
    ]);
  });

  it("filters by folder (with subfolders), every chosen tag and a search", () => {
    const names = (f: Parameters<typeof filterFlows>[1]) => filterFlows(flows, f).map((x) => x.name);
    expect(names({ folder: "orders", tags: [], q: "" })).toEqual(["Create order", "Cancel order"]);
    expect(names({ folder: "ord", tags: [], q: "" })).toEqual([]);
    expect(names({ folder: "", tags: ["smoke"], q: "" })).toEqual(["Create order", "Invoice"]);
    expect(names({ folder: "", tags: ["smoke", "orders"], q: "" })).toEqual(["Create order"]);
    expect(names({ folder: "", tags: [], q: "BILL" })).toEqual(["Invoice"]);
    expect(names({ folder: "", tags: [], q: "cancel" })).toEqual(["Cancel order"]);
  });
});
