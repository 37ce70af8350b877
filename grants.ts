/**
 * Prints the permission flags of one product task, for `deno.json`:
 * `deno run --no-prompt $(deno run -q --no-prompt --allow-env=ADDRESSBOOK_*,TMPDIR grants.ts serve) server.ts`.
 * The logic is `lib/sandbox/grants.ts`; the variable lists are the programs' own `--help` tables.
 *
 * @module
 */

import { GRANT_TASKS, type GrantTask, taskGrants } from "./lib/sandbox/grants.ts";
import { readEnv } from "./lib/sandbox/permissions.ts";
import { SERVER_OPTIONS } from "./lib/server/config.ts";
import { CLIENT_OPTIONS } from "./lib/client/config.ts";

if (import.meta.main) {
  const task = Deno.args[0] ?? "";
  if (!(GRANT_TASKS as readonly string[]).includes(task)) {
    console.error(
      `grants.ts: the task is one of ${GRANT_TASKS.join(", ")}, not ${JSON.stringify(task)}`,
    );
    Deno.exit(2);
  }
  const names = {
    server: SERVER_OPTIONS.map((option) => option.env),
    client: [
      ...new Set(CLIENT_OPTIONS.flatMap((option) => option.env.match(/ADDRESSBOOK_\w+/g) ?? [])),
    ],
  };
  const { flags, problems } = taskGrants(task as GrantTask, readEnv, names);
  for (const problem of problems) console.error(`addressbook: ${problem}`);
  console.log(flags.join(" "));
}
