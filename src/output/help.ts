/** Per-command help from citty's own renderer, without colour when not wanted. */
import { renderUsage, type CommandDef } from "citty";

export async function renderCommandHelp(name: string, cmd: CommandDef<any>): Promise<string> {
  const parent = { meta: { name: "crabbox-cs" } } as CommandDef<any>;
  const text = await renderUsage({ ...cmd, meta: { ...(await (typeof cmd.meta === "function" ? cmd.meta() : cmd.meta)), name } }, parent);
  return process.stdout.isTTY && !process.env.NO_COLOR ? text : text.replace(/\u001b\[[0-9;]*m/g, "");
}
