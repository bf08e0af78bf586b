/**
 * The one rule for a GitHub REST base URL, used when config is loaded and
 * again when a client is made: https (plain http only for loopback hosts, so
 * a token never crosses a network unencrypted), no credentials, no query or
 * fragment; canonical form without a trailing slash.
 */
import { CrabboxError, Exit } from "../errors.ts";
import { redact } from "../redact.ts";

export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export type ApiUrlCheck = { url: string } | { problem: string };

export function checkApiUrl(raw: string): ApiUrlCheck {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return { problem: "it is not a URL" };
  }
  if (u.username || u.password) return { problem: "it must not contain a user name or password (the token comes from gh auth or GH_TOKEN)" };
  if (u.search || u.hash) return { problem: "it must not have a query or fragment" };
  if (u.protocol === "http:") {
    if (!isLoopback(u.hostname)) {
      return { problem: "plain http is allowed only for loopback hosts (localhost, 127.0.0.0/8, ::1): the token would cross the network unencrypted" };
    }
  } else if (u.protocol !== "https:") {
    return { problem: `it must use https, not ${u.protocol.replace(/:$/, "")}` };
  }
  return { url: `${u.origin}${u.pathname}`.replace(/\/+$/, "") };
}

/**
 * The host gh knows this API by (`gh auth token -h HOST`, `gh auth refresh -h HOST`):
 * github.com for https://api.github.com, <sub>.ghe.com for https://api.<sub>.ghe.com,
 * and the server's own host (with a non-default port) for GitHub Enterprise Server
 * (https://HOST/api/v3) or a local emulator.
 */
export function ghHostFor(apiUrl: string): string {
  const u = new URL(apiUrl);
  const host = u.hostname.toLowerCase();
  if (host === "api.github.com") return "github.com";
  const ghe = /^api\.([a-z0-9-]+\.ghe\.com)$/.exec(host);
  if (ghe) return ghe[1]!;
  return u.host.toLowerCase();
}

/** checkApiUrl or a usage error (exit 2); `from` names where the value came from. */
export function normalizeApiUrl(raw: string, from?: string): string {
  const r = checkApiUrl(raw);
  if ("url" in r) return r.url;
  throw new CrabboxError({
    code: "config_api_url",
    exit: Exit.usage,
    message: `apiUrl ${JSON.stringify(redact(raw))}${from ? ` (from ${from})` : ""} is not usable`,
    why: r.problem,
    hint: "use https://api.github.com, https://<host>/api/v3 (GitHub Enterprise Server), https://api.<subdomain>.ghe.com or http://127.0.0.1:<port> for a local emulator",
  });
}
