/**
 * A real CardDAV client against a real server process: vdirsyncer (Debian package
 * `vdirsyncer`) discovers the book from the bare server URL and syncs it two ways with a
 * local folder (first sync, a change on each side, a conflict, a delete, a sync with
 * nothing changed that fetches no card), with the token as the password; khard (Debian
 * package `khard`) then reads the folder. Both configs are the README's.
 */
import assert from "node:assert/strict";
import { startDav, vcard } from "./dav_helpers.ts";
import { tempDir } from "./helpers.ts";

function has(tool: string): boolean {
  try {
    return new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const TOKEN = "write-token-0123456789";

async function run(
  command: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { LANG: "C.UTF-8", ...options.env },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(options.stdin ?? ""));
  await writer.close();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const output = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed:\n${text}`);
  return text;
}

/**
 * A config file as the README gives it (the ```ini block whose first line is `# <path>`),
 * with its home folder paths, server URL and token replaced for this test.
 */
async function readmeConfig(
  path: string,
  replace: Record<string, string>,
): Promise<string> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const match = new RegExp("```ini\\n\\s*# " + path.replaceAll(".", "\\.") + "\\n([\\s\\S]*?)```")
    .exec(readme);
  assert.ok(match, `README.md has no config block for ${path}`);
  let text = match[1]!.split("\n").map((line) => line.replace(/^ {2}/, "")).join("\n");
  for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
  return text;
}

Deno.test("vdirsyncer syncs the book two ways with a folder, and khard reads it", async () => {
  for (const tool of ["vdirsyncer", "khard"]) {
    if (!has(tool)) {
      console.log(`skipped: needs ${tool} (Debian package ${tool})`);
      return;
    }
  }
  await using dav = await startDav({
    args: ["--require-auth", "--log-level", "debug"],
    env: { ADDRESSBOOK_TOKEN: TOKEN },
  });
  await using dir = await tempDir();
  const config = `${dir.path}/vdirsyncer.conf`;
  const paths = {
    "~/.local/share/vdirsyncer/status/": `${dir.path}/status/`,
    "~/.local/share/contacts/": `${dir.path}/contacts/`,
  };
  await Deno.writeTextFile(
    config,
    await readmeConfig("~/.config/vdirsyncer/config", {
      ...paths,
      "https://bookserver.local:2008/": `${dav.url}/`,
      '"TOKEN"': `"${TOKEN}"`,
    }),
  );
  const vdirsyncer = (...args: string[]) =>
    run("vdirsyncer", ["-c", config, ...args], { stdin: "y\ny\ny\n" });
  const folder = `${dir.path}/contacts/shared`;
  const files = async () => {
    const names: string[] = [];
    for await (const entry of Deno.readDir(folder)) names.push(entry.name);
    return names.sort();
  };
  const read = async (name: string) => await Deno.readTextFile(`${folder}/${name}`);
  using client = await dav.server.connect();
  await client.result("auth", { token: TOKEN });
  const ann = await client.result("add", {
    contact: { name: "Ann Server", phones: [{ label: "mobile", number: "+1 555 0100" }] },
  });
  await client.result("add", { contact: { name: "Bob Server" } });

  // Discovery from the bare URL, then the first sync: both cards come down.
  const discovered = await vdirsyncer("discover", "addressbook");
  assert.match(discovered, /shared/);
  await vdirsyncer("sync");
  assert.equal((await files()).length, 2);

  // A change on each side: a card made locally goes up, an edit on the server comes down.
  await Deno.writeTextFile(
    `${folder}/local-1.vcf`,
    vcard(["UID:local-1", "FN:Carol Local", "EMAIL:carol@example.com"]),
  );
  await client.result("update", {
    id: ann.id,
    version: ann.version,
    contact: { ...ann, town: "Springfield" },
  });
  await vdirsyncer("sync");
  const carol = (await client.result("find", { name: "Carol Local" })).contacts;
  assert.equal(carol.length, 1, "the local card reached the server");
  assert.equal(carol[0].uid, "local-1");
  const annNow = await client.result("get", { id: ann.id });
  const annLocal = await Promise.all((await files()).map(read));
  assert.ok(annLocal.some((text) => /Springfield/.test(text)), "the server's edit came down");

  // A conflict: the same card edited on both sides; "b wins" keeps the server's.
  const annPath = (await Promise.all((await files()).map(async (n) => [n, await read(n)])))
    .find(([, text]) => text!.includes("Ann Server"))![0]!;
  await Deno.writeTextFile(
    `${folder}/${annPath}`,
    (await read(annPath)).replace("Springfield", "Shelbyville"),
  );
  await client.result("update", {
    id: ann.id,
    version: annNow.version,
    contact: { ...annNow, town: "Capital City" },
  });
  await vdirsyncer("sync");
  assert.match(await read(annPath), /Capital City/, "b (the server) wins the conflict");
  assert.equal((await client.result("get", { id: ann.id })).town, "Capital City");

  // A delete on the local side removes the card from the server.
  await Deno.remove(`${folder}/local-1.vcf`);
  await vdirsyncer("sync");
  assert.equal((await client.result("find", { name: "Carol Local" })).contacts.length, 0);

  // A sync with nothing changed fetches no card: only listings (PROPFIND), no GET, no REPORT.
  const before = dav.server.logs.length;
  await vdirsyncer("sync");
  const requests = dav.server.logs.slice(before).filter((l) => / HTTP \d+ from /.test(l));
  assert.ok(requests.length > 0, "vdirsyncer asked the server something");
  assert.deepEqual(
    requests.filter((l) => / (GET|REPORT|PUT|DELETE) /.test(l)),
    [],
    requests.join("\n"),
  );
  // After one change, one card is fetched.
  const bob = (await client.result("find", { name: "Bob Server" })).contacts[0];
  await client.result("update", {
    id: bob.id,
    version: bob.version,
    contact: { ...bob, notes: "hi" },
  });
  const mark = dav.server.logs.length;
  await vdirsyncer("sync");
  const fetched = dav.server.logs.slice(mark).filter((l) =>
    / HTTP \d+ from .* (GET|REPORT) /.test(l)
  );
  assert.equal(fetched.length, 1, fetched.join("\n"));

  // khard reads the folder vdirsyncer keeps.
  const khardConf = `${dir.path}/khard.conf`;
  await Deno.writeTextFile(
    khardConf,
    (await readmeConfig("~/.config/khard/khard.conf", paths)) +
      "editor = /bin/true\nmerge_editor = /bin/true\n",
  );
  const listed = await run("khard", ["-c", khardConf, "list"]);
  assert.match(listed, /Ann Server/);
  assert.match(listed, /Bob Server/);
  assert.doesNotMatch(listed, /Carol Local/);
});
