import { describe, expect, it } from "vitest";
import { CALLBACK_PATH, clientSettings, returnPath } from "./sso";

const cfg = { oidc: true, issuer: "https://sso.example", client_id: "testflow", scopes: "openid groups", token_endpoint: null };

describe("single sign-on settings", () => {
  it("use the server's issuer, client and scopes, with the callback on this origin", () => {
    const s = clientSettings(cfg, "https://tf.example");
    expect(s).toMatchObject({
      authority: "https://sso.example",
      client_id: "testflow",
      scope: "openid groups",
      response_type: "code",
      redirect_uri: `https://tf.example${CALLBACK_PATH}`,
      post_logout_redirect_uri: "https://tf.example/",
    });
    expect(s.metadataSeed).toBeUndefined();
    expect(Object.values(s).join(" ")).not.toMatch(/secret/i);
  });

  it("send a confidential client's code exchange to the API", () => {
    const s = clientSettings({ ...cfg, token_endpoint: "/api/v1/auth/token" }, "https://tf.example");
    expect(s.metadataSeed).toEqual({ token_endpoint: "https://tf.example/api/v1/auth/token" });
  });

  it("refuse to start when the server has no provider", () => {
    expect(() => clientSettings({ oidc: false }, "https://tf.example")).toThrow(/not configured/);
  });
});

describe("the page after signing in", () => {
  it("is the page the user came from, or the runs", () => {
    expect(returnPath("/suites?x=1")).toBe("/suites?x=1");
    expect(returnPath(undefined)).toBe("/runs");
    expect(returnPath(CALLBACK_PATH + "?code=1")).toBe("/runs");
  });

  it("is never another site", () => {
    for (const evil of ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", 42]) {
      expect(returnPath(evil)).toBe("/runs");
    }
  });
});
