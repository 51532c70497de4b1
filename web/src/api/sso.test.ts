import { ErrorResponse, ErrorTimeout } from "oidc-client-ts";
import { describe, expect, it } from "vitest";
import { CALLBACK_PATH, clientSettings, oneRenewalAtATime, renewalLead, renewalProblem, returnPath, SILENT_PATH } from "./sso";

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

  it("renew silently: refresh token when given, else the iframe that comes back to /auth/silent", () => {
    const s = clientSettings(cfg, "https://tf.example");
    expect(s).toMatchObject({ automaticSilentRenew: true, silent_redirect_uri: `https://tf.example${SILENT_PATH}` });
    // Timeouts (a provider that is down) end in silentRenewError, not in retries for ever.
    expect(s.maxSilentRenewTimeoutRetries).toBeGreaterThanOrEqual(0);
  });

  it("renew a minute before expiry, and short tokens at two thirds of their life", () => {
    expect(renewalLead(3600)).toBe(60);
    expect(renewalLead(180)).toBe(60);
    expect(renewalLead(60)).toBe(20);
    expect(renewalLead(8)).toBe(3);
    expect(renewalLead(6)).toBe(2);
    expect(renewalLead(1)).toBe(1);
    expect(renewalLead(0)).toBe(1);
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

describe("a failed renewal", () => {
  it("says whether the provider ended the session or could not be reached", () => {
    const gone = new ErrorResponse({ error: "invalid_grant", error_description: "grant request is invalid" });
    expect(renewalProblem(gone)).toBe("the provider ended the session (invalid_grant: grant request is invalid)");
    expect(renewalProblem(new ErrorResponse({ error: "login_required" }))).toBe("the provider ended the session (login_required)");
    expect(renewalProblem(new ErrorTimeout("IFrame timed out without a response"))).toBe("the provider did not answer in time");
    expect(renewalProblem(new TypeError("Failed to fetch"))).toBe("the provider could not be reached (Failed to fetch)");
  });
});

describe("renewals across tabs", () => {
  /** A LockManager of one origin: requests of one name run one after the other. */
  function locks() {
    let tail: Promise<unknown> = Promise.resolve();
    return {
      request: (<T>(_name: string, run: () => Promise<T>): Promise<T> => {
        const mine = tail.then(run);
        tail = mine.catch(() => undefined);
        return mine;
      }) as unknown as LockManager["request"],
    };
  }

  it("renew once: a tab that waited takes the token another tab got", async () => {
    const lock = locks();
    let store = { access_token: "t1", expired: false };
    const renewed: string[] = [];
    const taken: string[] = [];
    const tab = (name: string) =>
      oneRenewalAtATime(
        lock,
        "t1",
        async () => store,
        async (u) => void taken.push(`${name}:${u.access_token}`),
        async () => {
          await new Promise((r) => setTimeout(r, 5)); // the token endpoint answers later
          renewed.push(name);
          store = { access_token: "t2", expired: false };
          return store;
        },
      );
    const [a, b] = await Promise.all([tab("A"), tab("B")]);
    expect(renewed).toEqual(["A"]);
    expect(taken).toEqual(["B:t2"]);
    expect([a?.access_token, b?.access_token]).toEqual(["t2", "t2"]);
  });

  it("renew when the stored token is the one this tab holds, or expired", async () => {
    let renewals = 0;
    const renew = async () => {
      renewals++;
      return { access_token: "new", expired: false };
    };
    const noTake = async () => {
      throw new Error("must not take");
    };
    await oneRenewalAtATime(locks(), "t1", async () => ({ access_token: "t1", expired: false }), noTake, renew);
    await oneRenewalAtATime(locks(), "t1", async () => ({ access_token: "t2", expired: true }), noTake, renew);
    await oneRenewalAtATime(undefined, undefined, async () => ({ access_token: "t2", expired: false }), noTake, renew);
    expect(renewals).toBe(3);
  });
});
