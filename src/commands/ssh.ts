import { defineCommand } from "./argv.ts";
import { createContext } from "../context.ts";
import type { Claim } from "../leases/claim.ts";
import { resolveLease } from "../leases/resolve.ts";
import { withLeaseInUse } from "../lifecycle/in-use.ts";
import { createServices } from "../lifecycle/services.ts";
import { signalNumber, type Runtime } from "../runtime.ts";
import { runRemote, sshArgs } from "../ssh/exec.ts";
import { quoteWorkRoot, shQuote } from "../ssh/quote.ts";
import { commonArgs, durationArg, leaseRefArg, leaseRefArgs } from "./shared.ts";

export default defineCommand({
  meta: { name: "ssh", description: "Open an SSH session (or run one command) on a lease" },
  notes: [
    "As with OpenSSH, the words after -- are joined with spaces and run by the remote shell: crabbox-cs ssh amber-crab -- 'cd src; ls | wc -l'. (run, by contrast, keeps each word as one argument.)",
  ],
  examples: [
    "crabbox-cs ssh amber-crab                  # a login shell in the work root",
    "crabbox-cs ssh amber-crab -- 'pwd; ls; exit 4'   # exits 4",
    "crabbox-cs ssh amber-crab --print          # the ssh line for scp/rsync",
  ],
  passthrough: "command...",
  args: {
    ...commonArgs,
    ...leaseRefArgs,
    print: { type: "boolean", description: "Print the ssh command line to reuse (paths only) instead of connecting" },
    timeout: { type: "string", description: "How long to wait if the codespace must be started (Go duration)", default: "10m", valueHint: "duration" },
  },
  async run({ args, passthrough }) {
    const ctx = await createContext(args);
    const svc = createServices(ctx);
    const claim = await resolveLease(svc.store, leaseRefArg(args, "ssh"));
    if (args.print) {
      const line = ["ssh", "-F", claim.sshConfigPath ?? "<not connected yet>", claim.sshHost ?? "<alias>"].map(shQuote).join(" ");
      if (ctx.json) ctx.printJson({ leaseId: claim.leaseId, configPath: claim.sshConfigPath, host: claim.sshHost, command: line });
      else ctx.print(line);
      return 0;
    }
    // In use (cleanup leaves it alone) while we are connected.
    const timeoutMs = durationArg("timeout", args.timeout);
    return withLeaseInUse(svc, claim, { timeoutMs, connect: true }, (c) => session(ctx.runtime, c, passthrough));
  },
});

/**
 * One command after `--`, or an interactive login shell in the work root. As
 * with OpenSSH, the words after `--` are joined with spaces and the remote
 * shell parses the line (`run` instead keeps each word as one argument).
 */
async function session(runtime: Runtime, claim: Claim, argv: string[]): Promise<number> {
  const config = { configPath: claim.sshConfigPath!, alias: claim.sshHost! };
  if (argv.length > 0) {
    const r = await runRemote(runtime, { ...config, workRoot: claim.workRoot, argv, shell: argv.join(" ") });
    return r.code ?? 128 + (signalNumber(r.signal) ?? 0);
  }
  const login = `cd ${quoteWorkRoot(claim.workRoot)} 2>/dev/null; exec "\${SHELL:-/bin/sh}" -l`;
  const child = runtime.spawn(sshArgs({ ...config, tty: runtime.tty.stdin, command: login }), { stdin: "inherit", stdout: "inherit", stderr: "inherit", passTokens: true });
  const r = await child.exited;
  return r.code ?? 128 + (signalNumber(r.signal) ?? 0);
}
