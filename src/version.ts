/** Version and commit, baked in by build.ts (`--define`); dev runs read package.json. */
import pkg from "../package.json" with { type: "json" };

declare const __CRABBOX_VERSION__: string | undefined;
declare const __CRABBOX_COMMIT__: string | undefined;

export const VERSION: string = typeof __CRABBOX_VERSION__ === "string" ? __CRABBOX_VERSION__ : pkg.version;
export const COMMIT: string = typeof __CRABBOX_COMMIT__ === "string" ? __CRABBOX_COMMIT__ : "dev";
