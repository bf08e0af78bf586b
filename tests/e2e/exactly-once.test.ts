/**
 * A remote command runs at most once, whatever happens to the connection, and
 * Ctrl-C / SIGTERM stop it (exit 128+n) instead of retrying it (issue 10,
 * items 1 and 2). Every command here appends its shell's pid to a file as its
 * first act, then waits for a "go" file the test writes: so "ran once" is a
 * line count, and no test waits on a clock.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, createHarness, type Harness, type RunOptions } from "./harness.ts";

/** Poll `pred` until it holds (true) or `ms` passed (false). */
async function waitFor(pred: () => boolean, ms = 30_000, step = 20): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await Bun.sleep(step);
  }
  return true;
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is gone for our purposes.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** Processes (other than us) whose command line mentions `needle`: ssh -F <home>/..., the gh stand-in, sshd. */
function processesMentioning(needle: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmd.includes(needle)) out.push(`${p}: ${cmd}`);
    } catch {}
  }
  return out;
}

/** Command lines of the processes whose parent is `pid`. */
function childCommands(pid: number): string[] {
  const out: string[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8"); // "pid (comm) state ppid ..."
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ").trim());
    } catch {}
  }
  return out;
}

/**
 * `sh -c` script: record this shell's pid in `starts` (under the codespace's
 * own directory, or an absolute path), say so, wait for `go` (10 min at
 * most), say finished.
 */
function waiter(starts: string, go: string): string {
  return `echo $$ >> ${starts}; echo started-once; i=0; while [ ! -e ${go} ] && [ $i -lt 6000 ]; do sleep 0.1; i=$((i+1)); done; echo finished`;
}

interface Spawned {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Start the binary; `group`: as its own process-group leader, as a shell starts a foreground job. */
function start(h: Harness, args: string[], opts: RunOptions & { group?: boolean } = {}): Spawned {
  const proc = Bun.spawn([BIN, ...args], {
    cwd: h.work,
    env: { ...h.env, ...(opts.env as Record<string, string>) },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.group ? { detached: true } : {}),
  });
  const done = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]).then(([stdout, stderr, code]) => ({ code, stdout, stderr }));
  return { proc, done };
}

/** Wait until the run exits or a second start shows up; then let any remote command finish. */
async function settle(s: Spawned, starts: string, go: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let exited = false;
  void s.done.then(() => (exited = true));
  await waitFor(() => exited || lines(starts).length >= 2, 120_000);
  writeFileSync(go, "");
  return s.done;
}

async function apiStop(h: Harness, name: string): Promise<void> {
  const res = await fetch(`${h.emu.url}/user/codespaces/${name}/stop`, { method: "POST", headers: { authorization: `token ${h.emu.token}` } });
  expect(res.status).toBe(200);
}

function stateOf(h: Harness, name: string): string | undefined {
  return (h.emu.control.codespaces().find((c: any) => c.name === name) as any)?.state;
}

const LOST = "the connection was lost while the command was running";

describe("a remote command never runs twice", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ delays: { stopMs: 100, startMs: 100 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function warm(extra: string[] = []): Promise<{ slug: string; name: string; dir: string }> {
    const w = await h.run(["warmup", "--json", ...extra]);
    expect(w.code).toBe(0);
    const lease = w.json();
    const name = lease.codespace.name as string;
    return { slug: lease.slug, name, dir: h.emu.control.codespaceDir(name) };
  }

  test("(a) the connection is cut mid-command: no retry, one run, exit 255 and one clear error", async () => {
    const { slug, name, dir } = await warm();
    const starts = join(dir, "starts");
    const go = join(dir, "go");
    const s = start(h, ["run", "--id", slug, "--no-sync", "--", "sh", "-c", waiter('"$CODESPACE_DIR/starts"', '"$CODESPACE_DIR/go"')]);
    expect(await waitFor(() => lines(starts).length === 1)).toBe(true);
    expect(h.emu.control.cutConnections(name)).toBeGreaterThan(0);
    const r = await settle(s, starts, go);
    if (process.env.SHOW) console.log(r.stderr);
    expect(lines(starts)).toHaveLength(1);
    expect(r.stdout.split("started-once").length - 1).toBe(1);
    expect(r.code).toBe(255);
    expect(r.stderr.split(LOST).length - 1).toBe(1);
    expect(r.stderr).toContain("may still be running");
    expect(r.stderr).not.toContain("retrying");
    // No marker leaks into the output.
    expect(r.stderr).not.toContain("crabbox-cs:");
    expect(r.stderr).not.toContain("\x1f");
  }, 120_000);

  test("(d) the codespace is stopped while the command runs: not started again, exit 255, stays Shutdown", async () => {
    const { slug, name, dir } = await warm();
    const starts = join(dir, "starts");
    const go = join(dir, "go");
    const s = start(h, ["run", "--id", slug, "--no-sync", "--", "sh", "-c", waiter('"$CODESPACE_DIR/starts"', '"$CODESPACE_DIR/go"')]);
    expect(await waitFor(() => lines(starts).length === 1)).toBe(true);
    expect(h.emu.control.liveTunnels(name)).toBeGreaterThan(0);
    await apiStop(h, name);
    expect(h.emu.control.liveTunnels(name)).toBe(0); // the emulator's stop cuts the codespace's connections
    const r = await settle(s, starts, go);
    if (process.env.SHOW) console.log(r.stderr);
    expect(lines(starts)).toHaveLength(1);
    expect(r.code).toBe(255);
    expect(r.stderr.split(LOST).length - 1).toBe(1);
    expect(r.stderr).not.toContain("starting stopped codespace");
    expect(await waitFor(() => stateOf(h, name) === "Shutdown")).toBe(true);
    expect(h.emu.control.counts()[`POST /user/codespaces/:name/start`] ?? 0).toBe(0);
  }, 120_000);

  test("(e) a kept lease stopped with `stop` is started at the beginning of run --id and runs once", async () => {
    const { slug, name, dir } = await warm(["--keep"]);
    expect((await h.run(["stop", slug])).code).toBe(0);
    expect(stateOf(h, name)).toBe("Shutdown");
    const starts = join(dir, "starts-e");
    const r = await h.run(["run", "--id", slug, "--no-sync", "--", "sh", "-c", 'echo $$ >> "$CODESPACE_DIR/starts-e"; echo ran']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ran\n");
    expect(r.stderr).toContain("starting stopped codespace");
    expect(lines(starts)).toHaveLength(1);
    expect(stateOf(h, name)).toBe("Available");
    expect((await h.run(["stop", slug, "--delete"])).code).toBe(0);
  }, 120_000);

  test("(f) a command that never started (master gone, codespace idle-stopped) is retried once and runs once", async () => {
    const { slug, name, dir } = await warm();
    await apiStop(h, name); // as GitHub's idle timeout would: the claim still says ready, the master dies
    expect(await waitFor(() => stateOf(h, name) === "Shutdown")).toBe(true);
    const starts = join(dir, "starts-f");
    const r = await h.run(["run", "--id", slug, "--no-sync", "--", "sh", "-c", 'echo $$ >> "$CODESPACE_DIR/starts-f"; echo ran']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ran\n");
    expect(r.stderr).toContain("the command did not start");
    expect(lines(starts)).toHaveLength(1);
  }, 120_000);

  test("(g) a released lease that is not kept is not started again by run --id", async () => {
    const { slug, name, dir } = await warm();
    const stop = await h.run(["stop", slug, "--keep"]); // stopped, claim kept as "released"; the lease itself is not kept
    expect(stop.code).toBe(0);
    expect(stateOf(h, name)).toBe("Shutdown");
    const starts = join(dir, "starts-g");
    const r = await h.run(["run", "--id", slug, "--no-sync", "--", "sh", "-c", 'echo $$ >> "$CODESPACE_DIR/starts-g"']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("only a kept lease");
    expect(r.stderr).not.toContain("starting stopped codespace");
    expect(stateOf(h, name)).toBe("Shutdown");
    expect(lines(starts)).toHaveLength(0);
  }, 120_000);
});

describe("Ctrl-C and SIGTERM", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ delays: { stopMs: 100, deleteMs: 50 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function interrupted(opts: { sig: "SIGINT" | "SIGTERM"; group: boolean; id?: string; tag: string }) {
    const starts = join(h.tmp, `starts-${opts.tag}`);
    const go = join(h.tmp, `go-${opts.tag}`);
    const before = h.emu.control.codespaces().map((c: any) => c.name).sort();
    const args = opts.id ? ["run", "--id", opts.id, "--no-sync"] : ["run"];
    const s = start(h, [...args, "--", "sh", "-c", waiter(starts, go)], { group: opts.group });
    expect(await waitFor(() => lines(starts).length === 1, 120_000)).toBe(true);
    const remote = Number(lines(starts)[0]);
    expect(alive(remote)).toBe(true);
    const t0 = Date.now();
    if (opts.group) process.kill(-s.proc.pid, opts.sig);
    else s.proc.kill(opts.sig);
    // The remote command must be gone by the time the run exits (it waits for that), never re-run.
    let goneAfterMs = -1;
    void waitFor(() => !alive(remote), 60_000, 10).then((gone) => (goneAfterMs = gone ? Date.now() - t0 : -1));
    let exited = false;
    void s.done.then(() => (exited = true));
    await waitFor(() => exited || lines(starts).length >= 2, 120_000);
    const remoteGoneAtExit = !alive(remote);
    writeFileSync(go, "");
    const r = await s.done;
    console.log(`figure: ${opts.tag}: remote command gone ${goneAfterMs} ms after ${opts.sig}; run exited ${Date.now() - t0} ms after it`);
    expect(lines(starts)).toHaveLength(1);
    expect(r.stdout.split("started-once").length - 1).toBe(1);
    expect(r.code).toBe(opts.sig === "SIGINT" ? 130 : 143);
    expect(r.stderr).not.toContain("retrying");
    expect(r.stderr).not.toContain("\x1f");
    expect(remoteGoneAtExit).toBe(true);
    return { r, before };
  }

  for (const [tag, sig, group] of [
    ["b-group-int", "SIGINT", true],
    ["c-alone-int", "SIGINT", false],
    ["c-alone-term", "SIGTERM", false],
  ] as const) {
    test(`one-shot run, ${sig} to ${group ? "the whole process group (a terminal's Ctrl-C)" : "the process alone"}: exit ${sig === "SIGINT" ? 130 : 143}, ran once, remote command gone, lease released, nothing left behind`, async () => {
      const { r, before } = await interrupted({ sig, group, tag });
      expect(r.stderr).toContain("released lease");
      expect(readdirSync(join(h.home, "claims")).filter((f) => f.endsWith(".json"))).toEqual([]);
      expect(h.emu.control.codespaces().map((c: any) => c.name).sort()).toEqual(before);
      // No ssh (ssh -F <home>/ssh/...), gh stand-in or sshd of ours outlives the run.
      const ok = await waitFor(() => processesMentioning(h.home).length === 0 && processesMentioning(h.emu.stateDir).length === 0, 30_000, 50);
      if (!ok) console.log([...processesMentioning(h.home), ...processesMentioning(h.emu.stateDir)].join("\n"));
      expect(ok).toBe(true);
    }, 180_000);
  }

  test("one-shot run, two Ctrl-C to the whole process group: exit 130, lease left claimed with the exact stop command, ran once", async () => {
    const starts = join(h.tmp, "starts-twice");
    const go = join(h.tmp, "go-twice");
    // A release that takes long (the stop does not complete), so the second Ctrl-C surely lands during it.
    h.emu.control.setDelays({ stopMs: 600_000 });
    try {
      const s = start(h, ["run", "--", "sh", "-c", waiter(starts, go)], { group: true });
      expect(await waitFor(() => lines(starts).length === 1, 120_000)).toBe(true);
      const remote = Number(lines(starts)[0]);
      process.kill(-s.proc.pid, "SIGINT");
      // The first one's work: the remote command goes, then the release starts stopping the codespace.
      expect(await waitFor(() => !alive(remote), 60_000)).toBe(true);
      expect(await waitFor(() => h.emu.control.codespaces().some((c: any) => c.state === "ShuttingDown"), 60_000)).toBe(true);
      process.kill(-s.proc.pid, "SIGINT");
      const r = await s.done;
      writeFileSync(go, "");
      expect(r.code).toBe(130);
      expect(lines(starts)).toHaveLength(1);
      expect(r.stderr).not.toContain("retrying");
      const m = /release it with: crabbox-cs stop (\S+)/.exec(r.stderr);
      expect(m).not.toBeNull();
      const claims = readdirSync(join(h.home, "claims")).filter((f) => f.endsWith(".json"));
      expect(claims).toHaveLength(1);
      const name = JSON.parse(readFileSync(join(h.home, "claims", claims[0]!), "utf8")).codespace.name;
      h.emu.control.mutateCodespace(name, { state: "Shutdown" });
      expect((await h.run(["stop", m![1]!])).code).toBe(0);
      expect(readdirSync(join(h.home, "claims")).filter((f) => f.endsWith(".json"))).toEqual([]);
    } finally {
      h.emu.control.setDelays({ stopMs: 100 });
    }
  }, 180_000);

  test("run --id, Ctrl-C to the whole process group: exit 130, remote command gone, lease kept and usable", async () => {
    const w = await h.run(["warmup", "--json"]);
    expect(w.code).toBe(0);
    const lease = w.json();
    const { r } = await interrupted({ sig: "SIGINT", group: true, id: lease.slug, tag: "id-group-int" });
    expect(r.stderr).not.toContain("released lease");
    expect(stateOf(h, lease.codespace.name)).toBe("Available");
    const again = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "echo", "still-usable"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("still-usable\n");
    expect((await h.run(["stop", lease.slug, "--delete"])).code).toBe(0);
  }, 180_000);

  test("with a terminal (ssh -t), Ctrl-C typed goes to the remote command: exit 130, no marker shows", async () => {
    const w = await h.run(["warmup", "--json"]);
    expect(w.code).toBe(0);
    const lease = w.json();
    const starts = join(h.tmp, "starts-pty");
    // script(1) gives the run a terminal on stdin and stdout, so ssh gets -t and the terminal goes raw.
    const cmd = `${BIN} run --id ${lease.slug} --no-sync -- sh -c 'echo $$ >> ${starts}; echo started-once; sleep 600; echo finished'`;
    const p = Bun.spawn(["script", "-qec", cmd, "/dev/null"], { cwd: h.work, env: h.env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const reader = p.stdout.getReader();
    let out = "";
    while (!out.includes("started-once")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    expect(lines(starts)).toHaveLength(1);
    const remote = Number(lines(starts)[0]);
    // "started-once" is printed before the remote shell has started `sleep`. A ^C typed in between
    // reaches the remote terminal all the same, but /bin/sh (dash, which catches SIGINT under -c)
    // only acts on it after its next command returns: 600 s later. So type it once the sleep runs
    // (the emulated codespace's processes are this machine's), as a user would, seeing it wait.
    expect(await waitFor(() => childCommands(remote).some((c) => c.startsWith("sleep 600")))).toBe(true);
    p.stdin.write("\x03");
    p.stdin.flush();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const code = await p.exited;
    expect(code).toBe(130);
    expect(out).toContain("started-once\r\n");
    expect(out).not.toContain("finished");
    expect(out).not.toContain("\x1f");
    expect(out).not.toContain("crabbox-cs:");
    expect(out).not.toContain("255");
    expect(lines(starts)).toHaveLength(1);
    expect(alive(remote)).toBe(false);
    p.stdin.end();
    expect((await h.run(["stop", lease.slug, "--delete"])).code).toBe(0);
  }, 180_000);
});
