/** Small mock fetch + runtime for the GitHub client unit tests (not a test file). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createGithubClient, type GithubClient, type RetryOptions } from "../../src/github/client.ts";
import { createRuntime, type Runtime } from "../../src/runtime.ts";

export const CANARY = "ghp_CANARYcanaryCANARYcanary0123456789";
export const NOW = 1_700_000_000_000;

export interface Call {
  url: URL;
  method: string;
  headers: Headers;
  body: string | undefined;
}

export type Step = Response | Error | ((call: Call, signal: AbortSignal | undefined) => Response | Promise<Response>);

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 304 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** A fetch that answers with `steps` in order (the last one repeats) and records every call. */
export function mockFetch(steps: Step[]) {
  const calls: Call[] = [];
  let i = 0;
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const call: Call = {
      url: new URL(String(input)),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : undefined,
    };
    calls.push(call);
    const step = steps[Math.min(i++, steps.length - 1)];
    if (step instanceof Error) throw step;
    if (typeof step === "function") return step(call, init?.signal ?? undefined);
    if (!step) throw new Error("mockFetch: no steps");
    return step.clone();
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

export function setup(steps: Step[], opts: { retry?: RetryOptions; timeoutMs?: number; apiUrl?: string } = {}) {
  const { fetch, calls } = mockFetch(steps);
  const sleeps: number[] = [];
  const runtime: Runtime = createRuntime({
    fetch,
    now: () => NOW,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    env: {},
  });
  const client: GithubClient = createGithubClient({
    runtime,
    apiUrl: opts.apiUrl ?? "https://api.github.com",
    token: CANARY,
    version: "1.2.3",
    retry: opts.retry,
    timeoutMs: opts.timeoutMs,
  });
  return { client, calls, sleeps, runtime };
}

export function fixture(name: string): Record<string, any> {
  return JSON.parse(readFileSync(join(import.meta.dir, "../../fixtures/api", name), "utf8")) as Record<string, any>;
}

export function codespaceExample(overrides: Record<string, unknown> = {}): Record<string, any> {
  return { ...fixture("github-example-codespace.json"), ...overrides };
}

/** Resolve to the thrown error (fails the test when nothing is thrown). */
export async function caught(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}
