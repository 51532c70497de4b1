// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, api } from "./client";
import { authHeaders, downloadWithToken, fileNameFrom, maskToken, TOKEN_KEY, token } from "./token";
import { http } from "./typed";

afterEach(() => {
  localStorage.clear();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

const answer = (body: string, init: ResponseInit = {}) => new Response(body, { status: 200, headers: { "Content-Type": "application/json" }, ...init });

describe("the API token", () => {
  it("is kept in localStorage['testflow.token'], trimmed, and forgotten when empty", () => {
    const seen: number[] = [];
    const off = token.subscribe(() => seen.push(1));
    token.set("  tf_abc  ");
    expect(localStorage.getItem(TOKEN_KEY)).toBe("tf_abc");
    expect(authHeaders()).toEqual({ Authorization: "Bearer tf_abc" });
    token.set("");
    expect(localStorage.getItem(TOKEN_KEY)).toBeNull();
    expect(authHeaders()).toEqual({});
    off();
    token.set("x");
    expect(seen).toHaveLength(2);
  });

  it("is sent by the typed client and by the plain client", async () => {
    token.set("tf_secret");
    const fetchMock = vi.fn(async (..._args: unknown[]) => answer("[]"));
    vi.stubGlobal("fetch", fetchMock);
    await http.GET("/api/v1/environments", { baseUrl: "http://localhost", fetch: fetchMock as unknown as typeof fetch });
    const req = fetchMock.mock.calls[0]![0] as Request;
    expect(req.headers.get("Authorization")).toBe("Bearer tf_secret");
    await api.stepKinds();
    const init = fetchMock.mock.calls[1]![1] as RequestInit;
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer tf_secret");
  });

  it("is not sent when none is stored", async () => {
    const fetchMock = vi.fn(async (..._args: unknown[]) => answer("[]"));
    vi.stubGlobal("fetch", fetchMock);
    await api.stepKinds();
    expect((fetchMock.mock.calls[0]![1] as RequestInit).headers).not.toHaveProperty("Authorization");
    await expect(Promise.reject(new ApiError("x", 401))).rejects.toThrow("x");
  });

  it("is shown masked", () => {
    expect(maskToken("tf_0123456789abcdef")).toBe("tf_0…cdef");
    expect(maskToken("short")).toBe("•••••");
  });
});

describe("report downloads", () => {
  it("name the file from Content-Disposition", () => {
    expect(fileNameFrom('attachment; filename="report.html"', "x")).toBe("report.html");
    expect(fileNameFrom("attachment; filename=junit.xml", "x")).toBe("junit.xml");
    expect(fileNameFrom("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.html", "x")).toBe("résumé.html");
    expect(fileNameFrom(null, "fallback.xml")).toBe("fallback.xml");
  });

  it("fetch with the token and save a blob", async () => {
    token.set("tf_dl");
    const fetchMock = vi.fn(async (..._args: unknown[]) => new Response("<xml/>", { headers: { "Content-Disposition": 'attachment; filename="r.xml"' } }));
    vi.stubGlobal("fetch", fetchMock);
    const created = vi.fn(() => "blob:x");
    URL.createObjectURL = created;
    URL.revokeObjectURL = vi.fn();
    const clicks: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push(`${this.download} ${this.getAttribute("href")}`);
    });
    await downloadWithToken("/api/v1/runs/r1/report/junit", "r1.junit.xml");
    expect((fetchMock.mock.calls[0]![1] as RequestInit).headers).toEqual({ Authorization: "Bearer tf_dl" });
    expect(created).toHaveBeenCalledOnce();
    expect(clicks).toEqual(["r.xml blob:x"]);
  });

  it("report the server's message when refused", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => answer(JSON.stringify({ detail: { message: "a token is required" } }), { status: 401 })));
    await expect(downloadWithToken("/api/v1/runs/r1/report/html", "r1.html")).rejects.toThrow("a token is required");
  });
});
