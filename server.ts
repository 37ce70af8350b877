/**
 * addressbook server: config -> open store -> listen -> serve connections -> shut down on
 * SIGINT/SIGTERM. Run it with `deno task serve`; `--help` lists the options.
 *
 * @module
 */

import { createLogger, type Logger } from "./lib/log.ts";
import { AddressBookServer } from "./lib/server.ts";
import {
  ConfigError,
  isFileStore,
  parseServerCommand,
  type ServerConfig,
  serverHelp,
} from "./lib/server_config.ts";
import { ContactStore, LAYOUT_VERSION, LayoutError } from "./lib/store.ts";
import { PROTOCOL_VERSION, VERSION } from "./lib/version.ts";

/** Reads an environment variable if this process may; unset otherwise (never prompts). */
function readEnv(name: string): string | undefined {
  const status = Deno.permissions.querySync({ name: "env", variable: name });
  return status.state === "granted" ? Deno.env.get(name) : undefined;
}

/** Prints a one-sentence error (no stack trace) and exits. */
function fail(message: string, code = 1): never {
  console.error(`addressbook: ${message}`);
  Deno.exit(code);
}

/** Says which permission flag is missing, in one sentence. */
function permissionHint(error: unknown, what: string, flag: string): string {
  const detail = error instanceof Error ? error.message.split("\n")[0] : String(error);
  return `${what}: ${detail}. Grant it with ${flag} (deno task serve grants the data folder ` +
    "named by ADDRESSBOOK_DATA and the host named by ADDRESSBOOK_HOST)";
}

async function openStore(config: ServerConfig): Promise<ContactStore> {
  if (isFileStore(config.db)) {
    try {
      await Deno.mkdir(config.data, { recursive: true });
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        fail(permissionHint(
          error,
          `Cannot create the data folder ${JSON.stringify(config.data)}`,
          `--allow-write=${config.data}`,
        ));
      }
      fail(`Cannot create the data folder ${JSON.stringify(config.data)}: ${error}`);
    }
  }
  try {
    return await ContactStore.open(config.db);
  } catch (error) {
    if (error instanceof LayoutError) fail(error.message);
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      fail(permissionHint(
        error,
        `Cannot open the store ${JSON.stringify(config.db)}`,
        `--allow-read and --allow-write for its folder`,
      ));
    }
    fail(
      `Cannot open the store ${JSON.stringify(config.db)}: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
}

function listen(config: ServerConfig, store: ContactStore, log: ReturnType<typeof createLogger>) {
  try {
    return AddressBookServer.listen({
      hostname: config.host,
      port: config.port,
      store,
      log,
      maxConnections: config.maxConnections,
      limits: {
        maxLine: config.maxLine,
        idleTimeoutMs: config.idleTimeout * 1000,
        maxBadLines: 100,
        writeTimeoutMs: config.writeTimeout * 1000,
      },
    });
  } catch (error) {
    store.close();
    const where = `${config.host}:${config.port}`;
    if (error instanceof Deno.errors.AddrInUse) {
      fail(
        `Port ${config.port} on ${config.host} is already in use: stop the other server ` +
          "or choose another port with --port",
      );
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      fail(
        permissionHint(error, `Not allowed to listen on ${where}`, `--allow-net=${config.host}`),
      );
    }
    fail(`Cannot listen on ${where}: ${error instanceof Error ? error.message : error}`);
  }
}

/** `--check`: verify the indexes before serving; rebuild them from the records if damaged. */
async function checkStore(store: ContactStore, log: Logger): Promise<void> {
  const report = await store.check();
  if (report.ok) {
    log.always(
      `Check passed: ${report.contacts} contacts, ${report.indexEntries} index entries agree`,
    );
    return;
  }
  for (const problem of report.problems) log.error(`Check: ${problem}`);
  log.warn(`Check found ${report.problems.length} problems; rebuilding the indexes`);
  await store.rebuildIndexes();
  const again = await store.check();
  if (!again.ok) fail(`The indexes are still damaged after a rebuild: ${again.problems[0]}`);
  log.always(`Indexes rebuilt: ${again.contacts} contacts, ${again.indexEntries} index entries`);
}

async function main(args: string[]): Promise<void> {
  let command;
  try {
    command = parseServerCommand(args, readEnv);
  } catch (error) {
    if (error instanceof ConfigError) {
      fail(`${error.message}\nRun with --help to see the options.`, 2);
    }
    throw error;
  }
  if (command.kind === "help") return console.log(serverHelp());
  if (command.kind === "version") return console.log(`addressbook server ${VERSION}`);
  const { config } = command;
  const log = createLogger(config.logLevel);
  const store = await openStore(config);
  if (store.openedLayout < LAYOUT_VERSION) {
    log.info(`Migrated the store from layout ${store.openedLayout} to ${LAYOUT_VERSION}`);
  }
  if (config.check) await checkStore(store, log);
  const server = listen(config, store, log);
  const address = config.host.includes(":")
    ? `[${server.addr.hostname}]:${server.addr.port}`
    : `${server.addr.hostname}:${server.addr.port}`;
  log.always(
    `addressbook ${VERSION} listening on ${address} (store ${config.db}, layout ${LAYOUT_VERSION}, ` +
      `protocol ${PROTOCOL_VERSION})`,
  );

  let stopping = false;
  const stop = async (signal: Deno.Signal) => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      Deno.exit(1);
    }
    stopping = true;
    log.always(`${signal}: shutting down; answering requests already read`);
    await server.shutdown();
    store.close();
    log.always("Stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
}

if (import.meta.main) await main(Deno.args);
