import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { argsErrorMessage } from "./args.ts";

function messageFor(args: string[], allowPositionals = true): string {
  try {
    parseArgs({
      args,
      options: { port: { type: "string" }, json: { type: "boolean" } },
      strict: true,
      allowPositionals,
    });
  } catch (error) {
    return argsErrorMessage(error);
  }
  throw new Error(`parseArgs accepted ${JSON.stringify(args)}`);
}

Deno.test("argsErrorMessage() says each parseArgs error in one sentence", () => {
  assert.equal(messageFor(["--frob"]), 'Unknown option "--frob"');
  assert.equal(messageFor(["--frob"], false), 'Unknown option "--frob"');
  assert.equal(messageFor(["-x"]), 'Unknown option "-x"');
  assert.equal(messageFor(["serve"], false), 'Unexpected argument "serve": only options are taken');
  assert.equal(messageFor(["--port"]), 'Option "--port" needs a value');
  assert.equal(messageFor(["--json=yes"]), 'Option "--json" takes no value');
  assert.equal(
    messageFor(["--port", "--json"]),
    'Option "--port" needs a value, and the next argument is an option; to give a value that ' +
      'starts with "-", write --port=VALUE',
  );
});

Deno.test("argsErrorMessage() passes other errors through", () => {
  assert.equal(argsErrorMessage(new RangeError("Port is out of range")), "Port is out of range");
  assert.equal(argsErrorMessage("plain"), "plain");
});
