/**
 * The web page in a real browser (issue 13): Debian's headless `chromium` driven by
 * puppeteer-core (`tests/puppeteer_npm.ts`) against a real server process. A person's day:
 * search and open a card, add, edit, a conflicting edit from the TCP client while the page
 * edits, delete, a TCP client's change shown live, the XSS name shown as text, the
 * read-only token, an import upload and a download, the page at a phone's width. Screenshots of the main views go to
 * `dist/test-artifacts/web/` (not committed). Without chromium it prints
 * `skipped: needs chromium (Debian package chromium)`, which CI counts as a failure.
 *
 * @module
 */

import assert, { deepEqual as assertEquals } from "node:assert/strict";
import { startDav } from "./dav_helpers.ts";
import { tempDir } from "./helpers.ts";
import type { Browser, Page } from "./puppeteer_npm.ts";

const CHROMIUM = "/usr/bin/chromium";

/** What the callbacks run in chromium use of an element (they are type-checked without DOM). */
interface BrowserElement {
  textContent: string | null;
  hidden: boolean;
  value: string;
  parentElement: BrowserElement | null;
  click(): void;
}
/** The page's document, as those callbacks see it (a declaration only: it is chromium's). */
declare const document: {
  getElementById(id: string): BrowserElement | null;
  querySelector(selector: string): BrowserElement | null;
  querySelectorAll(selector: string): ArrayLike<BrowserElement> & Iterable<BrowserElement>;
  documentElement: { scrollWidth: number };
};
declare function getComputedStyle(element: BrowserElement): { display: string };
const SHOTS = new URL("../dist/test-artifacts/web/", import.meta.url);
/** Every wait for the page is bounded (a failure, not a measure). */
const WAIT = { timeout: 20_000 };
const XSS = `Eve <img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;

function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Headless chromium with a profile in a temp folder; disposing closes it and removes that. */
async function launch(): Promise<{ browser: Browser } & AsyncDisposable> {
  const { puppeteer } = await import("./puppeteer_npm.ts");
  const profile = await tempDir("chromium-");
  try {
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile.path,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"],
    });
    return {
      browser,
      async [Symbol.asyncDispose]() {
        await browser.close();
        await profile[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await profile[Symbol.asyncDispose]();
    throw error;
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname as `${string}.png` });
}

/** The names in the list, in order. */
function listNames(page: Page): Promise<string[]> {
  return page.$$eval("#list li .name", (items) => items.map((item) => item.textContent ?? ""));
}

/** Clicks the list entry with this exact name (after waiting for it). */
async function open(page: Page, name: string): Promise<void> {
  await page.waitForFunction(
    (wanted) =>
      [...document.querySelectorAll("#list li .name")].some((el) => el.textContent === wanted),
    WAIT,
    name,
  );
  await page.$$eval("#list li .name", (items, wanted) => {
    const item = items.find((el) => el.textContent === wanted);
    (item as unknown as BrowserElement | undefined)?.parentElement?.click();
  }, name);
  await page.waitForFunction(
    (wanted) => document.getElementById("card-name")?.textContent === wanted,
    WAIT,
    name,
  );
}

async function search(page: Page, query: string): Promise<void> {
  await page.$eval("#search", (el) => (el as unknown as BrowserElement).value = "");
  await page.type("#search", query);
}

Deno.test("the web page in chromium: search, card, add, edit, conflict, delete, live, XSS, phone", async () => {
  if (!hasChromium()) {
    console.log("skipped: needs chromium (Debian package chromium)");
    return;
  }
  await using dav = await startDav();
  await using tcp = await dav.server.connect();
  const ada = await tcp.result("add", {
    contact: {
      name: "Ada Lovelace",
      phones: [{ label: "home", number: "020 7946 0001" }],
      town: "London",
    },
  }) as { id: string; version: string };
  await tcp.result("add", { contact: { name: XSS } });
  for (let i = 0; i < 60; i++) {
    await tcp.result("add", { contact: { name: `Person ${String(i).padStart(2, "0")}` } });
  }
  await using chromium = await launch();
  const { browser } = chromium;
  {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(String(error)));
    page.on("requestfailed", (request) => problems.push(`failed: ${request.url()}`));
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.setViewport({ width: 1200, height: 800 });
    await page.goto(dav.url + "/", { waitUntil: "load" });

    // Browse: the first page in name order, then More.
    await page.waitForFunction(() => document.querySelectorAll("#list li").length === 50, WAIT);
    const first = await listNames(page);
    assertEquals(first[0], "Ada Lovelace");
    assertEquals(first[2], "Person 00");
    await page.click("#more");
    await page.waitForFunction(() => document.querySelectorAll("#list li").length === 62, WAIT);
    assert(await page.$eval("#more", (el) => (el as unknown as BrowserElement).hidden));
    await shot(page, "browse");

    // Search as you type, then the card.
    await search(page, "lov");
    await page.waitForFunction(() => document.querySelectorAll("#list li").length === 1, WAIT);
    await open(page, "Ada Lovelace");
    const rows = await page.$eval("#card-rows", (el) => el.textContent ?? "");
    assert(rows.includes("020 7946 0001") && rows.includes("London"), rows);
    await shot(page, "card");

    // A change from the TCP client shows without reloading.
    const moved = await tcp.result("update", {
      id: ada.id,
      version: ada.version,
      contact: {
        name: "Ada Lovelace",
        phones: [{ label: "home", number: "020 7946 0001" }],
        town: "Cambridge",
      },
    }) as { version: string };
    await page.waitForFunction(
      () => document.getElementById("card-rows")?.textContent?.includes("Cambridge"),
      WAIT,
    );
    await page.waitForFunction(
      () => document.querySelector("#list li .sub")?.textContent?.includes("Cambridge"),
      WAIT,
    );

    // Edit while the TCP client edits too: the conflict shows both, the page's choice wins.
    await page.click("#edit");
    await page.$eval('#editor [name="town"]', (el) => (el as unknown as BrowserElement).value = "");
    await page.type('#editor [name="town"]', "Oxford");
    await tcp.result("update", {
      id: ada.id,
      version: moved.version,
      contact: { name: "Ada Lovelace", town: "Bath", notes: "from the TCP client" },
    });
    await page.click('#editor button[type="submit"]');
    await page.waitForSelector("#conflict:not([hidden])", WAIT);
    const mine = await page.$eval("#conflict-mine", (el) => el.textContent ?? "");
    const theirs = await page.$eval("#conflict-theirs", (el) => el.textContent ?? "");
    assert(mine.includes("Oxford") && theirs.includes("Bath"), `${mine} | ${theirs}`);
    await shot(page, "conflict");
    await page.click("#keep-mine");
    await page.waitForFunction(
      () => document.getElementById("card-rows")?.textContent?.includes("Oxford"),
      WAIT,
    );
    const stored = await tcp.result("get", { id: ada.id }) as { town: string; notes: string };
    assertEquals(stored.town, "Oxford");

    // Add.
    await page.click("#add");
    await page.type('#editor [name="name"]', "Grace Hopper");
    await page.type('#editor [name="phones"]', "work: 0113 496 0000");
    await page.click('#editor button[type="submit"]');
    await page.waitForFunction(
      () => document.getElementById("card-name")?.textContent === "Grace Hopper",
      WAIT,
    );
    const graces = await tcp.result("search", { query: "grace" }) as {
      contacts: { phones: { label: string; number: string }[] }[];
    };
    assertEquals(graces.contacts.length, 1);
    assertEquals(graces.contacts[0]!.phones[0]!.label, "work");

    // Delete, confirmed.
    page.once("dialog", (dialog) => void dialog.accept());
    await page.click("#delete");
    await page.waitForFunction(() => document.getElementById("card")?.hidden === true, WAIT);
    assertEquals((await tcp.result("search", { query: "grace" }) as { contacts: [] }).contacts, []);

    // The hostile name is text: shown whole, nothing run, no element made of it.
    await search(page, "eve");
    await open(page, XSS);
    assertEquals(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);
    assertEquals(
      await page.$$eval("#list img, #card img, #list script, #card script", (e) => e.length),
      0,
    );

    // Upload a vCard file: the summary says what happened, the list shows the new one.
    await using folder = await tempDir("web-upload-");
    const file = `${folder.path}/friends.vcf`;
    await Deno.writeTextFile(
      file,
      "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Katherine Johnson\r\nTEL;TYPE=work:0113 496 0999\r\n" +
        "END:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nEND:VCARD\r\n",
    );
    const input = await page.$("#import");
    assert(input, "an upload input");
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(file);
    await page.waitForSelector("#import-summary:not([hidden])", WAIT);
    const counts = await page.$eval("#import-counts", (el) => el.textContent ?? "");
    assertEquals(counts, "friends.vcf: 1 added, 0 updated, 0 unchanged, 1 skipped");
    assertEquals(await page.$$eval("#import-skipped li", (items) => items.length), 1);
    await shot(page, "import");
    await page.click("#import-close");
    await search(page, "kath");
    await open(page, "Katherine Johnson");
    // Downloads: the page fetches the export and hands it to the browser as a file.
    await page.click("#export-vcf");
    await page.waitForFunction(
      () => document.getElementById("status")?.textContent === "Downloaded addressbook.vcf",
      WAIT,
    );

    // A phone's width: one pane at a time, Back to the list.
    await page.setViewport({ width: 375, height: 740, isMobile: true });
    await search(page, "person 1");
    await page.waitForFunction(() => document.querySelectorAll("#list li").length === 10, WAIT);
    await shot(page, "phone-list");
    await open(page, "Person 10");
    assertEquals(await page.$eval("#list-pane", (el) => getComputedStyle(el).display), "none");
    await shot(page, "phone-card");
    await page.click("#back");
    await page.waitForFunction(
      () => getComputedStyle(document.getElementById("list-pane")!).display !== "none",
      WAIT,
    );
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 375, `the page is ${width} px wide on a 375 px screen`);

    assertEquals(problems, []);
    const foreign = requests.filter((url) => !url.startsWith(dav.url));
    assertEquals(foreign, []);
  }
});

Deno.test("the web page in chromium asks a protected server's token once; read-only shows no edits", async () => {
  if (!hasChromium()) {
    console.log("skipped: needs chromium (Debian package chromium)");
    return;
  }
  const write = "write-token-0123456789";
  const read = "read-token-0123456789a";
  await using dav = await startDav({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: write, ADDRESSBOOK_READ_TOKEN: read },
  });
  await using tcp = await dav.server.connect();
  await tcp.result("auth", { token: write });
  await tcp.result("add", { contact: { name: "Ada Lovelace" } });
  await using chromium = await launch();
  const { browser } = chromium;
  {
    const page = await browser.newPage();
    const urls: string[] = [];
    page.on("request", (request) => urls.push(request.url()));
    await page.goto(dav.url + "/", { waitUntil: "load" });
    await page.waitForSelector("#login:not([hidden])", WAIT);
    await page.type("#token", "wrong-token-0123456789");
    await page.click('#login button[type="submit"]');
    await page.waitForFunction(
      () => /not valid/.test(document.getElementById("login-error")?.textContent ?? ""),
      WAIT,
    );
    await page.type("#token", read);
    await page.click('#login button[type="submit"]');
    await open(page, "Ada Lovelace");
    assert(await page.$eval("#add", (el) => (el as unknown as BrowserElement).hidden), "no Add");
    assert(await page.$eval("#edit", (el) => (el as unknown as BrowserElement).hidden), "no Edit");
    assert(
      await page.$eval("#delete", (el) => (el as unknown as BrowserElement).hidden),
      "no Delete",
    );
    assertEquals(
      await page.evaluate(() => sessionStorage.getItem("addressbook-token")),
      "read-token-0123456789a",
    );
    // A reload keeps the session's token: no second question.
    await page.reload({ waitUntil: "load" });
    await page.waitForFunction(() => document.querySelectorAll("#list li").length === 1, WAIT);
    assert(await page.$eval("#login", (el) => (el as unknown as BrowserElement).hidden));
    // The token never went into a URL or a cookie.
    assert(urls.every((url) => !url.includes(read) && !url.includes("token")), urls.join());
    assertEquals((await page.cookies()).length, 0);
    // The server refuses a write from the read-only page anyway.
    const refused = await page.evaluate(() =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket("ws://" + location.host + "/rpc");
        ws.onopen = () => {
          ws.send(JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "auth",
            params: { token: sessionStorage.getItem("addressbook-token") },
          }));
          ws.send(JSON.stringify({
            jsonrpc: "2.0",
            id: 2,
            method: "add",
            params: { contact: { name: "Mallory" } },
          }));
        };
        ws.onmessage = (event) => {
          const reply = JSON.parse(event.data);
          if (reply.id === 2) {
            resolve(reply.error?.data?.reason ?? "written");
            ws.close();
          }
        };
      })
    );
    assertEquals(refused, "UNAUTHORIZED");
    await shot(page, "read-only");
  }
});
